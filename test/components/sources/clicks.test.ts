/** The generator's clicks stream, and pipelines/ctr-local.yaml against a reference built from the same generators. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClickPicker,
  CLICK_DELAY_MS,
  ImpressionGenerator,
  type Click,
  type Impression,
} from '../../../src/components/sources/impressions.js';
import { impressionOptions, generatorDefaults } from '../../../src/components/sources/generator.js';
import { compilePipelineFile } from '../../../src/compiler/compile.js';
import { assemble, closeParts } from '../../../src/cli/assemble.js';
import { collectDeadLetters } from '../../../src/components/dead-letters/memory.js';
import { PipelineRun } from '../../../src/engine/pipeline-run.js';
import type { DeadLetter } from '../../../src/engine/records.js';
import type { ResultRow } from '../../../src/engine/rows.js';
import { silentLogger } from '../../../src/log.js';
import { groupBy } from '../../helpers/reference.js';
import { capturingSink } from '../../helpers/pipeline.js';

const MINUTE = 60_000;

function generated(count: number, seed: number): { impressions: Impression[]; clicks: Click[] } {
  const options = impressionOptions({ ...generatorDefaults, count, seed, jitter: '2s' });
  const shown = new ImpressionGenerator(options);
  const impressions = Array.from({ length: count }, () => shown.next());
  const walked = new ImpressionGenerator(options);
  const picker = new ClickPicker(seed, generatorDefaults.clickRatio);
  const clicks = Array.from({ length: count }, () => picker.clickOn(walked.next())).filter((c): c is Click => c !== undefined);
  return { impressions, clicks };
}

test('clicks are on impressions the same settings generate: about 2%, each once, 1 to 10 s later, same publisher, geo and cookie', () => {
  const { impressions, clicks } = generated(100_000, 7);
  const byTime = groupBy(impressions, (i) => `${i.timestamp}|${i.cookie}`);
  const clicked = new Set<string>();
  for (const click of clicks) {
    const id = `${click.impressionAt}|${click.cookie}`;
    const impression = byTime.get(id)?.[0];
    assert.ok(impression, `click on ${id} refers to no impression`);
    assert.deepEqual(
      [click.publisher, click.advertiser, click.website, click.geo],
      [impression.publisher, impression.advertiser, impression.website, impression.geo],
    );
    const delay = click.timestamp - click.impressionAt;
    assert.ok(delay >= CLICK_DELAY_MS.min && delay < CLICK_DELAY_MS.max, `delay ${delay}`);
    assert.ok(!clicked.has(id), `${id} clicked twice`);
    clicked.add(id);
  }
  assert.ok(clicks.length > 1800 && clicks.length < 2200, `${clicks.length} clicks on 100,000 impressions`);
  // picking clicks draws from a sequence of its own: the impressions walked are the impression stream itself
  assert.deepEqual(generated(1000, 7).impressions, impressions.slice(0, 1000));
});

test('pipelines/ctr-local.yaml counts the generated impressions and their clicks exactly, with their CTR', async () => {
  const compilation = compilePipelineFile('pipelines/ctr-local.yaml', {});
  const plan = compilation.plan!;
  assert.ok(plan, JSON.stringify(compilation.diagnostics));
  const rows: ResultRow[] = [];
  const deadLetters: DeadLetter[] = [];
  const sink = capturingSink(plan, rows);
  const signal = new AbortController().signal;
  const parts = await assemble(plan, silentLogger, signal, { sink, deadLetters: collectDeadLetters(deadLetters) });
  try {
    await new PipelineRun(plan, parts, silentLogger, signal).run();
  } finally {
    await closeParts(parts);
  }
  assert.deepEqual(deadLetters, []);

  const { impressions, clicks } = generated(200_000, 42);
  const key = (time: number, publisher: string, geo: string) =>
    `${new Date(Math.floor(time / MINUTE) * MINUTE).toISOString()}|${publisher}|${geo}`;
  const imps = groupBy(
    impressions.filter((i) => i.geo !== 'unknown'),
    (i) => key(i.timestamp, i.publisher, i.geo),
  );
  const clicked = groupBy(
    clicks.filter((c) => c.geo !== 'unknown'),
    (c) => key(c.timestamp, c.publisher, c.geo),
  );
  const keys = new Set([...imps.keys(), ...clicked.keys()]);
  assert.equal(rows.length, keys.size);
  let withClicks = 0;
  for (const row of rows) {
    const id = key((row.date as Date).getTime(), row.publisher as string, row.geo as string);
    const i = imps.get(id)?.length ?? 0;
    const c = clicked.get(id)?.length ?? 0;
    if (c > 0) withClicks++;
    assert.deepEqual([row.imps, row.clicks, row.ctr], [i, c, i === 0 ? null : c / i], id);
    // the sparse HyperLogLog: exact unless two cookies share a hash prefix (a few thousand per minute here)
    const exact = new Set(imps.get(id)?.map((x) => x.cookie)).size;
    const uniques = row.uniques as number;
    assert.ok(uniques <= exact && uniques >= exact * 0.995, `${id}: uniques ${uniques}, exactly ${exact}`);
  }
  assert.ok(withClicks > 100, `${withClicks} rows with clicks`);
});

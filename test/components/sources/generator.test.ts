/**
 * The generator's knobs for benchmark shapes, through the same YAML -> schema -> factory path a
 * pipeline takes: how many group keys a window sees, and how much event time the records cover.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileLoaded } from '../../../src/compiler/compile.js';
import { parsePipelineText } from '../../../src/config/load.js';
import { generatorSource } from '../../../src/components/sources/generator.js';
import type { Impression } from '../../../src/components/sources/impressions.js';
import { silentLogger } from '../../../src/log.js';
import { compileText, pipelineWith } from '../../helpers/pipeline.js';

/** Every record a `generator:` block gives, in order. */
async function generate(generatorYaml: string): Promise<Impression[]> {
  const plan = compileText(pipelineWith('source', generatorYaml).replace('aggregate:', 'time:\n  field: timestamp\naggregate:'));
  const source = await generatorSource.create(plan.sources[0].config as Parameters<typeof generatorSource.create>[0], {
    plan,
    logger: silentLogger,
    cwd: process.cwd(),
    signal: new AbortController().signal,
  });
  const records: Impression[] = [];
  for (let chunks = await source.next(100_000, 0); chunks !== null; chunks = await source.next(100_000, 0)) {
    for (const chunk of chunks) records.push(...(chunk.payloads as Impression[]));
  }
  await source.close();
  return records;
}

const HOUR = 3_600_000;
const START = Date.parse('2026-01-01T00:00:00Z');

test('1,000 uniform publishers x 10 geos: exactly 10,000 resolved (publisher, geo) keys, each geo one of the first 10', async () => {
  const records = await generate('generator:\n  count: 200000\n  publishers: 1000\n  geos: 10\n  skewed: false\n');
  const resolved = records.filter((r) => r.geo !== 'unknown');
  assert.equal(new Set(resolved.map((r) => `${r.publisher}|${r.geo}`)).size, 10_000);
  assert.deepEqual([...new Set(resolved.map((r) => r.geo))].sort(), ['AU', 'BR', 'CA', 'DE', 'FR', 'GB', 'IN', 'JP', 'US', 'ES'].sort());
  // uniform: no publisher gets more than twice its share (skewed, publisher_1 gets several times it)
  const perPublisher = new Map<string, number>();
  for (const r of records) perPublisher.set(r.publisher, (perPublisher.get(r.publisher) ?? 0) + 1);
  assert.equal(perPublisher.size, 1000);
  assert.ok(Math.max(...perPublisher.values()) < (2 * records.length) / 1000);
});

test('the defaults: 6 skewed publishers x 12 geos = 72 keys, publisher_1 the busiest', async () => {
  const records = await generate('generator:\n  count: 20000\n');
  const resolved = records.filter((r) => r.geo !== 'unknown');
  assert.equal(new Set(resolved.map((r) => `${r.publisher}|${r.geo}`)).size, 72);
  const ones = records.filter((r) => r.publisher === 'publisher_1').length;
  const sixes = records.filter((r) => r.publisher === 'publisher_6').length;
  assert.ok(ones > 5 * sixes, `publisher_1 ${ones}, publisher_6 ${sixes}`);
});

test('span: the records cover exactly the span of event time, evenly, whatever eventsPerSecond says', async () => {
  const count = 86_400;
  const records = await generate(`generator:\n  count: ${count}\n  span: 24h\n  eventsPerSecond: 400000\n`);
  assert.equal(records.length, count);
  assert.equal(records[0].timestamp, START);
  // one record per second of event time: record i at START + i s, the last one second before the span ends
  assert.ok(records.every((r, i) => r.timestamp === START + i * 1000));
  assert.equal(records.at(-1)!.timestamp, START + 24 * HOUR - 1000);
  assert.equal(new Set(records.map((r) => Math.floor((r.timestamp - START) / 60_000))).size, 24 * 60);
});

test('span without count is a located lint error; a zero span is refused', () => {
  const spanOnly = compileLoaded(parsePipelineText('test.yaml', pipelineWith('source', 'generator:\n  span: 24h\n'), {}));
  assert.equal(spanOnly.plan, undefined);
  assert.ok(spanOnly.diagnostics.some((d) => d.message.includes('span needs count')));
  const zero = compileLoaded(parsePipelineText('test.yaml', pipelineWith('source', 'generator:\n  count: 10\n  span: 0s\n'), {}));
  assert.equal(zero.plan, undefined);
});

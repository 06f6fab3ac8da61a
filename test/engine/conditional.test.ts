/** `where:` on aggregates and derived outputs (`{ expression }`), against a plain reference computation. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileText, runScripted } from '../helpers/pipeline.js';
import { exactSum, groupBy, seededRandom } from '../helpers/reference.js';
import { parsePipelineText } from '../../src/config/load.js';
import { compileLoaded } from '../../src/compiler/compile.js';
import type { Chunk } from '../../src/engine/records.js';

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

interface Event {
  timestamp: number;
  kind: 'imp' | 'click';
  publisher: string;
  /** Impressions carry a bid; clicks carry text there, which `where` keeps from the bid aggregates. */
  bid: number | string;
}

/** Impressions and about 3% clicks on 3 publishers; publisher_3 only clicks, so its windows have no impressions. */
function randomEvents(seed: number, n: number): Event[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const publisher = `publisher_${1 + Math.floor(r() * 3)}`;
    const kind = publisher === 'publisher_3' ? (r() < 0.05 ? 'click' : null) : r() < 0.03 ? 'click' : 'imp';
    return kind && { timestamp: T0 + i * 53, kind, publisher, bid: kind === 'imp' ? Math.floor(1 + r() * 999_999) / 1e6 : 'n/a' };
  }).filter((e): e is Event => e !== null);
}

const PIPELINE = `
name: conditional
source: { stdin: {} }
batch: { maxRecords: 1000 }
time: { field: timestamp, format: epochMillis }
window: { tumbling: 1m }
groupBy: [publisher]
aggregate:
  imps: { count: true, where: 'kind = "imp"' }
  clicks: { count: true, where: 'kind = "click"' }
  events: count
  spend: { sum: bid, where: 'kind = "imp"' }
  ctr: { expression: clicks / imps }
  percent: { expression: ctr * 100 }
  cpm: { expression: 'spend / imps * 1000' }
sink: { console: {} }
`;

test('conditional aggregates count only their records; derived outputs are computed from the row, null without a finite value', async () => {
  const events = randomEvents(11, 12_000);
  const plan = compileText(PIPELINE);
  // as parsed values, and as lines of text: those go through the decoder of the fields the plan reads
  const parsed: Chunk[][] = [];
  const lines: Chunk[][] = [];
  for (let i = 0; i < events.length; i += 991) {
    const slice = events.slice(i, i + 991);
    const offsets = slice.map((_, j) => i + j);
    parsed.push([{ partition: 'p0', offsets, payloads: slice.map((e) => JSON.stringify(e)) }]);
    const texts = slice.map((e) => `${JSON.stringify(e)}\n`);
    const starts = texts.map((_, j) => texts.slice(0, j).reduce((n, t) => n + Buffer.byteLength(t), 0));
    const bytes = Buffer.from(texts.join(''));
    lines.push([
      {
        partition: 'p0',
        offsets,
        payloads: [],
        lines: { bytes, starts, ends: starts.map((at, j) => at + Buffer.byteLength(texts[j]) - 1) },
      },
    ]);
  }
  const { rows, deadLetters } = await runScripted(plan, parsed);
  assert.deepEqual(deadLetters, [], 'no click is checked against the bid aggregate');
  assert.deepEqual((await runScripted(plan, lines)).rows, rows, 'lines give the same rows');
  const expected = groupBy(events, (e) => JSON.stringify([Math.floor(e.timestamp / MINUTE) * MINUTE, e.publisher]));
  assert.equal(rows.length, expected.size);
  let withoutImps = 0;
  for (const row of rows) {
    const id = JSON.stringify([(row.windowStart as Date).getTime(), row.publisher]);
    const group = expected.get(id)!;
    const imps = group.filter((e) => e.kind === 'imp');
    const clicks = group.filter((e) => e.kind === 'click').length;
    const spend = exactSum(imps.map((e) => e.bid as number));
    assert.equal(row.imps, imps.length, id);
    assert.equal(row.clicks, clicks, id);
    assert.equal(row.events, group.length, id);
    assert.equal(row.spend, spend, id);
    if (imps.length === 0) {
      withoutImps++;
      assert.deepEqual([row.ctr, row.percent, row.cpm], [null, null, null], `${id}: no impressions, no ratio`);
    } else {
      assert.equal(row.ctr, clicks / imps.length, id);
      assert.equal(row.percent, (clicks / imps.length) * 100, id);
      assert.equal(row.cpm, (spend / imps.length) * 1000, id);
    }
  }
  assert.ok(withoutImps > 10, `windows with clicks and no impressions: ${withoutImps}`);
});

/** Each diagnostic as `code: message`, and the text where it points. */
function diagnosticsOf(aggregate: string): [string, string][] {
  const yaml = `name: t\nsource: { stdin: {} }\nwindow: { tumbling: 1m }\ngroupBy: [publisher]\naggregate:\n${aggregate}\nsink: { console: {} }\n`;
  return compileLoaded(parsePipelineText('t.yaml', yaml, {})).diagnostics.map((d) => [
    `${d.code}: ${d.message}`,
    yaml.slice(d.range![0], d.range![0] + 13),
  ]);
}

test('a derived output names outputs declared before it, in the translated subset', () => {
  assert.deepEqual(diagnosticsOf('  imps: count\n  ctr: { expression: clicks / imps }'), [
    ['unknown-name: `clicks` is not an output or group key of this pipeline', 'clicks / imps'],
  ]);
  // aggregates are all computed before any derived output: their order does not matter
  assert.deepEqual(diagnosticsOf('  imps: count\n  ctr: { expression: clicks / imps }\n  clicks: count'), []);
  assert.deepEqual(diagnosticsOf('  imps: count\n  pct: { expression: ctr * 100 }\n  ctr: { expression: imps / 2 }'), [
    ['unknown-name: `ctr` is declared after `pct`', 'ctr * 100 }\n '],
  ]);
  assert.deepEqual(diagnosticsOf("  imps: count\n  top: { expression: '$sort([imps])' }"), [
    ['expression-not-allowed: derived output `top` uses more than arithmetic, comparisons and the basic functions', "'$sort([imps]"],
  ]);
  assert.deepEqual(diagnosticsOf('  imps: count\n  share: { expression: imps / 2 }\n  half: { expression: share & publisher }'), []);
  assert.deepEqual(diagnosticsOf('  imps: { count: true, where: kind = }'), [
    ['expression-syntax: invalid expression in `aggregate.imps.where`: Unexpected end of expression', ' }\nsink: { co'],
  ]);
  // an expression cut off at the end of the file: the error points into the text, at its last character
  const cut =
    'name: t\nsource: { stdin: {} }\nwindow: { tumbling: 1m }\nsink: { console: {} }\naggregate:\n  imps:\n    count: true\n    where: $source =';
  const [cutOff] = compileLoaded(parsePipelineText('t.yaml', cut, {})).diagnostics;
  assert.equal(cutOff.message, 'invalid expression in `aggregate.imps.where`: Unexpected end of expression');
  assert.deepEqual(cutOff.range, [cut.length - 1, cut.length]);
});

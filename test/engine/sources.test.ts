/** `sources:`: several sources read side by side, each with its own filter, fields and event time, `$source` in expressions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonical, compileText, diagnosticsOf, runFrom, ScriptedSource } from '../helpers/pipeline.js';
import { groupBy, seededRandom } from '../helpers/reference.js';
import { UnionSource } from '../../src/engine/union-source.js';
import type { Chunk } from '../../src/engine/records.js';
import { RunnelError } from '../../src/errors.js';

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

const PIPELINE = `
name: ctr
sources:
  impressions:
    stdin: {}
    filter: geo != "unknown"
  clicks:
    file: { path: clicks.jsonl }
    time: { field: clickedAt, format: iso8601 }
    fields: { geo: $uppercase(country) }
time: { field: timestamp, format: epochMillis, maxOutOfOrder: 1h }
window: { tumbling: 1m }
groupBy: [publisher, geo]
aggregate:
  imps: { count: true, where: $source = "impressions" }
  clicks: { count: true, where: $source = "clicks" }
  events: count
  ctr: { expression: clicks / imps }
sink: { console: {} }
`;

interface Impression {
  timestamp: number;
  publisher: string;
  geo: string;
}
interface Click {
  clickedAt: string;
  publisher: string;
  country: string;
}

/** Impressions on two partitions, 2% of them clicked a few seconds later (clicks name the geo `country`, in lower case). */
function data(seed: number, n: number): { imps: Impression[]; clicks: Click[] } {
  const r = seededRandom(seed);
  const imps = Array.from({ length: n }, (_, i) => ({
    timestamp: T0 + i * 97,
    publisher: `publisher_${1 + Math.floor(r() * 3)}`,
    geo: r() < 0.05 ? 'unknown' : ['US', 'CA', 'GB'][Math.floor(r() * 3)],
  }));
  const clicks = imps
    .filter((i) => i.geo !== 'unknown' && r() < 0.02)
    .map((i) => ({
      clickedAt: new Date(i.timestamp + Math.floor(r() * 5000)).toISOString(),
      publisher: i.publisher,
      country: i.geo.toLowerCase(),
    }));
  return { imps, clicks };
}

function chunks<T>(partition: string, records: T[], size: number, from = 0): Chunk[][] {
  const out: Chunk[][] = [];
  for (let i = 0; i < records.length; i += size) {
    const slice = records.slice(i, i + size);
    out.push([{ partition, offsets: slice.map((_, j) => from + i + j), payloads: slice.map((x) => JSON.stringify(x)) }]);
  }
  return out;
}

/** The rows of PIPELINE over these records, computed here. */
function expectedRows(imps: Impression[], clicks: Click[]): Record<string, unknown>[] {
  const key = (time: number, publisher: string, geo: string) => JSON.stringify([Math.floor(time / MINUTE) * MINUTE, publisher, geo]);
  const kept = imps.filter((i) => i.geo !== 'unknown');
  const impsBy = groupBy(kept, (i) => key(i.timestamp, i.publisher, i.geo));
  const clicksBy = groupBy(clicks, (c) => key(Date.parse(c.clickedAt), c.publisher, c.country.toUpperCase()));
  const keys = new Set([...impsBy.keys(), ...clicksBy.keys()]);
  return [...keys].map((k) => {
    const [start, publisher, geo] = JSON.parse(k) as [number, string, string];
    const i = impsBy.get(k)?.length ?? 0;
    const c = clicksBy.get(k)?.length ?? 0;
    return {
      windowStart: new Date(start),
      windowEnd: new Date(start + MINUTE),
      publisher,
      geo,
      imps: i,
      clicks: c,
      events: i + c,
      ctr: i === 0 ? null : c / i,
    };
  });
}

test('two sources: each applies its own filter, fields and event time; $source tells their records apart; rows equal a reference', async () => {
  const { imps, clicks } = data(5, 20_000);
  const plan = compileText(PIPELINE);
  const half = imps.length / 2;
  const impressions = new ScriptedSource([...chunks('imps/0', imps.slice(0, half), 700), ...chunks('imps/1', imps.slice(half), 900)]);
  const clickSource = new ScriptedSource(chunks('clicks.jsonl', clicks, 37));
  const { rows, deadLetters } = await runFrom(plan, new UnionSource([impressions, clickSource], ['impressions', 'clicks']));
  assert.deepEqual(deadLetters, []);
  assert.ok(clicks.length > 300, `${clicks.length} clicks`);
  assert.deepEqual(canonical(rows), canonical(expectedRows(imps, clicks)));
  // each source is committed its own partitions only, up to the last offset
  assert.deepEqual(Object.fromEntries(impressions.committed), { 'imps/0': half - 1, 'imps/1': half - 1 });
  assert.deepEqual(Object.fromEntries(clickSource.committed), { 'clicks.jsonl': clicks.length - 1 });
});

test('one runtime reading two sources (a Kafka consumer of both topics): each chunk goes to the source of its partition, rows equal a reference', async () => {
  const { imps, clicks } = data(6, 12_000);
  const plan = compileText(PIPELINE);
  const impChunks = chunks('imps/0', imps, 500);
  const clickChunks = chunks('clicks/0', clicks, 11);
  // interleaved as one consumer hands over partitions of both topics, sometimes in one call
  const script: Chunk[][] = [];
  for (let i = 0; i < Math.max(impChunks.length, clickChunks.length); i++)
    script.push([...(impChunks[i] ?? []), ...(clickChunks[i] ?? [])]);
  const consumer = new ScriptedSource(script);
  const sourceOf = (runtime: number, partition: string) => (partition.startsWith('clicks/') ? 1 : 0);
  const { rows, deadLetters } = await runFrom(plan, new UnionSource([consumer], ['impressions', 'clicks'], sourceOf));
  assert.deepEqual(deadLetters, []);
  assert.deepEqual(canonical(rows), canonical(expectedRows(imps, clicks)));
  assert.deepEqual(Object.fromEntries(consumer.committed), { 'imps/0': imps.length - 1, 'clicks/0': clicks.length - 1 });
});

test('two sources that hand over the same partition stop the run with a message naming both', async () => {
  const plan = compileText(PIPELINE);
  const record = [{ timestamp: T0, publisher: 'p', geo: 'US' }];
  const a = new ScriptedSource(chunks('same/0', record, 1));
  const b = new ScriptedSource(chunks('same/0', record, 1, 1));
  await assert.rejects(
    runFrom(plan, new UnionSource([a, b], ['impressions', 'clicks'])),
    (error: unknown) =>
      error instanceof RunnelError && /sources `impressions` and `clicks` both hand over partition "same\/0"/.test(error.message),
  );
});

const REST = 'window: { tumbling: 1m }\naggregate: { n: count }\nsink: { console: {} }\n';

test('the compiler refuses both forms, neither, two sources of one topic or file, and a source time without the pipeline time', () => {
  assert.deepEqual(diagnosticsOf(`name: t\nsource: { stdin: {} }\nsources: { a: { stdin: {} } }\n${REST}`), [
    'conflict: a pipeline has `source:` or `sources:`, not both',
  ]);
  assert.deepEqual(diagnosticsOf(`name: t\n${REST}`), [
    'missing-key: a pipeline needs `source:` (one source) or `sources:` (several, by name)',
  ]);
  const kafka = (topics: string, group: string) => `{ kafka: { brokers: b:9092, topics: ${topics}, group: ${group} } }`;
  assert.deepEqual(diagnosticsOf(`name: t\nsources:\n  a: ${kafka('[x, y]', 'g1')}\n  b: ${kafka('y', 'g2')}\n${REST}`), [
    'conflict: sources `a` and `b` both use Kafka topic `y`: its records would be counted twice',
  ]);
  // one group: one consumer reads both, so they must agree on all but their topics
  assert.deepEqual(diagnosticsOf(`name: t\nsources:\n  a: ${kafka('x', 'g')}\n  b: ${kafka('y', 'g')}\n${REST}`), []);
  assert.deepEqual(
    diagnosticsOf(
      `name: t\nsources:\n  a: ${kafka('x', 'g')}\n  b: { kafka: { brokers: c:9092, topics: y, group: g, start: latest } }\n${REST}`,
    ),
    ['conflict: sources `a`, `b` share consumer group `g`: one consumer reads them, and their `brokers`, `start` differ'],
  );
  assert.deepEqual(diagnosticsOf(`name: t\nsources:\n  a: { file: { path: f.jsonl } }\n  b: { file: { path: f.jsonl } }\n${REST}`), [
    'conflict: sources `a` and `b` both use the file `f.jsonl`: its records would be counted twice',
  ]);
  assert.deepEqual(diagnosticsOf(`name: t\nsources:\n  a: { stdin: {}, time: { field: ts } }\n${REST}`), [
    'conflict: source `a` reads its own event time, but the pipeline has no `time:`',
  ]);
  assert.deepEqual(diagnosticsOf(`name: t\nsources:\n  a: { stdin: {} }\n  b: { generator: {} }\n${REST}`), []);
  // a name that is no name is checked like any other (it was let through, and the compiler crashed: the fuzz test found it)
  assert.deepEqual(diagnosticsOf(`name: t\nsources:\n  "": { stdin: {} }\n${REST}`), [
    'invalid-value: `` is not a valid name in `sources`',
  ]);
  assert.deepEqual(diagnosticsOf(`name: t\nsources:\n  a-b: { stdin: {} }\n${REST}`), [
    'invalid-value: `a-b` is not a valid name in `sources`',
  ]);
});

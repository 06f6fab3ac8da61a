import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getAggregationKind } from '../../src/components/aggregations/index.js';
import type { Plan } from '../../src/engine/plan.js';
import { MemoryStore } from '../../src/engine/memory-store.js';
import { PipelineRun } from '../../src/engine/pipeline-run.js';
import type { Chunk, DeadLetter } from '../../src/engine/records.js';
import type { SinkRuntime } from '../../src/engine/runtime.js';
import type { StateDoc } from '../../src/engine/store.js';
import { silentLogger } from '../../src/log.js';
import { compileText, ScriptedSource } from '../helpers/pipeline.js';
import { exactSum, groupBy, seededRandom } from '../helpers/reference.js';
import { collectDeadLetters } from '../../src/components/dead-letters/memory.js';

const T0 = Date.UTC(2026, 0, 1, 22);
const HOUR = 3_600_000;
const DAY = 86_400_000;

interface Impression {
  timestamp: number;
  publisher: string;
  geo: string;
  bid: number;
  cookie: string;
}

/** About 3 hours of impressions across midnight (so two days), three partitions. */
function impressions(seed: number, n: number): Impression[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => ({
    timestamp: T0 + Math.floor((i * 3 * HOUR) / n) - Math.floor(r() * 3000),
    publisher: `publisher_${1 + Math.floor(r() * 3)}`,
    geo: ['US', 'CA'][Math.floor(r() * 2)],
    bid: Math.floor(1 + r() * 999_999) / 1e6,
    cookie: `cookie_${Math.floor(r() * 3000)}`,
  }));
}

const PIPELINE = `
name: rollups
source: { stdin: {} }
batch: { maxRecords: 700 }
time: { field: timestamp, format: epochMillis, maxOutOfOrder: 5s, allowedLateness: 1m }
window: { tumbling: 1m, rollups: [1h, 1d] }
groupBy: [publisher, geo]
aggregate:
  imps: count
  uniques: { approxDistinct: cookie }
  avgBid: { avg: bid }
  total: { sum: bid }
  hi: { max: bid }
sink: { console: {} }
`;

/** A sink that keeps every level's documents (as MongoDB would), never evicting. */
class KeepingSink implements SinkRuntime {
  readonly store = new MemoryStore();
  readonly rollups;
  constructor(plan: Plan) {
    this.rollups = plan.window.rollups.map((sizeMs) => ({ sizeMs, label: `${sizeMs}`, store: new MemoryStore() }));
  }
  async afterBatch(): Promise<void> {}
  async close(): Promise<void> {}
}

function chunksOf(records: Impression[], partitions: number, size: number, from = 0): Chunk[][] {
  const byPartition: { offset: number; record: Impression }[][] = Array.from({ length: partitions }, () => []);
  records.forEach((record, i) => byPartition[i % partitions].push({ offset: Math.floor(i / partitions), record }));
  const script: Chunk[][] = [];
  for (let start = from; ; start += size) {
    const step: Chunk[] = [];
    byPartition.forEach((list, p) => {
      const slice = list.filter((e) => e.offset >= start && e.offset < start + size);
      if (slice.length > 0)
        step.push({ partition: `p${p}`, offsets: slice.map((e) => e.offset), payloads: slice.map((e) => JSON.stringify(e.record)) });
    });
    if (step.length === 0) break;
    script.push(step);
  }
  return script;
}

async function run(plan: Plan, sink: KeepingSink, script: Chunk[][]): Promise<void> {
  const deadLetters: DeadLetter[] = [];
  const parts = {
    source: new ScriptedSource(script),
    sink,
    deadLetters: collectDeadLetters(deadLetters),
  };
  await new PipelineRun(plan, parts, silentLogger, new AbortController().signal).run();
  assert.deepEqual(deadLetters, []);
}

function allDocs(store: MemoryStore): Promise<StateDoc[]> {
  return Promise.resolve(store.takeWindowsEndingBy(Infinity));
}

/** Each level's documents equal a reference computed from the raw records of each whole period. */
function assertLevel(plan: Plan, docs: StateDoc[], records: Impression[], sizeMs: number): void {
  const expected = groupBy(records, (r) => `${Math.floor(r.timestamp / sizeMs) * sizeMs}|${JSON.stringify([r.publisher, r.geo])}`);
  assert.equal(docs.length, expected.size, `one document per ${sizeMs} ms window and key`);
  const hll = getAggregationKind('approxDistinct')!;
  for (const doc of docs) {
    const id = `${doc.windowStart}|${JSON.stringify(doc.key)}`;
    const group = expected.get(id);
    assert.ok(group, `unexpected document ${id}`);
    assert.equal(doc.windowEnd - doc.windowStart, sizeMs);
    const state = (name: string) => {
      const i = plan.aggregates.findIndex((a) => a.name === name);
      return doc.live![i];
    };
    assert.equal(state('imps').result(), group.length, id);
    assert.equal(state('total').result(), exactSum(group.map((r) => r.bid)), id);
    assert.ok(Math.abs((state('avgBid').result() as number) - exactSum(group.map((r) => r.bid)) / group.length) < 1e-12, id);
    assert.equal(state('hi').result(), Math.max(...group.map((r) => r.bid)), id);
    const direct = hll.create({});
    for (const r of group) direct.add(r.cookie, r.timestamp);
    assert.deepEqual(state('uniques').serialize(), direct.serialize(), `${id}: HLL registers equal an HLL of the whole period`);
    assert.equal(state('uniques').result(), direct.result(), id);
  }
}

test('rollup levels equal a reference built from the records of each whole hour and day', async () => {
  const plan = compileText(PIPELINE);
  assert.deepEqual(plan.window.rollups, [HOUR, DAY]);
  const records = impressions(3, 12_000);
  const sink = new KeepingSink(plan);
  await run(plan, sink, chunksOf(records, 3, 400));
  assertLevel(plan, await allDocs(sink.store), records, 60_000);
  assertLevel(plan, await allDocs(sink.rollups[0].store), records, HOUR);
  assertLevel(plan, await allDocs(sink.rollups[1].store), records, DAY);
});

test('a replay cut into different batches counts nothing twice in any level', async () => {
  const plan = compileText(PIPELINE);
  const records = impressions(5, 6_000);
  const sink = new KeepingSink(plan);
  // a first run stores the first half, then "crashes" before committing (the replay starts at 0)
  const script = chunksOf(records, 3, 250);
  await run(plan, sink, script.slice(0, Math.ceil(script.length / 2)));
  // the restart reads everything again, in batches of another size: records at or below the fence go record by record
  await run(plan, sink, chunksOf(records, 3, 333));
  assertLevel(plan, await allDocs(sink.store), records, 60_000);
  assertLevel(plan, await allDocs(sink.rollups[0].store), records, HOUR);
  assertLevel(plan, await allDocs(sink.rollups[1].store), records, DAY);
});

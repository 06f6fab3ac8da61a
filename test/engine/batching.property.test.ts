import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Chunk } from '../../src/engine/records.js';
import { canonical, compileText, runScripted } from '../helpers/pipeline.js';

const T0 = Date.UTC(2026, 0, 1);

// maxRecords: 1 makes every scripted step its own batch, so the script decides the batch boundaries.
const PIPELINE = `
name: split
source: { stdin: {} }
batch: { maxRecords: 1 }
time: { field: t, maxOutOfOrder: 1m, allowedLateness: 1h }
window: { sliding: { size: 2m, every: 1m } }
groupBy: [k]
aggregate:
  n: count
  s: { sum: v }
  a: { avg: v }
  lo: { min: v }
  hi: { max: v }
  d: { distinct: c }
  u: { approxDistinct: c }
  f: { first: v }
  l: { last: v }
  q: { quantile: v, q: 0.9 }
sink: { console: {} }
`;

const record = fc.record({
  t: fc.integer({ min: 0, max: 5 * 60_000 }).map((ms) => T0 + ms),
  k: fc.constantFrom('a', 'b', 'c'),
  v: fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -100, max: 100 })),
  c: fc.string({ maxLength: 3 }),
});

/**
 * Deals records to partitions (keeping each partition's order), cuts each partition into chunks,
 * and interleaves the partitions' chunks in an order chosen by `cuts`, each partition's in order.
 */
function script(records: { t: number }[], partitionOf: number[], cuts: number[]): Chunk[][] {
  const partitions = new Map<string, { offsets: number[]; payloads: string[] }>();
  records.forEach((r, i) => {
    const p = `p${partitionOf[i % partitionOf.length]}`;
    if (!partitions.has(p)) partitions.set(p, { offsets: [], payloads: [] });
    const part = partitions.get(p)!;
    part.offsets.push(part.offsets.length * 10 + 5);
    part.payloads.push(JSON.stringify(r));
  });
  const queues: Chunk[][] = [];
  let cut = 0;
  for (const [partition, { offsets, payloads }] of partitions) {
    const queue: Chunk[] = [];
    for (let i = 0; i < offsets.length;) {
      const size = 1 + (cuts[cut++ % cuts.length] % 7);
      queue.push({ partition, offsets: offsets.slice(i, i + size), payloads: payloads.slice(i, i + size) });
      i += size;
    }
    queues.push(queue);
  }
  const steps: Chunk[][] = [];
  for (let pick = 0; queues.some((q) => q.length > 0); pick++) {
    const open = queues.filter((q) => q.length > 0);
    steps.push([open[cuts[pick % cuts.length] % open.length].shift()!]);
  }
  return steps;
}

test('any split into batches and partitions, merged in any order, gives identical rows', async () => {
  const plan = compileText(PIPELINE);
  await fc.assert(
    fc.asyncProperty(
      fc.array(record, { minLength: 1, maxLength: 120 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 10 }),
      async (records, partitionOf, cuts) => {
        const whole = await runScripted(plan, [
          [{ partition: 'p0', offsets: records.map((_, i) => i), payloads: records.map((r) => JSON.stringify(r)) }],
        ]);
        const split = await runScripted(plan, script(records, partitionOf, cuts));
        assert.deepEqual(whole.deadLetters, []);
        assert.deepEqual(split.deadLetters, []);
        assert.deepEqual(canonical(split.rows), canonical(whole.rows));
      },
    ),
    { numRuns: 150 },
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileText, runScripted } from '../helpers/pipeline.js';
import { seededRandom } from '../helpers/reference.js';

const T0 = Date.UTC(2026, 0, 1);
const SECOND = 1000;

function pipeline(window: string, time = 'maxOutOfOrder: 10s, allowedLateness: 30s'): string {
  return `
name: times
source: { stdin: {} }
time: { field: ts, ${time} }
window: ${window}
aggregate:
  n: count
sink: { console: {} }
`;
}

function chunk(records: object[], firstOffset = 0) {
  return [{ partition: 'p', offsets: records.map((_, i) => firstOffset + i), payloads: records.map((r) => JSON.stringify(r)) }];
}

test('out-of-order records within the allowed delay and lateness are counted; later ones are dead-lettered', async () => {
  const plan = compileText(pipeline('{ tumbling: 1m }'));
  const records = [
    { ts: T0 + 100 * SECOND },
    { ts: T0 + 95 * SECOND }, // behind by 5 s: within maxOutOfOrder
    { ts: T0 + 65 * SECOND }, // 35 s behind, watermark 90 s: 25 s late, within the 30 s lateness
    { ts: T0 + 59 * SECOND }, // watermark 90 s - 30 s = 60 s: late
    { ts: T0 + 200 * SECOND },
    { ts: T0 + 155 * SECOND }, // watermark 190 s - 30 s = 160 s: late
    { ts: T0 + 161 * SECOND },
  ];
  const { rows, deadLetters } = await runScripted(plan, [chunk(records)]);
  assert.deepEqual(
    deadLetters.map((d) => [d.reason, d.offset]),
    [
      ['late', 3],
      ['late', 5],
    ],
  );
  assert.deepEqual(
    rows.map((r) => [(r.windowStart as Date).getTime() - T0, r.n]),
    [
      [60 * SECOND, 3],
      [120 * SECOND, 1],
      [180 * SECOND, 1],
    ],
  );
});

test('sliding windows count each record in size/every windows', async () => {
  const plan = compileText(pipeline('{ sliding: { size: 5m, every: 1m } }', 'maxOutOfOrder: 1h'));
  const r = seededRandom(3);
  const times = Array.from({ length: 500 }, () => T0 + Math.floor(r() * 20 * 60 * SECOND));
  const { rows, deadLetters } = await runScripted(plan, [chunk(times.map((ts) => ({ ts })))]);
  assert.deepEqual(deadLetters, []);
  const total = rows.reduce((sum, row) => sum + (row.n as number), 0);
  assert.equal(total, 5 * times.length);
  for (const row of rows) {
    const start = (row.windowStart as Date).getTime();
    const end = (row.windowEnd as Date).getTime();
    assert.equal(end - start, 5 * 60 * SECOND);
    assert.equal(row.n, times.filter((t) => t >= start && t < end).length, new Date(start).toISOString());
  }
});

test('windows become final, and are emitted, once the watermark passes their end plus the lateness', async () => {
  // one record per batch; final rows are emitted at the end of the batch that makes them final
  const plan = compileText(
    pipeline('{ tumbling: 1m }', 'maxOutOfOrder: 5s, allowedLateness: 10s').replace(
      'source:',
      'batch: { maxRecords: 1, maxHeldRecords: 1 }\nsource:',
    ),
  );
  const steps = [10, 70, 74, 76, 140].map((s, i) => chunk([{ ts: T0 + s * SECOND }], i));
  const { emissions, stats } = await runScripted(plan, steps);
  // [0,60) is final once the watermark (newest - 5 s) reaches 60 + 10 s: at the record at 76 s, not at 74 s;
  // [60,120) at the record at 140 s; [120,180) when the source is drained
  assert.deepEqual(
    emissions.map((rows) => rows.map((r) => [((r.windowStart as Date).getTime() - T0) / SECOND, r.n])),
    [[[0, 1]], [[60, 3]], [[120, 1]]],
  );
  assert.equal(stats.batches, 5);
  assert.equal(stats.ended, 'drained');
});

test('epoch seconds, epoch milliseconds and ISO-8601 are all read by format: auto', async () => {
  const plan = compileText(pipeline('{ tumbling: 1m }', 'maxOutOfOrder: 1h'));
  const records = [{ ts: T0 / 1000 + 1 }, { ts: T0 + 2000 }, { ts: new Date(T0 + 3000).toISOString() }, { ts: true }, { other: 1 }];
  const { rows, deadLetters } = await runScripted(plan, [chunk(records)]);
  assert.deepEqual(
    rows.map((r) => [(r.windowStart as Date).getTime(), r.n]),
    [[T0, 3]],
  );
  assert.deepEqual(
    deadLetters.map((d) => [d.reason, d.offset]),
    [
      ['invalid-time', 3],
      ['missing-time', 4],
    ],
  );
});

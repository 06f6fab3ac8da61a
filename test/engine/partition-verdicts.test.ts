/**
 * Lateness is judged by each partition's own progress: whichever order a runner reads partitions
 * in, and whichever runner resumes a partition from a commit, every record gets the verdict a
 * plain per-partition reference gives it, and the windows hold exactly the records counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { compileText, runFrom, ScriptedSource } from '../helpers/pipeline.js';
import { seededRandom } from '../helpers/reference.js';
import { MemoryStore } from '../../src/engine/memory-store.js';
import { PipelineRun } from '../../src/engine/pipeline-run.js';
import type { Chunk, DeadLetter } from '../../src/engine/records.js';
import type { SinkRuntime } from '../../src/engine/runtime.js';
import { collectDeadLetters } from '../../src/components/dead-letters/memory.js';
import { silentLogger } from '../../src/log.js';

const T0 = Date.UTC(2026, 0, 1);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DELAY = 10 * SECOND;
const LATENESS = 30 * SECOND;

const plan = compileText(`
name: verdicts
source: { stdin: {} }
batch: { maxRecords: 150 }
time: { field: ts, maxOutOfOrder: 10s, allowedLateness: 30s }
window: { tumbling: 1m }
aggregate:
  n: count
sink: { console: {} }
`);

interface Rec {
  partition: string;
  offset: number;
  ts: number;
}

/** Four partitions, each spanning the same 30 minutes (as `runner produce --file` fills a topic), a few records minutes behind. */
function dataSet(seed: number): Map<string, Rec[]> {
  const random = seededRandom(seed);
  const partitions = new Map<string, Rec[]>();
  for (const partition of ['t/0', 't/1', 't/2', 't/3']) {
    const records: Rec[] = [];
    for (let offset = 0; offset < 500; offset++) {
      let ts = T0 + Math.floor((offset / 500) * 30 * MINUTE + random() * 20 * SECOND);
      if (random() < 0.04) ts -= Math.floor(30 * SECOND + random() * 4 * MINUTE); // some within the lateness, most beyond
      records.push({ partition, offset, ts });
    }
    partitions.set(partition, records);
  }
  return partitions;
}

/** The reference: per partition, a record is late when it lies beyond delay + lateness behind the highest time counted before it. */
function reference(partitions: Map<string, Rec[]>): { late: string[]; counts: Map<number, number> } {
  const late: string[] = [];
  const counts = new Map<number, number>();
  for (const records of partitions.values()) {
    let highest = -Infinity;
    for (const r of records) {
      if (r.ts < highest - DELAY - LATENESS) {
        late.push(`${r.partition}@${r.offset}`);
        continue;
      }
      highest = Math.max(highest, r.ts);
      const minute = Math.floor(r.ts / MINUTE) * MINUTE;
      counts.set(minute, (counts.get(minute) ?? 0) + 1);
    }
  }
  return { late: late.sort(), counts };
}

function chunkOf(records: Rec[], progress?: number): Chunk {
  return {
    partition: records[0].partition,
    offsets: records.map((r) => r.offset),
    payloads: records.map((r) => JSON.stringify({ ts: r.ts })),
    ...(progress === undefined ? {} : { progress }),
  };
}

/** A sink that keeps every window, as MongoDB does: nothing is forgotten when it is final. */
function keepingSink(store: MemoryStore): SinkRuntime {
  return { store, afterBatch: () => Promise.resolve(), close: () => Promise.resolve() };
}

async function run(store: MemoryStore, script: Chunk[][]): Promise<{ deadLetters: DeadLetter[]; source: ScriptedSource }> {
  const deadLetters: DeadLetter[] = [];
  const source = new ScriptedSource(script);
  const parts = { source, sink: keepingSink(store), deadLetters: collectDeadLetters(deadLetters) };
  await new PipelineRun(plan, parts, silentLogger, new AbortController().signal).run();
  return { deadLetters, source };
}

function outcome(store: MemoryStore, deadLetters: DeadLetter[]): { late: string[]; counts: Map<number, number> } {
  assert.ok(
    deadLetters.every((d) => d.reason === 'late'),
    deadLetters.map((d) => d.reason).join(),
  );
  const counts = new Map<number, number>();
  for (const doc of store.takeWindowsEndingBy(Infinity)) counts.set(doc.windowStart, doc.live![0].result() as number);
  return { late: deadLetters.map((d) => `${d.partition}@${d.offset}`).sort(), counts: new Map([...counts].sort((a, b) => a[0] - b[0])) };
}

const sorted = (counts: Map<number, number>) => new Map([...counts].sort((a, b) => a[0] - b[0]));

/** Cuts each partition into chunks of the given sizes and interleaves them in the order `pick` chooses. */
function interleave(partitions: Map<string, Rec[]>, size: () => number, pick: (left: string[]) => string): Chunk[][] {
  const at = new Map([...partitions.keys()].map((p) => [p, 0]));
  const script: Chunk[][] = [];
  for (;;) {
    const left = [...partitions.keys()].filter((p) => at.get(p)! < partitions.get(p)!.length);
    if (left.length === 0) return script;
    const partition = pick(left);
    const from = at.get(partition)!;
    const to = Math.min(partitions.get(partition)!.length, from + size());
    at.set(partition, to);
    script.push([chunkOf(partitions.get(partition)!.slice(from, to))]);
  }
}

test('verdicts and windows are the same in any order of reading the partitions, and equal a per-partition reference', async () => {
  for (const seed of [1, 2, 3]) {
    const data = dataSet(seed);
    const expected = reference(data);
    assert.ok(expected.late.length > 10, 'the data holds late records');
    const random = seededRandom(seed + 100);
    let turn = 0;
    const orders: Record<string, () => Chunk[][]> = {
      // one partition after another: the first runs 30 minutes ahead of the others' first records
      'one partition after another': () =>
        interleave(
          data,
          () => 100,
          (left) => left[0],
        ),
      'round robin': () =>
        interleave(
          data,
          () => 37,
          (left) => left[turn++ % left.length],
        ),
      'random chunks and partitions': () =>
        interleave(
          data,
          () => 1 + Math.floor(random() * 200),
          (left) => left[Math.floor(random() * left.length)],
        ),
    };
    for (const [name, script] of Object.entries(orders)) {
      const store = new MemoryStore();
      const { deadLetters } = await run(store, script());
      const got = outcome(store, deadLetters);
      assert.deepEqual(got.late, expected.late, `seed ${seed}, ${name}: the records judged late`);
      assert.deepEqual(got.counts, sorted(expected.counts), `seed ${seed}, ${name}: counts per window`);
    }
  }
});

test('a partition resumed from a commit by another runner, whose own partitions are far ahead, gets the verdicts the first runner would have given', async () => {
  const data = dataSet(7);
  const expected = reference(data);
  const taken = data.get('t/2')!;
  // the handover falls just before a record the reference judges late
  const lateAt = taken.findIndex((r, i) => i > 200 && expected.late.includes(`${r.partition}@${r.offset}`));
  const handover = lateAt - 1;
  const store = new MemoryStore(); // shared, as one MongoDB collection is

  // the first runner reads t/0 and t/1, and t/2 up to the handover, then dies after its commit
  const first = await run(store, [[chunkOf(data.get('t/0')!)], [chunkOf(data.get('t/1')!)], [chunkOf(taken.slice(0, handover + 1))]]);
  assert.equal(first.source.committed.get('t/2'), handover);
  const progress = first.source.progress.get('t/2')!;
  assert.equal(progress, highestCounted(taken.slice(0, handover + 1)), 'the progress committed with the handover offset');

  // the second runner reads t/3 to its end before it is handed t/2 at the commit
  const second = await run(store, [[chunkOf(data.get('t/3')!)], [chunkOf(taken.slice(handover + 1), progress)]]);
  const got = outcome(store, [...first.deadLetters, ...second.deadLetters]);
  assert.deepEqual(got.late, expected.late);
  assert.deepEqual(got.counts, sorted(expected.counts));

  // resumed with no progress, the late record after the handover would have been counted: the test can tell
  const blind = new MemoryStore();
  const { deadLetters } = await run(blind, [[chunkOf(taken.slice(handover + 1), -Infinity)]]);
  assert.ok(!deadLetters.some((d) => d.offset === lateAt));
});

test('a record of a window a forgetting sink emitted as final already is late, not a second row for the window', async () => {
  const early = data4(0, 10);
  const source = new (class extends ScriptedSource {
    // a pause before each step: the batch before it is stored (and its final windows emitted) by then
    override async next(): Promise<Chunk[] | null> {
      await sleep(50);
      return super.next();
    }
  })([
    [chunkOf(early)], // t/0 over ten minutes: one batch, windows up to minute 9 final
    [chunkOf([{ partition: 't/1', offset: 0, ts: T0 + 2 * MINUTE + 5 * SECOND }])], // t/1 speaks for the first time
  ]);
  const { rows, deadLetters } = await runFrom(plan, source);
  assert.deepEqual(
    deadLetters.map((d) => [d.partition, d.offset, d.reason]),
    [['t/1', 0, 'late']],
  );
  assert.match(deadLetters[0].detail, /emitted as final and forgotten/);
  const minute2 = rows.filter((r) => (r.windowStart as Date).getTime() === T0 + 2 * MINUTE);
  assert.deepEqual(
    minute2.map((r) => r.n),
    [early.filter((r) => Math.floor((r.ts - T0) / MINUTE) === 2).length],
  );
});

/** One record every 4 s on t/0 from minute `from` to minute `to`, in order. */
function data4(from: number, to: number): Rec[] {
  const records: Rec[] = [];
  for (let ts = T0 + from * MINUTE, offset = 0; ts < T0 + to * MINUTE; ts += 4 * SECOND, offset++)
    records.push({ partition: 't/0', offset, ts });
  return records;
}

/** The highest event time the reference counts among these records of one partition. */
function highestCounted(records: Rec[]): number {
  let highest = -Infinity;
  for (const r of records) if (r.ts >= highest - DELAY - LATENESS) highest = Math.max(highest, r.ts);
  return highest;
}

/**
 * Storing a batch overlaps filling the next one: batches grow while the store is slow, are stored
 * and committed in order, and a rewind while the next batch fills drops that batch, not records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryStore } from '../../src/engine/memory-store.js';
import { batchTailMs, PipelineRun } from '../../src/engine/pipeline-run.js';
import type { Chunk } from '../../src/engine/records.js';
import type { SinkRuntime, SourceRuntime } from '../../src/engine/runtime.js';
import { stateDocId, type ConditionalWrite, type StateDoc } from '../../src/engine/store.js';
import { silentLogger } from '../../src/log.js';
import { canonical, compileText, runScripted } from '../helpers/pipeline.js';
import { collectDeadLetters } from '../../src/components/dead-letters/memory.js';

const T0 = Date.UTC(2026, 0, 1);
const PLAN_TEXT = `
name: overlap
source: { stdin: {} }
batch: { interval: 1ms, maxRecords: 1000000 }
time: { field: ts }
window: { tumbling: 1m }
groupBy: [k]
aggregate:
  n: count
sink: { console: {} }
`;
const plan = compileText(PLAN_TEXT);

/**
 * One partition of `count` records (key a or b by offset parity, event time `stepMs` apart: one
 * window by default), served `per` at a time; rewinds to the last commit.
 */
class ReplayableSource implements SourceRuntime {
  position = 0;
  committed = -1;
  readonly commits: number[] = [];
  calls = 0;
  rewinds = 0;

  constructor(
    readonly count: number,
    readonly per: number,
    readonly stepMs = 1,
  ) {}

  async next(): Promise<Chunk[] | null> {
    if (this.position >= this.count) return null;
    this.calls++;
    await sleep(1); // a fetch takes a moment: the store's work overlaps it
    return this.serve(this.per);
  }

  /** The next `limit` records (fewer at the end) as one chunk. */
  protected serve(limit: number): Chunk[] {
    const offsets: number[] = [];
    const payloads: string[] = [];
    for (; this.position < this.count && offsets.length < limit; this.position++) {
      offsets.push(this.position);
      payloads.push(JSON.stringify({ ts: T0 + this.position * this.stepMs, k: this.position % 2 ? 'a' : 'b' }));
    }
    return [{ partition: 'p', offsets, payloads }];
  }

  commit(offsets: ReadonlyMap<string, number>): Promise<void> {
    const offset = offsets.get('p')!;
    assert.ok(offset > this.committed, `commits go forward: ${offset} after ${this.committed}`);
    this.committed = offset;
    this.commits.push(offset);
    return Promise.resolve();
  }

  rewind(): Promise<void> {
    this.rewinds++;
    this.position = this.committed + 1;
    return Promise.resolve();
  }

  async close(): Promise<void> {}
}

/** A MemoryStore whose writes take a while, with a hook before its first fence raise. */
class SlowStore extends MemoryStore {
  constructor(
    private readonly writeMs: number,
    private readonly beforeFirstRaise: (store: SlowStore) => Promise<void> = async () => {},
  ) {
    super();
  }

  private raised = false;

  override async raiseFence(partition: string, offset: number): Promise<void> {
    if (!this.raised) {
      this.raised = true;
      await this.beforeFirstRaise(this);
    }
    await super.raiseFence(partition, offset);
  }

  override async write(writes: readonly ConditionalWrite[]): Promise<string[]> {
    await sleep(this.writeMs);
    return super.write(writes);
  }
}

/** A SlowStore that notes the documents of each write: one per record where every record is a window of its own. */
class CountingStore extends SlowStore {
  readonly sizes: number[] = [];
  override async write(writes: readonly ConditionalWrite[]): Promise<string[]> {
    this.sizes.push(writes.length);
    return super.write(writes);
  }
}

async function run(source: ReplayableSource, store: MemoryStore, signal = new AbortController().signal, runPlan = plan) {
  const sink: SinkRuntime = { store, afterBatch: async () => {}, close: async () => {} };
  const deadLetters = collectDeadLetters();
  return new PipelineRun(runPlan, { source, sink, deadLetters }, silentLogger, signal).run();
}

function counts(store: MemoryStore): Record<string, number> {
  const docs = store.takeWindowsEndingBy(Infinity);
  return Object.fromEntries(docs.map((d) => [String(d.key[0]), d.live![0].result() as number]));
}

test('batches grow while the previous one is stored, and every record is counted once, in order', async () => {
  const source = new ReplayableSource(5000, 50);
  const store = new SlowStore(40);
  const stats = await run(source, store);
  assert.equal(stats.records, 5000);
  assert.deepEqual(counts(store), { a: 2500, b: 2500 });
  // 100 fetches, but a batch only closes once the one before it is stored
  assert.ok(stats.batches < source.calls / 2, `${stats.batches} batches for ${source.calls} fetches`);
  assert.equal(source.commits.at(-1), 4999);
});

test('a batch closes at maxGroups partial aggregates while the store before it is slow, and counts every record once', async () => {
  const replay = () => new ReplayableSource(3000, 20, 60_000);
  const capped = new CountingStore(30);
  const stats = await run(
    replay(),
    capped,
    undefined,
    compileText(PLAN_TEXT.replace('maxRecords: 1000000', 'maxRecords: 1000000, maxGroups: 100')),
  );
  assert.equal(stats.records, 3000);
  const docs = capped.takeWindowsEndingBy(Infinity);
  assert.equal(docs.length, 3000);
  assert.ok(docs.every((d) => d.live![0].result() === 1));
  // checked between reads: at most one read (20 records) past the cap
  assert.ok(Math.max(...capped.sizes) <= 100 + 20 - 1, `batches of ${capped.sizes.join(', ')} documents`);
  assert.ok(capped.sizes.length >= 3000 / 119);
  // without the cap the same slow store lets batches grow far beyond it
  const uncapped = new CountingStore(30);
  await run(replay(), uncapped);
  assert.ok(Math.max(...uncapped.sizes) > 300, `batches of ${uncapped.sizes.join(', ')} documents`);
});

test('past maxRecords while the store before it runs, a batch goes on up to maxHeldRecords; with the store done it stops at maxRecords', async () => {
  const limits = (text: string) => compileText(PLAN_TEXT.replace('maxRecords: 1000000', text));
  const slow = new CountingStore(40);
  const stats = await run(new ReplayableSource(3000, 20, 60_000), slow, undefined, limits('maxRecords: 50, maxHeldRecords: 400'));
  assert.equal(stats.records, 3000);
  const docs = slow.takeWindowsEndingBy(Infinity);
  assert.equal(docs.length, 3000);
  assert.ok(
    docs.every((d) => d.live![0].result() === 1),
    'every record once',
  );
  // a read of up to 20 records may end past a limit, never further
  assert.ok(Math.max(...slow.sizes) <= 400 + 19, `batches of ${slow.sizes.join(', ')}`);
  assert.ok(
    slow.sizes.filter((n) => n > 50 + 19).length >= slow.sizes.length / 2,
    `most batches go past maxRecords while the store runs: ${slow.sizes.join(', ')}`,
  );
  // a store that takes no time ends before the batch after it fills: batches of maxRecords
  const quick = new CountingStore(0);
  await run(new ReplayableSource(1000, 20, 60_000), quick, undefined, limits('maxRecords: 50, maxHeldRecords: 400'));
  assert.ok(
    quick.sizes.every((n) => n <= 50),
    `batches of ${quick.sizes.join(', ')}`,
  );
});

test('a rewind while the next batch fills drops that batch unstored; the replay counts nothing twice', async () => {
  // fetches of 150: batches end at fetch boundaries, so the batch holding offset 999 holds 1000 too
  // (fetches of 100 could end a batch at 999 under load, and nothing would straddle)
  const source = new ReplayableSource(3000, 150);
  // another runner stored offsets 0..999 of key "a" (500 records) just as our first batch is stored
  const store = new SlowStore(20, async (s) => {
    const doc: StateDoc = {
      id: stateDocId(T0, ['a']),
      version: 1,
      windowStart: T0,
      windowEnd: T0 + 60_000,
      key: ['a'],
      offsets: { p: 999 },
      states: { n: 500 },
    };
    await MemoryStore.prototype.write.call(s, [{ doc, expectedVersion: null }]);
    await MemoryStore.prototype.raiseFence.call(s, 'p', 999);
  });
  await run(source, store);
  assert.deepEqual(counts(store), { a: 1500, b: 1500 });
  assert.equal(source.rewinds, 1);
  assert.equal(source.commits.at(-1), 2999);
});

test('records a source hands over again while their batch fills are counted once', async () => {
  const record = (offset: number) => JSON.stringify({ ts: T0 + offset, k: offset % 2 ? 'a' : 'b' });
  const chunk = (from: number, to: number): Chunk => {
    const offsets = Array.from({ length: to - from }, (_, i) => from + i);
    return { partition: 'p', offsets, payloads: offsets.map(record) };
  };
  // a Kafka partition back after a rebalance is fetched again from its last commit (offset 0 here)
  const { rows, stats } = await runScripted(plan, [[chunk(0, 10), chunk(10, 20), chunk(0, 15), chunk(15, 30)]]);
  assert.equal(stats.records, 30);
  assert.deepEqual(
    canonical(rows).map((r) => [r.k, r.n]),
    [
      ['a', 15],
      ['b', 15],
    ],
  );
});

/**
 * Like a Kafka topic with a backlog that tells how much is left: never drained (an empty answer
 * when nothing is left). Once down to its last `per` records it answers empty until the first
 * batch is committed (and the run has seen that), then hands them over at once.
 */
class BacklogSource extends ReplayableSource {
  private waited = false;

  override async next(): Promise<Chunk[] | null> {
    if (this.position >= this.count) {
      await sleep(1);
      return [];
    }
    if (this.position >= this.count - this.per && !this.waited) {
      while (this.commits.length === 0) await sleep(1);
      await sleep(5);
      this.waited = true;
      return [];
    }
    return this.waited ? this.serve(this.count) : super.next();
  }

  remaining(): number {
    return this.count - this.position;
  }
}

test('a batch that may close takes the rest of a backlog it reads quicker than a store instead of leaving it to a store of its own', async () => {
  const source = new BacklogSource(1200, 50);
  const stop = new AbortController();
  // the first batch is stored once the second has taken all but the last 50 records
  const store = new (class extends MemoryStore {
    override async write(writes: readonly ConditionalWrite[]): Promise<string[]> {
      while (source.position < 1150) await sleep(1);
      return super.write(writes);
    }
  })();
  const sink: SinkRuntime = { store, afterBatch: async () => {}, close: async () => {} };
  const deadLetters = collectDeadLetters();
  const running = new PipelineRun(
    compileText(PLAN_TEXT.replace('interval: 1ms', 'interval: 5ms')),
    { source, sink, deadLetters },
    silentLogger,
    stop.signal,
  ).run();
  while (source.commits.at(-1) !== 1199) await sleep(5);
  stop.abort();
  const stats = await running;
  assert.deepEqual(counts(store), { a: 600, b: 600 });
  // without the rule: a third batch of the last 50 records
  assert.equal(stats.batches, 2, `commits ${source.commits.join(', ')}`);
});

test('the tail a batch takes: a remainder it reads quicker than a store, for up to twice its reading time, at most a store', () => {
  assert.equal(batchTailMs(1000, 0, 2000, 2000), 0, 'nothing left');
  assert.equal(batchTailMs(1000, 1001, 2000, 2000), 0, 'reading it would outlast a store');
  assert.equal(batchTailMs(1000, 1000, 2000, 2000), 2000);
  assert.equal(batchTailMs(1000, 100, 3000, 2000), 600);
  assert.equal(batchTailMs(1000, 400, 3000, 2000), 2000, 'capped at the last store');
  assert.equal(batchTailMs(1000, 100, 3000, 0), 0, 'no store yet');
  assert.equal(batchTailMs(0, 5, 10, 2000), 0);
});

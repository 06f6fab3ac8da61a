/**
 * The SourceRuntime contract (src/engine/runtime.ts), checked on every registered source as a user
 * gets it: its YAML compiled into a plan, its runtime made by its registered `create`. What it
 * hands out is compared with the records its harness put there, record by record.
 */
import type { TSchema } from '@sinclair/typebox';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { components } from '../../src/components/registry.js';
import type { SourceSpec } from '../../src/components/spec.js';
import type { SourceRuntime } from '../../src/engine/runtime.js';
import { requireStack } from '../helpers/stack.js';
import type { SourceCheck, SourceFixture, SourceHarness } from './harness.js';
import { sourceHarnesses } from './harnesses.js';
import { byPartition, contextFor, create, pause, planAround, recordsOf, workDir, type Delivered } from './support.js';

const TEST_TIMEOUT_MS = 120_000;
/** How long a stopped wait or an empty wait may overrun: a worker thread's round trip, a timer's lateness. */
const SLACK_MS = 1000;

interface Opened {
  fixture: SourceFixture;
  controller: AbortController;
  /** A runtime of the fixture's config; every one opened is closed after the test. */
  open: () => Promise<SourceRuntime>;
}

async function withFixture(
  spec: SourceSpec<TSchema>,
  make: (dir: string) => Promise<SourceFixture>,
  body: (opened: Opened) => Promise<void>,
): Promise<void> {
  const { dir, remove } = workDir();
  const controller = new AbortController();
  const runtimes: SourceRuntime[] = [];
  let fixture: SourceFixture | undefined;
  try {
    fixture = await make(dir);
    const plan = planAround('source', fixture.yaml);
    const made = fixture;
    const open = async () => {
      const factory = () => create(spec, plan, contextFor(plan, dir, controller.signal));
      const runtime = await (made.open ? made.open(factory) : factory());
      runtimes.push(runtime);
      return runtime;
    };
    await body({ fixture, controller, open });
  } finally {
    for (const runtime of runtimes) await runtime.close().catch(() => undefined);
    await fixture?.cleanup();
    remove();
  }
}

interface Drained {
  records: Delivered[];
  /** True when next() returned null. */
  ended: boolean;
  /** Records per call of next(), with the maxRecords it was given. */
  calls: { maxRecords: number; records: number }[];
  /** Per partition, the progress its first chunk carried (Chunk.progress), when it carried one. */
  progress: Map<string, number>;
}

/** Calls next() until it returns null, or (with a count) until that many records came. */
async function drain(
  source: SourceRuntime,
  until: number | 'end',
  maxRecords: (call: number) => number = () => 5000,
  timeoutMs = 30_000,
): Promise<Drained> {
  const drained: Drained = { records: [], ended: false, calls: [], progress: new Map() };
  const seen = new Set<string>();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const max = maxRecords(drained.calls.length);
    const chunks = await source.next(max, 200);
    if (chunks === null) return { ...drained, ended: true };
    const records = recordsOf(chunks);
    for (const { partition, progress, offsets } of chunks) {
      if (offsets.length === 0) continue;
      if (!seen.has(partition) && progress !== undefined) drained.progress.set(partition, progress);
      else assert.equal(progress, undefined, `only a partition's first chunk after a commit carries progress (${partition})`);
      seen.add(partition);
    }
    drained.calls.push({ maxRecords: max, records: records.length });
    drained.records.push(...records);
    if (until !== 'end' && drained.records.length >= until) return drained;
    if (Date.now() > deadline) assert.fail(`${drained.records.length} records after ${timeoutMs} ms, waiting for ${until}`);
  }
}

/** Same records per partition, in the same order, each once; a failure names the first difference, not 12,000 lines. */
function assertSameRecords(actual: readonly Delivered[], expected: readonly Delivered[]): void {
  const got = byPartition(actual);
  const want = byPartition(expected);
  assert.deepEqual([...got.keys()], [...want.keys()], 'partitions');
  for (const [partition, records] of want) {
    const delivered = got.get(partition)!;
    const first = records.findIndex(
      (r, i) => i >= delivered.length || delivered[i].offset !== r.offset || !isDeepStrictEqual(delivered[i].payload, r.payload),
    );
    if (first >= 0 || delivered.length !== records.length) {
      const at = first >= 0 ? first : records.length;
      assert.fail(
        `partition ${partition}: ${delivered.length} records handed out, ${records.length} expected; first difference at #${at}: ` +
          `${JSON.stringify(delivered[at] ?? 'nothing')} instead of ${JSON.stringify(records[at] ?? 'nothing')}`,
      );
    }
  }
}

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

/** The highest offset handed out per partition: what the engine commits after storing those records. */
function highestOffsets(records: readonly Delivered[]): Map<string, number> {
  const highest = new Map<string, number>();
  for (const { partition, offset } of records) highest.set(partition, Math.max(highest.get(partition) ?? -1, offset));
  return highest;
}

/** Waits until `promise` settles; returns its value and how long that took. */
async function timed<T>(promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await promise;
  return { value, ms: Date.now() - started };
}

function sourceTests(spec: SourceSpec<TSchema>, harness: SourceHarness): void {
  const check = (name: SourceCheck, title: string, body: () => Promise<void>): void => {
    test(title, { todo: harness.knownViolations?.[name], timeout: TEST_TIMEOUT_MS }, body);
  };
  const withRecords = (count: number) => (dir: string) => harness.withRecords(count, dir);
  const idle = (dir: string) => harness.idle(dir);

  check('records', 'hands out each of 12,000 records exactly once, in offset order per partition, with its payload', () =>
    withFixture(spec, withRecords(12_000), async ({ fixture, open }) => {
      const source = await open();
      const { records } = await drain(source, harness.bounded ? 'end' : fixture.expected.length);
      if (!harness.bounded) assert.deepEqual(recordsOf((await source.next(1000, 500)) ?? []), [], 'records beyond the last one');
      assertSameRecords(records, fixture.expected);
    }),
  );

  if (harness.bounded) {
    check('end', 'returns null once its last record is handed out, and null again after', () =>
      withFixture(spec, withRecords(500), async ({ fixture, open }) => {
        const source = await open();
        const { records, ended } = await drain(source, 'end');
        assert.ok(ended);
        assert.equal(records.length, fixture.expected.length);
        assert.equal(await source.next(100, 200), null);
        assert.equal(await source.next(100, 200), null);
      }),
    );
  } else {
    check('end', 'never returns null: after its last record, next() returns an empty list within waitMs', () =>
      withFixture(spec, withRecords(500), async ({ fixture, open }) => {
        const source = await open();
        await drain(source, fixture.expected.length);
        for (let i = 0; i < 2; i++) {
          const { value, ms } = await timed(source.next(100, 300));
          assert.deepEqual(value, []);
          assert.ok(ms < 300 + SLACK_MS, `next(100, 300) took ${ms} ms`);
        }
      }),
    );
  }

  check('emptyWait', 'with nothing to read, next() returns an empty list within waitMs', () =>
    withFixture(spec, idle, async ({ open }) => {
      const source = await open();
      for (let i = 0; i < 2; i++) {
        const { value, ms } = await timed(source.next(100, 300));
        assert.deepEqual(value, []);
        assert.ok(ms < 300 + SLACK_MS, `next(100, 300) took ${ms} ms`);
      }
    }),
  );

  check('maxRecords', 'next(maxRecords) hands out at most maxRecords records (1, 7 and 1000 in turn), losing none', () =>
    withFixture(spec, withRecords(3000), async ({ fixture, open }) => {
      const source = await open();
      const limits = [1, 7, 1000];
      const { records, calls } = await drain(
        source,
        harness.bounded ? 'end' : fixture.expected.length,
        (call) => limits[call % limits.length],
      );
      const over = calls.filter((c) => c.records > c.maxRecords);
      assert.deepEqual(over.slice(0, 5), [], `${over.length} of ${calls.length} calls handed out more than maxRecords`);
      assertSameRecords(records, fixture.expected);
    }),
  );

  check('commit', 'commit() of the offsets handed out leaves what comes next as it was: every record still once, in order', () =>
    withFixture(spec, withRecords(2000), async ({ fixture, open }) => {
      const source = await open();
      const first = await drain(source, 1000, () => 100);
      await source.commit(highestOffsets(first.records), new Map());
      const rest = await drain(source, harness.bounded ? 'end' : fixture.expected.length - first.records.length);
      if (!harness.bounded) assert.deepEqual(recordsOf((await source.next(1000, 500)) ?? []), [], 'records beyond the last one');
      assertSameRecords([...first.records, ...rest.records], fixture.expected);
    }),
  );

  if (harness.replayable) {
    check(
      'rewind',
      "rewind() re-delivers exactly the records after the last commit, and a new runtime of its config resumes there; each partition's first chunk carries the progress committed with it",
      () =>
        withFixture(spec, withRecords(2000), async ({ fixture, open }) => {
          const source = await open();
          assert.equal(typeof source.rewind, 'function', 'a replayable source offers rewind()');
          const all = await drain(source, fixture.expected.length);
          assertSameRecords(all.records, fixture.expected);
          // commit 40 % of the first partition; the other partitions stay without any commit
          const partitions = [...byPartition(fixture.expected)];
          const [committedPartition, committedRecords] = partitions[0];
          const committedOffset = committedRecords[Math.floor(committedRecords.length * 0.4)].offset;
          const progress = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
          await source.commit(new Map([[committedPartition, committedOffset]]), new Map([[committedPartition, progress]]));
          // none recorded without a commit: the partition is read from its start
          const expectedProgress = new Map(
            partitions.map(([partition]) => [partition, partition === committedPartition ? progress : -Infinity]),
          );
          const uncommitted = fixture.expected.filter((r) => r.partition !== committedPartition || r.offset > committedOffset);
          assert.ok(uncommitted.length > 0 && uncommitted.length < fixture.expected.length, 'records on both sides of the commit');

          await source.rewind!();
          const replayed = await drain(source, uncommitted.length);
          assert.deepEqual(recordsOf((await source.next(1000, 500)) ?? []), [], 'records beyond the last one after rewind');
          assertSameRecords(replayed.records, uncommitted);
          assert.deepEqual(replayed.progress, expectedProgress, 'after rewind()');

          await source.close();
          const resumed = await drain(await open(), uncommitted.length);
          assertSameRecords(resumed.records, uncommitted);
          assert.deepEqual(resumed.progress, expectedProgress, 'in a new runtime');
        }),
    );
  } else {
    check('rewind', 'offers no rewind(), as its harness declares it not replayable', () =>
      withFixture(spec, withRecords(10), async ({ open }) => {
        assert.equal(typeof (await open()).rewind, 'undefined');
      }),
    );
  }

  check('close', 'close() resolves right after create, after reading, and when called a second time', () =>
    withFixture(spec, withRecords(100), async ({ open }) => {
      const unread = await open();
      await unread.close();
      await unread.close();
      const read = await open();
      await drain(read, 10, () => 10);
      await read.close();
      await read.close();
    }),
  );

  check('stop', "a stop through the context's AbortSignal ends a pending 30 s wait of next() within 1 s, and later calls do not wait", () =>
    withFixture(spec, idle, async ({ controller, open }) => {
      const source = await open();
      const waiting = timed(source.next(100, 30_000));
      await pause(200);
      controller.abort();
      const stopped = await waiting;
      assert.deepEqual(stopped.value, []);
      assert.ok(stopped.ms < 200 + SLACK_MS, `the wait ended ${stopped.ms} ms after it began, the stop came at 200 ms`);
      const after = await timed(source.next(100, 30_000));
      assert.ok(after.value === null || after.value.length === 0, `after the stop: ${JSON.stringify(after.value)}`);
      assert.ok(after.ms < SLACK_MS, `next() after the stop took ${after.ms} ms`);
    }),
  );
}

test('every registered source has a compliance harness, and every harness a registered source', () => {
  assert.deepEqual(Object.keys(sourceHarnesses).sort(), components.source.map((s) => s.name).sort());
});

for (const spec of components.source as readonly SourceSpec<TSchema>[]) {
  const harness = sourceHarnesses[spec.name];
  if (!harness) {
    test(`source ${spec.name} has a harness in test/compliance/harnesses.ts`, () => {
      assert.fail(`source ${spec.name} is registered but has no entry in sourceHarnesses: add one to get its contract checked`);
    });
    continue;
  }
  describe(`source ${spec.name}`, await requireStack(...harness.services), () => sourceTests(spec, harness));
}

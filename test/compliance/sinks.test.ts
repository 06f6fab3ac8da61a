/**
 * The SinkRuntime and StateStore contracts (src/engine/runtime.ts, src/engine/store.ts), checked
 * on every registered sink as a user gets it: its YAML compiled into a plan, its runtime made by
 * its registered `create`. Rows are read back from where the sink put them (a file, standard
 * output, a collection) and compared with rows computed here from the records.
 */
import type { TSchema } from '@sinclair/typebox';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { components } from '../../src/components/registry.js';
import type { SinkSpec } from '../../src/components/spec.js';
import { collectDeadLetters } from '../../src/components/dead-letters/memory.js';
import { PipelineRun } from '../../src/engine/pipeline-run.js';
import type { Plan } from '../../src/engine/plan.js';
import type { Chunk, DeadLetter } from '../../src/engine/records.js';
import type { StateDoc } from '../../src/engine/store.js';
import { stateDocId } from '../../src/engine/store.js';
import { silentLogger } from '../../src/log.js';
import { ScriptedSource } from '../helpers/pipeline.js';
import { requireStack } from '../helpers/stack.js';
import type { Delivery, SinkCheck, SinkFixture, SinkHarness, SinkInstance, SinkVariant } from './harness.js';
import { sinkHarnesses } from './harnesses.js';
import { makeDoc, storeContract } from './store-contract.js';
import { canonicalRow, canonicalRows, contextFor, create, planAround, workDir } from './support.js';

const TEST_TIMEOUT_MS = 120_000;
const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
type Row = Record<string, unknown>;

interface Opened {
  fixture: SinkFixture;
  plan: Plan;
  /** An instance of the fixture's config; every one opened is closed after the test. */
  open: () => Promise<SinkInstance>;
}

async function withSink(
  spec: SinkSpec<TSchema>,
  make: (dir: string) => Promise<SinkFixture>,
  body: (opened: Opened) => Promise<void>,
): Promise<void> {
  const { dir, remove } = workDir();
  const instances: SinkInstance[] = [];
  let fixture: SinkFixture | undefined;
  try {
    fixture = await make(dir);
    // small batches, and a rollup level for the sinks that keep levels
    const plan = planAround('sink', fixture.yaml, { batch: '{ interval: 1ms, maxRecords: 100 }', rollups: '[1h]' });
    const made = fixture;
    const open = async () => {
      const instance = await made.open(() => create(spec, plan, contextFor(plan, dir)));
      instances.push(instance);
      return instance;
    };
    await body({ fixture, plan, open });
  } finally {
    for (const { sink } of instances) await sink.close().catch(() => undefined);
    await fixture?.cleanup();
    remove();
  }
}

/** A document of the plan's aggregates (`n: count`, `total: sum(v)`) over `values`, and the row a reader must see for it. */
function resultDoc(plan: Plan, minute: number, k: string, values: number[], version: number, expectedVersion: number | null) {
  const windowStart = T0 + minute * MINUTE;
  const states = Object.fromEntries(
    plan.aggregates.map((a) => {
      const state = a.kind.create(a.options);
      for (const v of values) state.add(v, windowStart);
      return [a.name, state.serialize()];
    }),
  );
  const doc: StateDoc = {
    id: stateDocId(windowStart, [k]),
    version,
    windowStart,
    windowEnd: windowStart + MINUTE,
    key: [k],
    states,
    offsets: { 'compliance/0': version * 100 },
  };
  const row: Row = { minute: new Date(windowStart).toISOString(), k, n: values.length, total: values.reduce((sum, v) => sum + v, 0) };
  return { doc, row, write: { doc, expectedVersion } };
}

/** Records across two partitions and three minutes, in steps of 40 (20 per partition), and the rows they must give. */
function scriptedRecords(count: number): { steps: Chunk[][]; reference: Row[] } {
  const records = Array.from({ length: count }, (_, i) => ({
    partition: `compliance/${i % 2}`,
    offset: Math.floor(i / 2),
    value: { t: T0 + i * 300, k: ['a', 'b', 'ç'][i % 3], v: (i % 5) / 2 },
  }));
  const steps: Chunk[][] = [];
  for (let from = 0; from < count; from += 40) {
    const step = records.slice(from, from + 40);
    steps.push(
      ['compliance/0', 'compliance/1'].map((partition) => {
        const mine = step.filter((r) => r.partition === partition);
        return { partition, offsets: mine.map((r) => r.offset), payloads: mine.map((r) => JSON.stringify(r.value)) };
      }),
    );
  }
  const groups = new Map<string, Row>();
  for (const { value } of records) {
    const minute = new Date(Math.floor(value.t / MINUTE) * MINUTE).toISOString();
    const id = JSON.stringify([minute, value.k]);
    const row = groups.get(id) ?? { minute, k: value.k, n: 0, total: 0 };
    row.n = (row.n as number) + 1;
    row.total = (row.total as number) + value.v;
    groups.set(id, row);
  }
  return { steps, reference: canonicalRows([...groups.values()]) };
}

/** The engine's run loop over scripted records into this instance; every record must be counted, none dead-lettered. */
async function runEngine(plan: Plan, instance: SinkInstance, steps: Chunk[][]): Promise<void> {
  const deadLetters: DeadLetter[] = [];
  const parts = { source: new ScriptedSource(steps), sink: instance.sink, deadLetters: collectDeadLetters(deadLetters) };
  const stats = await new PipelineRun(plan, parts, silentLogger, new AbortController().signal).run();
  assert.deepEqual(deadLetters, []);
  assert.equal(stats.ended, 'drained');
}

/** The latest row of each window and key, as delivered over time. */
function latestRows(rows: readonly Row[]): Row[] {
  const latest = new Map<string, Row>();
  for (const row of rows.map(canonicalRow)) latest.set(JSON.stringify([row.minute, row.k]), row);
  return canonicalRows([...latest.values()]);
}

const AFTER_BATCH_TITLES: Record<Delivery, string> = {
  final: 'afterBatch emits the rows of each window once, when finalUpTo reaches its end (or is +Infinity), and none before',
  updates: 'afterBatch emits the rows of exactly the documents it is given, after each batch',
  stored: 'afterBatch finds every stored document in the output already, as its latest version, and nothing else',
};

function sinkTests(spec: SinkSpec<TSchema>, harness: SinkHarness, { delivery, fixture: make }: SinkVariant): void {
  const check = (name: SinkCheck, title: string, body: () => Promise<void>): void => {
    test(title, { todo: harness.knownViolations?.[name], timeout: TEST_TIMEOUT_MS }, body);
  };

  check(
    'store',
    "its store, and each rollup level's, keeps the StateStore contract: conditional writes, exact round trip, monotonic fences",
    () =>
      withSink(spec, make, async ({ plan, open }) => {
        const { sink } = await open();
        await storeContract(sink.store);
        const levels = sink.rollups ?? [];
        if (levels.length > 0)
          assert.deepEqual(
            levels.map((l) => l.sizeMs),
            plan.window.rollups,
            'one level per declared rollup',
          );
        for (const level of levels) await storeContract(level.store);
      }),
  );

  check(
    'race',
    `of two concurrent writes expecting the same version${harness.persistent ? ' from two instances' : ''}, exactly one wins each document`,
    () =>
      withSink(spec, make, async ({ open }) => {
        const first = (await open()).sink.store;
        const second = harness.persistent ? (await open()).sink.store : first;
        const ids = Array.from({ length: 20 }, (_, i) => `race-${i}`);
        const contenders = (version: number, expectedVersion: number | null) =>
          [1, 2].map((tag) => ids.map((id) => ({ doc: makeDoc(id, version, { states: { imps: tag } }), expectedVersion })));
        const rounds = [
          [1, null],
          [2, 1],
        ] as const;
        for (const [version, expected] of rounds) {
          if (version === 2) await second.read(ids); // a writer reads before it merges
          const [mine, theirs] = contenders(version, expected);
          const [lostMine, lostTheirs] = await Promise.all([first.write(mine), second.write(theirs)]);
          for (const id of ids) {
            assert.equal(lostMine.includes(id) !== lostTheirs.includes(id), true, `${id} at version ${version}: exactly one write wins`);
          }
          const winners = new Map(ids.map((id, i) => [id, lostMine.includes(id) ? theirs[i].doc : mine[i].doc]));
          for (const store of [first, second]) {
            const read = await store.read(ids);
            const [got, won] = [read, winners].map((docs) => ids.map((id) => docs.get(id)));
            assert.deepEqual(got, won, `read after the race at version ${version}`);
          }
        }
      }),
  );

  check(
    'persistence',
    harness.persistent
      ? 'a second instance of the same config reads what the first stored, fences included'
      : 'a second instance of the same config starts empty: nothing outlives an instance',
    () =>
      withSink(spec, make, async ({ open }) => {
        const first = (await open()).sink;
        const docs = [makeDoc('kept-1', 1), makeDoc('kept-2', 1)];
        assert.deepEqual(await first.store.write(docs.map((doc) => ({ doc, expectedVersion: null }))), []);
        await first.store.raiseFence('compliance/0', 41);
        await first.close();
        const second = (await open()).sink.store;
        const read = await second.read(['kept-1', 'kept-2']);
        assert.deepEqual([...read.values()], harness.persistent ? docs : []);
        assert.equal(await second.readFence('compliance/0'), harness.persistent ? 41 : -1);
      }),
  );

  check('afterBatch', AFTER_BATCH_TITLES[delivery], () =>
    withSink(spec, make, async ({ plan, open }) => {
      const { sink, output } = await open();
      const a1 = resultDoc(plan, 0, 'a', [1, 2.5], 1, null);
      const b1 = resultDoc(plan, 0, 'b', [4], 1, null);
      const a2 = resultDoc(plan, 1, 'a', [0.5], 1, null);
      const a2Again = resultDoc(plan, 1, 'a', [0.5, 3], 2, 1);
      const firstWindowEnd = T0 + MINUTE;
      let seen = 0;
      /** What the sink delivered since the last step: rows appended (final, updates) or the whole output (stored). */
      const delivered = async () => {
        const rows = await output();
        const fresh = delivery === 'stored' ? rows : rows.slice(seen);
        seen = rows.length;
        return canonicalRows(fresh);
      };
      const steps: { writes: ReturnType<typeof resultDoc>[]; finalUpTo: number; expected: Record<Delivery, Row[]> }[] = [
        {
          writes: [a1, b1, a2],
          finalUpTo: firstWindowEnd,
          expected: { final: [a1.row, b1.row], updates: [a1.row, b1.row, a2.row], stored: [a1.row, b1.row, a2.row] },
        },
        {
          writes: [a2Again],
          finalUpTo: firstWindowEnd,
          expected: { final: [], updates: [a2Again.row], stored: [a1.row, b1.row, a2Again.row] },
        },
        { writes: [], finalUpTo: Infinity, expected: { final: [a2Again.row], updates: [], stored: [a1.row, b1.row, a2Again.row] } },
      ];
      for (const [i, { writes, finalUpTo, expected }] of steps.entries()) {
        assert.deepEqual(await sink.store.write(writes.map((w) => w.write)), [], `step ${i + 1}: writes`);
        await sink.afterBatch(
          writes.map((w) => w.doc),
          finalUpTo,
        );
        assert.deepEqual(await delivered(), canonicalRows(expected[delivery]), `step ${i + 1}: rows delivered`);
      }
    }),
  );

  check(
    'run',
    'the engine run over 600 records from two partitions delivers exactly the reference rows, also after a run that stored the first 360',
    () =>
      withSink(spec, make, async ({ plan, open }) => {
        const all = scriptedRecords(600);
        const first = scriptedRecords(360);
        assert.deepEqual(all.steps.slice(0, first.steps.length), first.steps);
        const rowsOf = async (instance: SinkInstance) => {
          const rows = await instance.output();
          // updates deliver a row per change: the last one of each window and key is the result
          return delivery === 'updates' ? latestRows(rows) : canonicalRows(rows);
        };
        // a crash after storing the first 360 records and before committing them: the next run reads them again
        const crashed = await open();
        await runEngine(plan, crashed, first.steps);
        assert.deepEqual(await rowsOf(crashed), first.reference, 'the run over the first 360 records');
        await crashed.sink.close();
        const replay = await open();
        await runEngine(plan, replay, all.steps);
        assert.deepEqual(await rowsOf(replay), all.reference, 'the run over all of them');
      }),
  );

  check(
    'hooks',
    harness.persistent
      ? 'offers verify() and reportStatus(), as a sink keeping state between runs must, and both resolve on a fresh instance'
      : 'offers neither verify() nor reportStatus(), as a sink keeping nothing between runs',
    () =>
      withSink(spec, make, async ({ open }) => {
        const { sink } = await open();
        assert.equal(typeof sink.verify, harness.persistent ? 'function' : 'undefined', 'verify');
        assert.equal(typeof sink.reportStatus, harness.persistent ? 'function' : 'undefined', 'reportStatus');
        if (!harness.persistent) return;
        await sink.verify!();
        await sink.verify!();
        const now = Date.now();
        await sink.reportStatus!({
          pipeline: 'compliance',
          state: 'running',
          records: 0,
          batches: 0,
          deadLetters: {},
          watermark: null,
          lastBatchAt: null,
          lastFlushMs: 0,
          lag: { 'compliance/0': 3 },
          startedAt: now,
          updatedAt: now,
          windows: null,
        });
      }),
  );

  check('close', 'close() resolves right after create, after a batch, and when called a second time', () =>
    withSink(spec, make, async ({ plan, open }) => {
      const unused = (await open()).sink;
      await unused.close();
      await unused.close();
      const used = (await open()).sink;
      const { doc, write } = resultDoc(plan, 0, 'a', [1], 1, null);
      assert.deepEqual(await used.store.write([write]), []);
      await used.afterBatch([doc], Infinity);
      await used.close();
      await used.close();
    }),
  );
}

test('every registered sink has a compliance harness, and every harness a registered sink', () => {
  assert.deepEqual(Object.keys(sinkHarnesses).sort(), components.sink.map((s) => s.name).sort());
});

for (const spec of components.sink as readonly SinkSpec<TSchema>[]) {
  const harness = sinkHarnesses[spec.name];
  if (!harness) {
    test(`sink ${spec.name} has a harness in test/compliance/harnesses.ts`, () => {
      assert.fail(`sink ${spec.name} is registered but has no entry in sinkHarnesses: add one to get its contract checked`);
    });
    continue;
  }
  const stack = await requireStack(...harness.services);
  for (const variant of harness.variants) describe(`sink ${spec.name} (${variant.label})`, stack, () => sinkTests(spec, harness, variant));
}

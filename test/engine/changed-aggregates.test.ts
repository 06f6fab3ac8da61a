/**
 * Merging into documents written by an earlier version of the pipeline: an aggregate they lack
 * starts empty and the document says after which offsets it holds it; one the pipeline dropped
 * is dropped from the document.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchState } from '../../src/engine/batch-state.js';
import { MemoryStore } from '../../src/engine/memory-store.js';
import { stateDocId, type ConditionalWrite, type StateDoc } from '../../src/engine/store.js';
import { mergeBatch } from '../../src/engine/merge.js';
import { RecordProcessor } from '../../src/engine/processor.js';
import { Watermarks } from '../../src/engine/watermark.js';
import { Fences } from '../../src/engine/fences.js';
import { toRow } from '../../src/engine/rows.js';
import type { Plan } from '../../src/engine/plan.js';
import { pipelineOfAggregates } from '../helpers/pipeline.js';

const T0 = Date.UTC(2026, 0, 1);
const pipeline = pipelineOfAggregates;

/** Keeps documents as a database does: serialized states, no live ones (those belong to the run that merged them). */
class SerializingStore extends MemoryStore {
  override write(writes: readonly ConditionalWrite[]): Promise<string[]> {
    return super.write(
      writes.map(({ doc, expectedVersion }) => {
        const { id, version, windowStart, windowEnd, key, states, offsets, partial } = doc;
        const stored: StateDoc = {
          id,
          version,
          windowStart,
          windowEnd,
          key,
          states: structuredClone(states),
          offsets: { ...offsets },
          ...(partial ? { partial: structuredClone(partial) } : {}),
        };
        return { doc: stored, expectedVersion };
      }),
    );
  }
}

const ID = stateDocId(T0, ['a']);

async function storedDoc(memory: MemoryStore): Promise<StateDoc> {
  return (await memory.read([ID])).get(ID)!;
}

/** Merges records (offsets `from` to `to` - 1 of partition p, bids 1, 2, 3...) into the store with `plan`. */
async function store(memory: MemoryStore, plan: Plan, from: number, to: number): Promise<void> {
  const processor = new RecordProcessor(plan, new Watermarks(0), new Fences(), { onReject: (d) => assert.fail(d.detail) });
  const batch = new BatchState();
  const offsets = Array.from({ length: to - from }, (_, i) => from + i);
  await processor.process(
    { partition: 'p', offsets, payloads: offsets.map((o) => JSON.stringify({ t: T0 + o, k: 'a', bid: o + 1 })) },
    batch,
  );
  await mergeBatch(memory, batch, plan.aggregates);
}

test('an aggregate a stored document lacks starts empty there and is marked partial after the offsets it held', async () => {
  const memory = new SerializingStore();
  const v1 = pipeline('  n: count');
  const v2 = pipeline('  n: count\n  top: { max: bid }');
  await store(memory, v1, 0, 10);
  await store(memory, v2, 10, 15);
  let doc = await storedDoc(memory);
  assert.deepEqual(doc.partial, { top: { p: 9 } });
  assert.deepEqual(toRow(doc, v2, v2.sinks[0].document), {
    windowStart: new Date(T0),
    windowEnd: new Date(T0 + 60_000),
    k: 'a',
    n: 15,
    top: 15,
  });
  // later merges keep the mark, and the aggregate goes on counting
  await store(memory, v2, 15, 20);
  doc = await storedDoc(memory);
  assert.deepEqual(doc.partial, { top: { p: 9 } });
  assert.deepEqual(toRow(doc, v2, v2.sinks[0].document).top, 20);
  assert.equal(toRow(doc, v2, v2.sinks[0].document).n, 20);
  // the version before reads the document as it knows it: the mark and the state it lacks are dropped on its next write
  await store(memory, v1, 20, 21);
  doc = await storedDoc(memory);
  assert.equal(doc.partial, undefined);
  assert.deepEqual(Object.keys(doc.states), ['n']);
  assert.equal(toRow(doc, v1, v1.sinks[0].document).n, 21);
});

test('a document first written with the aggregate holds it whole, unmarked', async () => {
  const memory = new SerializingStore();
  const v2 = pipeline('  n: count\n  top: { max: bid }');
  await store(memory, v2, 0, 5);
  await store(memory, v2, 5, 8);
  const doc = await storedDoc(memory);
  assert.equal(doc.partial, undefined);
  assert.equal(toRow(doc, v2, v2.sinks[0].document).top, 8);
});

test('rendering a document that lacks an aggregate gives its empty result, not an error', async () => {
  const memory = new SerializingStore();
  await store(memory, pipeline('  n: count'), 0, 3);
  const doc = await storedDoc(memory);
  const later = pipeline('  n: count\n  top: { max: bid }\n  all: { distinct: k }');
  const row = toRow({ ...doc, live: undefined, states: { n: 3 } }, later, later.sinks[0].document);
  assert.deepEqual([row.n, row.top, row.all], [3, null, 0]);
});

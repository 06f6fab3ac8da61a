import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchState } from '../../src/engine/batch-state.js';
import { MemoryStore } from '../../src/engine/memory-store.js';
import { mergeBatch, raiseFences } from '../../src/engine/merge.js';
import { RecordProcessor } from '../../src/engine/processor.js';
import { Watermarks } from '../../src/engine/watermark.js';
import { Fences } from '../../src/engine/fences.js';
import { compileText } from '../helpers/pipeline.js';

const T0 = Date.UTC(2026, 0, 1);
const plan = compileText(`
name: fence
source: { stdin: {} }
time: { field: t, maxOutOfOrder: 1m }
window: { tumbling: 1m }
groupBy: [k]
aggregate: { n: count }
sink: { console: {} }
`);

// After a crash, records up to the fence are merged one by one, the rest in one partial per key:
// one batch crossing the fence holds both kinds for the same window and key.
test('a batch crossing the fence merges single-record and ordinary partials of one key exactly once', async () => {
  const store = new MemoryStore();
  const fences = new Fences();
  const processor = new RecordProcessor(plan, new Watermarks(60_000), fences, { onReject: (d) => assert.fail(d.detail) });
  const partition = 'events/0';
  const record = (offset: number) => JSON.stringify({ t: T0 + offset, k: 'a' });
  // a crashed run stored offsets 0..4 and raised the fence to 7 before it died
  const first = new BatchState();
  await fences.load(partition, store);
  await processor.process({ partition, offsets: [0, 1, 2, 3, 4], payloads: [0, 1, 2, 3, 4].map(record) }, first);
  await raiseFences(store, first);
  await mergeBatch(store, first, plan.aggregates);
  await store.raiseFence(partition, 7);

  // the restart reads the fence afresh
  fences.clear();
  await fences.load(partition, store);
  assert.equal(fences.of(partition), 7);
  const replay = new BatchState();
  const offsets = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  await processor.process({ partition, offsets, payloads: offsets.map(record) }, replay);
  await raiseFences(store, replay);
  await mergeBatch(store, replay, plan.aggregates);
  const [doc] = (await store.read([`${T0}|["a"]`])).values();
  assert.equal(doc.live![0].result(), 12, 'every record once');
  assert.deepEqual(doc.offsets, { [partition]: 11 });
});

test('the next batch merges into the documents it wrote last without reading them; one another writer changed is read again and merged once', async () => {
  const reads: string[][] = [];
  const store = new (class extends MemoryStore {
    override async read(ids: readonly string[]) {
      reads.push([...ids]);
      return super.read(ids);
    }
  })();
  const processor = new RecordProcessor(plan, new Watermarks(60_000), new Fences(), { onReject: (d) => assert.fail(d.detail) });
  const partition = 'events/0';
  const batchOf = async (keys: string[], from: number) => {
    const batch = new BatchState();
    const offsets = keys.map((_, i) => from + i);
    await processor.process({ partition, offsets, payloads: keys.map((k, i) => JSON.stringify({ t: T0 + from + i, k })) }, batch);
    return batch;
  };
  const recent = new Map();
  await mergeBatch(store, await batchOf(['a', 'b'], 0), plan.aggregates, recent);
  assert.deepEqual(reads, [[`${T0}|["a"]`, `${T0}|["b"]`]]);
  // another writer (a runner that took over another partition) adds to "b" meanwhile
  const other = new BatchState();
  await processor.process({ partition: 'events/1', offsets: [0], payloads: [JSON.stringify({ t: T0, k: 'b' })] }, other);
  await mergeBatch(store, other, plan.aggregates);
  reads.length = 0;
  await mergeBatch(store, await batchOf(['a', 'b', 'c'], 2), plan.aggregates, recent);
  // "c" is new to this writer; "b" failed its conditional write and was read again; "a" never was
  assert.deepEqual(reads, [[`${T0}|["c"]`], [`${T0}|["b"]`]]);
  const docs = await store.read(['a', 'b', 'c'].map((k) => `${T0}|["${k}"]`));
  assert.deepEqual(
    [...docs.values()].map((d) => [d.key[0], d.live![0].result()]),
    [
      ['a', 2],
      ['b', 3],
      ['c', 1],
    ],
  );
});

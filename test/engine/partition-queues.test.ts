/** PartitionQueues: records handed out evenly over partitions, aligned in event time. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALIGNMENT_MS, PartitionQueues } from '../../src/engine/partition-queues.js';
import type { Chunk } from '../../src/engine/records.js';

function chunk(partition: string, from: number, count: number): Chunk {
  const offsets = Array.from({ length: count }, (_, i) => from + i);
  return { partition, offsets, payloads: offsets.map((o) => `${partition}:${o}`) };
}

/** Offsets taken per partition, in the order handed out. */
function byPartition(chunks: Chunk[]): Record<string, number[]> {
  const taken: Record<string, number[]> = {};
  for (const c of chunks) (taken[c.partition] ??= []).push(...c.offsets);
  return taken;
}

test('a take gives every partition an equal share, in offset order, and a short one gives its rest to the others', () => {
  const queues = new PartitionQueues();
  queues.push(chunk('a', 0, 6));
  queues.push(chunk('b', 100, 4));
  queues.push(chunk('a', 6, 6));
  queues.push(chunk('c', 0, 1));
  assert.equal(queues.size, 17);
  assert.deepEqual(byPartition(queues.take(9)), { a: [0, 1, 2, 3], b: [100, 101, 102, 103], c: [0] });
  assert.equal(queues.size, 8);
  assert.equal(queues.sizeOf('a'), 8);
  assert.equal(queues.sizeOf('b'), 0);
  assert.deepEqual(byPartition(queues.take(100)), { a: [4, 5, 6, 7, 8, 9, 10, 11] });
  assert.equal(queues.size, 0);
  assert.deepEqual(queues.take(5), []);
});

test('a partition more than ALIGNMENT_MS ahead of the one furthest behind waits until that one has nothing queued', () => {
  const queues = new PartitionQueues();
  queues.push(chunk('ahead', 0, 10));
  queues.push(chunk('behind', 0, 3));
  queues.push(chunk('near', 0, 10));
  const times = new Map([
    ['ahead', 10 * ALIGNMENT_MS],
    ['behind', 8 * ALIGNMENT_MS],
    ['near', 9 * ALIGNMENT_MS],
  ]);
  // ahead is 2 alignments past behind: it gives nothing while behind has records
  assert.deepEqual(byPartition(queues.take(4, times)), { behind: [0, 1], near: [0, 1] });
  assert.deepEqual(byPartition(queues.take(10, times)), { behind: [2], near: [2, 3, 4, 5, 6, 7, 8, 9] });
  // behind and near have nothing queued: ahead is furthest behind of those that have
  assert.deepEqual(byPartition(queues.take(3, times)), { ahead: [0, 1, 2] });
});

test('a partition the engine has not read yet counts as furthest behind', () => {
  const queues = new PartitionQueues();
  queues.push(chunk('read', 0, 5));
  queues.push(chunk('new', 0, 5));
  assert.deepEqual(byPartition(queues.take(4, new Map([['read', 5 * ALIGNMENT_MS]]))), { new: [0, 1, 2, 3] });
});

test('dropping partitions and clearing leave the counts right', () => {
  const queues = new PartitionQueues();
  queues.push(chunk('a', 0, 3));
  queues.push(chunk('b', 0, 4));
  queues.push(chunk('c', 0, 5));
  assert.equal(
    queues.dropUnless((p) => p !== 'b'),
    4,
  );
  assert.equal(queues.size, 8);
  assert.deepEqual(byPartition(queues.take(100)), { a: [0, 1, 2], c: [0, 1, 2, 3, 4] });
  queues.push(chunk('a', 3, 2));
  queues.clear();
  assert.equal(queues.size, 0);
  assert.equal(queues.sizeOf('a'), 0);
  assert.deepEqual(queues.take(10), []);
});

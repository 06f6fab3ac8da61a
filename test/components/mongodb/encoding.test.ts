/** The stored form of a document's offsets: grouped by topic, exact for any partition ids, and readable in its older flat form. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BSON } from 'mongodb';
import { decodeOffsets, encodeOffsets } from '../../../src/components/mongodb/encoding.js';

/** Through BSON, as the server stores it (BSON keeps key order, numbers and nothing else). */
const stored = (offsets: Record<string, number>): Record<string, unknown> =>
  BSON.deserialize(BSON.serialize({ o: encodeOffsets(offsets) })).o as Record<string, unknown>;

test('six Kafka partitions store the topic once', () => {
  const offsets = Object.fromEntries([0, 1, 2, 3, 4, 5].map((p) => [`adnetwork-topic/${p}`, 65_800 + p]));
  assert.deepEqual(encodeOffsets(offsets), { 'adnetwork-topic': { 0: 65_800, 1: 65_801, 2: 65_802, 3: 65_803, 4: 65_804, 5: 65_805 } });
  assert.deepEqual(decodeOffsets(stored(offsets)), offsets);
  const flat = BSON.calculateObjectSize(Object.fromEntries(Object.entries(offsets)));
  assert.ok(BSON.calculateObjectSize(encodeOffsets(offsets)) < flat / 2, 'less than half the bytes of one key per partition');
});

test('the flat form stored before grouping reads the same', () => {
  assert.deepEqual(decodeOffsets({ 'adnetwork-topic/0': 7, 'adnetwork-topic/1': 9, generator: 3 }), {
    'adnetwork-topic/0': 7,
    'adnetwork-topic/1': 9,
    generator: 3,
  });
});

test('an id without a slash beside a group of the same name stays exact', () => {
  const offsets = { clicks: 4, 'clicks/0': 5, 'clicks/1': 6, 'a.b/$c%': 1 };
  assert.deepEqual(decodeOffsets(stored(offsets)), offsets);
});

test('any partition ids and offsets round-trip through BSON', () => {
  const part = fc.constantFrom('', 'a', 'b', '.', '$', '%', '%2E', '/', '\0', 'topic', '0', '1', 'x.y');
  const id = fc.array(part, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(''));
  const offsets = fc.dictionary(id, fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }), { maxKeys: 8 });
  fc.assert(
    fc.property(offsets, (o) => {
      const plain = Object.fromEntries(Object.entries(o)); // fast-check's dictionaries may have a null prototype
      assert.deepEqual(decodeOffsets(stored(plain)), plain);
    }),
    { numRuns: 2000 },
  );
});

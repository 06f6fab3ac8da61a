/**
 * The StateStore contract of src/engine/store.ts as one scenario, run on every sink's store by the
 * compliance suite (sinks.test.ts) and on MongoStateStore beside the in-memory store by its own
 * tests (test/components/mongodb/store.test.ts), which also compare the two transcripts.
 */
import assert from 'node:assert/strict';
import type { StateDoc, StateStore } from '../../src/engine/store.js';

export const T0 = Date.UTC(2026, 0, 1, 12, 0);
export const MINUTE = 60_000;

export function hll(seed: number, size = 256): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 17) & 0xff;
  return bytes;
}

export function makeDoc(id: string, version: number, overrides: Partial<StateDoc> = {}): StateDoc {
  return {
    id,
    version,
    windowStart: T0,
    windowEnd: T0 + MINUTE,
    key: ['pub.example', 'US'],
    states: { imps: version * 10, uniques: hll(version) },
    offsets: { 'events/0': version },
    ...overrides,
  };
}

/** A document exercising every shape a StoredValue can take, and partition names that are illegal field names. */
export function oddDoc(id: string, version: number): StateDoc {
  return makeDoc(id, version, {
    key: ['pub.example', '$US', null, 3, [1, [2]], { 'k.x': 1 }],
    states: {
      imps: 42,
      uniques: hll(7, 16 * 1024),
      avgBid: { sum: -1.25e-7, count: 3, min: -0.5, max: 1e300 },
      top: [['a', 2], ['b.c', 1], [[1, [2, [3]]], []], []],
      names: {
        'a.b': 1,
        $x: 'y',
        '%25': 'literal percent',
        '%n': 'not a marker',
        '%a': [1],
        '': true,
        nested: { 'c.d': [null, false, 'é☃'] },
      },
      nonFinite: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0],
      nan: Number.NaN,
      numbers: [2 ** 60, 5e-324, -(2 ** 31) - 1, 2 ** 31, -7],
      bytes: [new Uint8Array(0), new Uint8Array([0, 255]), { inner: new Uint8Array([1, 2, 3]) }],
      empty: {},
    },
    offsets: { 'events.v1/0': 17, '$events/1': 0, 'a%2Eb': 3, 'plain-2': 9, '': 1 },
  });
}

export function sortedEntries(map: Map<string, StateDoc>): [string, StateDoc][] {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The StateStore contract (a compliance suite in the sense of STYLE.md): one scenario run
 * against any store. It asserts the expected behaviour itself and returns a transcript of every
 * observation, so two stores can also be compared with each other.
 */
export async function storeContract(store: StateStore): Promise<unknown[]> {
  const transcript: unknown[] = [];
  const see = <T>(label: string, value: T): T => {
    transcript.push([label, value instanceof Map ? sortedEntries(value as Map<string, StateDoc>) : value]);
    return value;
  };

  const empty = see('read missing', await store.read(['a', 'b']));
  assert.equal(empty.size, 0);
  assert.equal(see('read nothing', await store.read([])).size, 0);
  assert.equal(see('fence absent', await store.readFence('events.v1/0')), -1);

  const a1 = oddDoc('a', 1);
  const b1 = makeDoc('b', 1);
  assert.deepEqual(
    see(
      'insert a, b',
      await store.write([
        { doc: a1, expectedVersion: null },
        { doc: b1, expectedVersion: null },
      ]),
    ),
    [],
  );
  const read1 = see('read a, b', await store.read(['a', 'b', 'missing']));
  assert.deepEqual(sortedEntries(read1), [
    ['a', a1],
    ['b', b1],
  ]);

  const a2 = oddDoc('a', 2);
  const b2 = makeDoc('b', 2);
  const c1 = makeDoc('c', 1);
  const conflicts = see(
    'replace a (right), b (stale), c (absent)',
    await store.write([
      { doc: a2, expectedVersion: 1 },
      { doc: b2, expectedVersion: 7 },
      { doc: c1, expectedVersion: 1 },
    ]),
  );
  assert.deepEqual([...conflicts].sort(), ['b', 'c']);

  const d1 = makeDoc('d', 1, { windowStart: T0 + MINUTE, windowEnd: T0 + 2 * MINUTE, key: ['other', 'DE'] });
  const again = see(
    'insert a (exists), d (new)',
    await store.write([
      { doc: oddDoc('a', 1), expectedVersion: null },
      { doc: d1, expectedVersion: null },
    ]),
  );
  assert.deepEqual(again, ['a']);
  assert.deepEqual(see('empty write', await store.write([])), []);

  const read2 = see('read all', await store.read(['d', 'c', 'b', 'a']));
  assert.deepEqual(sortedEntries(read2), [
    ['a', a2],
    ['b', b1],
    ['d', d1],
  ]);

  await store.raiseFence('events.v1/0', 5);
  await store.raiseFence('events.v1/0', 3);
  assert.equal(see('fence kept higher', await store.readFence('events.v1/0')), 5);
  await store.raiseFence('$events/1', 0);
  assert.equal(see('fence at 0', await store.readFence('$events/1')), 0);
  await store.raiseFence('$events/1', 2 ** 40);
  assert.equal(see('fence large', await store.readFence('$events/1')), 2 ** 40);
  assert.equal(see('other fence absent', await store.readFence('events.v1/2')), -1);
  return transcript;
}

/** distinct: exact counts against a plain reference, value identity, and the bound. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAggregationKind } from '../../../src/components/aggregations/index.js';
import { AggregationError, type AggregationState } from '../../../src/engine/aggregation.js';
import { reload, TRIPS } from './helpers.js';

const distinct = getAggregationKind('distinct')!;

function build(values: readonly unknown[], options: Record<string, unknown> = {}): AggregationState {
  const state = distinct.create(options);
  for (const v of values) state.add(v, 0);
  return state;
}

/** The reference: JSON values are equal when their JSON with sorted object keys is equal. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
const reference = (values: readonly unknown[]) => new Set(values.map((v) => JSON.stringify(sortedKeys(v)))).size;

test('distinct equals the number of distinct JSON values on random data', () => {
  const value = fc
    .oneof(fc.string({ maxLength: 3 }), fc.integer({ min: -5, max: 5 }), fc.boolean(), fc.jsonValue({ maxDepth: 2 }))
    .filter((v) => v !== null)
    .map((v) => JSON.parse(JSON.stringify(v)) as unknown);
  fc.assert(
    fc.property(fc.array(value, { maxLength: 200, size: 'max' }), (values) => {
      assert.equal(build(values).result(), reference(values));
    }),
    { numRuns: 300 },
  );
});

test('"1" and 1, "true" and true, "[1]" and [1] are different values; 1 and 1.0, -0 and 0 are one', () => {
  assert.equal(build(['1', 1, 'true', true, '[1]', [1], '{"a":1}', { a: 1 }]).result(), 8);
  assert.equal(build([1, 1.0, 0, -0, '1']).result(), 3);
});

test('objects are equal whatever the order of their keys; arrays are ordered; dates are their JSON', () => {
  assert.equal(
    build([
      { a: 1, b: { c: 2, d: 3 } },
      { b: { d: 3, c: 2 }, a: 1 },
    ]).result(),
    1,
  );
  assert.equal(
    build([
      [1, 2],
      [2, 1],
    ]).result(),
    2,
  );
  assert.equal(
    build([new Date(0), new Date(0).toISOString(), new Date(1), { at: new Date(0) }, { at: new Date(0).toISOString() }]).result(),
    3,
  );
});

test('serialize sorts values by type then value, and keeps "1" apart from 1 through every store', () => {
  const state = build(['b', 2, 'a', true, 1, '1', false, { z: 1, a: [2] }, [3]]);
  assert.deepEqual(state.serialize(), { v: ['1', 'a', 'b', 1, 2, false, true], j: ['[3]', '{"a":[2],"z":1}'] });
  assert.deepEqual(build(['x']).serialize(), { v: ['x'] });
  for (const trip of TRIPS) {
    const back = reload(distinct, {}, state, trip);
    assert.equal(back.result(), 9, trip);
    back.add(1, 0);
    back.add('2', 0);
    back.add({ a: [2], z: 1 }, 0);
    assert.equal(back.result(), 10, trip);
  }
});

test('strings with lone surrogates survive BSON (stored as escaped JSON text)', () => {
  const state = build(['\ud800', 'a\udc00', '"\ud800"', '"x"', 'ok', { k: '\ud800' }]);
  const j = [JSON.stringify('\ud800'), JSON.stringify('a\udc00'), JSON.stringify('"\ud800"'), '{"k":"\\ud800"}'].sort();
  assert.deepEqual(state.serialize(), { v: ['"x"', 'ok'], j });
  assert.ok(j.every((text) => (text as string & { isWellFormed(): boolean }).isWellFormed()));
  for (const trip of TRIPS) {
    const back = reload(distinct, {}, state, trip);
    assert.deepEqual(back.serialize(), state.serialize(), trip);
    back.add('\ud800', 0);
    back.add('"\ud800"', 0);
    assert.equal(back.result(), 6, trip);
  }
});

test('a set of more than 64 values is stored packed, reads back equal through every store, and the unpacked form still reads', () => {
  const values: unknown[] = Array.from({ length: 500 }, (_, i) => `cookie_${i}`);
  values.push(1, '1', true, { a: [1] }, '\ud800', 'x\u00e9\u{1f600}');
  const state = build(values);
  const stored = state.serialize() as { z?: unknown };
  assert.deepEqual(Object.keys(stored), ['z']);
  assert.ok(stored.z instanceof Uint8Array && stored.z.length < 2000, 'deflated');
  // the same values unpacked, as Runnels before packing stored them
  const unpacked = { v: [...values.filter((v) => typeof v !== 'object' && v !== '\ud800')] } as { v: unknown[]; j?: string[] };
  for (const trip of TRIPS) {
    const back = reload(distinct, {}, state, trip);
    assert.equal(back.result(), 506, trip);
    assert.deepEqual(back.serialize(), state.serialize(), trip);
    for (const value of values) back.add(value, 0);
    assert.equal(back.result(), 506, trip);
  }
  const old = distinct.deserialize(
    { v: (unpacked.v as (string | number | boolean)[]).sort(), j: [JSON.stringify('\ud800'), '{"a":[1]}'] },
    {},
  );
  assert.equal(old.result(), 506);
  old.merge(state);
  assert.equal(old.result(), 506);
  assert.throws(() => distinct.deserialize({ z: new Uint8Array([1, 2, 3]) }, {}), { code: 'invalid-state' });
});

test('one value more than maxValues is distinct-overflow, naming the option and approxDistinct', () => {
  const state = build(['a', 'b', 'c'], { maxValues: 3 });
  state.add('a', 0); // known values are fine at the bound
  state.add('c', 0);
  assert.throws(
    () => state.add('d', 0),
    (err: unknown) => {
      assert.ok(err instanceof AggregationError);
      assert.equal(err.code, 'distinct-overflow');
      assert.match(err.message, /more than 3 distinct values/);
      assert.match(err.message, /`maxValues`/);
      assert.match(err.message, /approxDistinct/);
      return true;
    },
  );
  assert.throws(() => state.add({ new: 'object' }, 0), { code: 'distinct-overflow' });
  assert.equal(state.result(), 3);
});

test('a merge past maxValues is distinct-overflow and leaves the state as it was', () => {
  const state = build(['a', 'b'], { maxValues: 3 });
  const overlapping = build(['b', 'c'], { maxValues: 3 });
  const tooMany = build(['x', 'y'], { maxValues: 3 });
  assert.throws(() => state.merge(tooMany), { code: 'distinct-overflow' });
  assert.deepEqual(state.serialize(), { v: ['a', 'b'] });
  state.merge(overlapping);
  assert.equal(state.result(), 3);
});

test('maxValues is checked like the schema says', () => {
  assert.throws(() => distinct.create({ maxValues: 0 }), { code: 'invalid-option', message: /maxValues.*from 1 to 10000000, got 0/ });
  assert.throws(() => distinct.create({ maxValues: 1.5 }), { code: 'invalid-option' });
  assert.throws(() => distinct.create({ maxValue: 10 }), { code: 'invalid-option', message: /no option `maxValue`.*`maxValues`/ });
  assert.match(distinct.describeState({}), /100000 values/);
});

/** first and last: by event time, ties broken by JSON text, independent of arrival and merge order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAggregationKind } from '../../../src/components/aggregations/index.js';
import type { AggregationState } from '../../../src/engine/aggregation.js';
import { reload, TRIPS } from './helpers.js';

const first = getAggregationKind('first')!;
const last = getAggregationKind('last')!;

function build(kind: typeof first, records: readonly [unknown, number][]): AggregationState {
  const state = kind.create({});
  for (const [value, time] of records) state.add(value, time);
  return state;
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

/** The reference: the record with the smallest (largest) time, then the smallest (largest) JSON text. */
function reference(records: readonly [unknown, number][], latest: boolean): unknown {
  if (records.length === 0) return null;
  const sorted = [...records].sort(([va, ta], [vb, tb]) => {
    if (ta !== tb) return ta - tb;
    const ja = JSON.stringify(va);
    const jb = JSON.stringify(vb);
    return ja < jb ? -1 : ja > jb ? 1 : 0;
  });
  return (latest ? sorted[sorted.length - 1] : sorted[0])[0];
}

test('first and last pick by event time, not arrival order', () => {
  const records: [unknown, number][] = [
    ['b', 20],
    ['a', 10],
    ['d', 40],
    ['c', 30],
  ];
  assert.equal(build(first, records).result(), 'a');
  assert.equal(build(last, records).result(), 'd');
});

test('on equal times every arrival order and every merge gives the same value', () => {
  const tied: [unknown, number][] = [
    [2, 5],
    ['2', 5],
    [{ b: 1 }, 5],
    [[1], 5],
    [true, 5],
    [1, 7],
    [3, 1],
    [-4, 1],
  ];
  const firsts = new Set<string>();
  const lasts = new Set<string>();
  for (const order of permutations(tied)) {
    firsts.add(JSON.stringify(build(first, order).serialize()));
    lasts.add(JSON.stringify(build(last, order).serialize()));
    // the same records as one state per record, merged in this order
    const merged = first.create({});
    for (const r of order) merged.merge(build(first, [r]));
    firsts.add(JSON.stringify(merged.serialize()));
  }
  assert.deepEqual([...firsts], [JSON.stringify({ t: 1, j: '-4' })]); // "-4" < "3"
  assert.deepEqual([...lasts], [JSON.stringify({ t: 7, j: '1' })]);
  const atFive = tied.filter(([, t]) => t === 5);
  assert.equal(build(first, atFive).result(), '2'); // '"2"' sorts before '2', '[1]', 'true', '{"b":1}'
  assert.deepEqual(build(last, atFive).result(), { b: 1 });
});

test('first and last equal the reference on random records with many ties', () => {
  const value = fc
    .jsonValue({ maxDepth: 2 })
    .filter((v) => v !== null)
    .map((v) => JSON.parse(JSON.stringify(v)) as unknown);
  fc.assert(
    fc.property(fc.array(fc.tuple(value, fc.integer({ min: 0, max: 3 })), { maxLength: 40, size: 'max' }), (records) => {
      assert.deepEqual(build(first, records).result(), reference(records, false));
      assert.deepEqual(build(last, records).result(), reference(records, true));
    }),
    { numRuns: 300 },
  );
});

test('any JSON value survives every store, including keys BSON dislikes and lone surrogates', () => {
  const values = [{ 'a.b': 1, $set: [null, 'x'] }, '\ud800 lone', 0.1, [1, { n: null }], false];
  for (const value of values) {
    for (const trip of TRIPS) {
      const back = reload(first, {}, build(first, [[value, 123]]), trip);
      assert.deepEqual(back.result(), value, `${trip} ${JSON.stringify(value)}`);
      assert.deepEqual(back.serialize(), { t: 123, j: JSON.stringify(value) });
    }
  }
  assert.equal(first.create({}).result(), null);
  assert.equal(first.create({}).serialize(), null);
  assert.equal(last.deserialize(null, {}).result(), null);
});

test('a first state cannot be merged into a last state', () => {
  assert.throws(() => first.create({}).merge(last.create({})), { code: 'incompatible-state' });
  assert.throws(() => first.create({}).merge(getAggregationKind('count')!.create({})), { code: 'incompatible-state' });
});

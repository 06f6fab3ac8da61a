/** count, sum, avg, min, max against plain references; compensated sums against exact (BigInt) sums. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAggregationKind } from '../../../src/components/aggregations/index.js';
import type { AggregationState } from '../../../src/engine/aggregation.js';
import { exactSum, seeded } from './helpers.js';

const kind = (name: string) => getAggregationKind(name)!;

function build(name: string, values: readonly unknown[]): AggregationState {
  const state = kind(name).create({});
  values.forEach((v, i) => state.add(v, i));
  return state;
}

function naiveSum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** Bids like the impressions source makes: 6 decimals in (0, 1). */
function bids(seed: number, n: number): number[] {
  const r = seeded(seed);
  return Array.from({ length: n }, () => Math.floor(1 + r() * 999_999) / 1e6);
}

test('exactSum, the reference, is exact where naive summation is not', () => {
  assert.equal(exactSum([0.1, 0.2]), 0.30000000000000004); // the doubles 0.1 and 0.2 do sum above 0.3
  assert.equal(exactSum([1e16, 1, -1e16]), 1);
  assert.equal(exactSum([1, 1e100, 1, -1e100]), 2);
  assert.equal(exactSum([2 ** -1074, 2 ** -1074]), 2 ** -1073);
  assert.equal(exactSum([]), 0);
});

test('count counts every add, empty is 0', () => {
  assert.equal(build('count', []).result(), 0);
  assert.equal(build('count', Array(1234).fill(undefined)).result(), 1234);
});

test('sum and avg: 0.1 added ten million times is exact, naive summation drifts', () => {
  const n = 10_000_000;
  const sum = kind('sum').create({});
  const avg = kind('avg').create({});
  let naive = 0;
  for (let i = 0; i < n; i++) {
    sum.add(0.1, 0);
    avg.add(0.1, 0);
    naive += 0.1;
  }
  const exact = n * 0.1; // one IEEE multiplication: the exactly rounded sum of n copies of the double 0.1
  assert.equal(exact, 1_000_000);
  assert.equal(exactSum(Array(1000).fill(0.1)), 1000 * 0.1);
  assert.notEqual(naive, exact, 'naive summation drifts (999999.9998389754)');
  assert.equal(sum.result(), exact);
  assert.equal(avg.result(), exact / n);
});

test('sum: cancellation of large terms keeps the small ones (1e16 + 1 - 1e16, 1 + 1e100 + 1 - 1e100)', () => {
  for (const values of [
    [1e16, 1, -1e16],
    [1, 1e100, 1, -1e100],
    [1e308, 1e292, -1e308],
    [0.1, 0.2, -0.3],
  ]) {
    assert.equal(build('sum', values).result(), exactSum(values), JSON.stringify(values));
  }
  assert.equal(naiveSum([1e16, 1, -1e16]), 0);
  assert.equal(build('sum', [1e16, 1, -1e16]).result(), 1);
});

test('sum and avg of 200,000 bids equal the exact sum where the naive sum is off', () => {
  const values = bids(42, 200_000);
  const exact = exactSum(values);
  assert.notEqual(naiveSum(values), exact, 'this data set does make naive summation drift');
  assert.equal(build('sum', values).result(), exact);
  assert.equal(build('avg', values).result(), exact / values.length);
  // and the same when the bids arrive in 1,000 partial states merged in some other order
  const partials = Array.from({ length: 1000 }, (_, i) => build('sum', values.slice(i * 200, i * 200 + 200)));
  const merged = kind('sum').create({});
  for (const p of partials.reverse()) merged.merge(p);
  assert.equal(merged.result(), exact);
});

test('sum and avg equal the exact sum on random money-like values (up to 6 decimals, mixed signs)', () => {
  const money = fc.integer({ min: -10_000_000_000, max: 10_000_000_000 }).map((n) => n / 1e6);
  fc.assert(
    fc.property(fc.array(money, { maxLength: 500, size: 'max' }), (values) => {
      assert.equal(build('sum', values).result(), exactSum(values));
      assert.equal(build('avg', values).result(), values.length ? exactSum(values) / values.length : null);
    }),
    { numRuns: 300 },
  );
});

test("sum of arbitrary doubles stays within Neumaier's bound: one rounding plus n * eps^2 * sum(|x|)", () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { maxLength: 100, size: 'max' }), (values) => {
      const exact = exactSum(values);
      const got = build('sum', values).result() as number;
      const magnitude = values.reduce((a, v) => a + Math.abs(v), 0);
      const bound = Math.max(Number.MIN_VALUE, Math.abs(exact) * 2 ** -52) + values.length * 2 ** -104 * magnitude;
      assert.ok(Math.abs(got - exact) <= bound, `${got} vs ${exact}`);
    }),
    { numRuns: 300 },
  );
});

test('sum stores { s, c } with s the rounded sum, the same for every order of the same values', () => {
  const values = [0.1, 0.2, 0.3, 1e-17, 12345.678901];
  const forward = build('sum', values).serialize() as { s: number; c: number };
  const backward = build('sum', [...values].reverse()).serialize();
  assert.deepEqual(forward, backward);
  assert.equal(forward.s, exactSum(values));
  assert.equal(typeof forward.c, 'number');
  assert.deepEqual(kind('sum').create({}).serialize(), { s: 0, c: 0 });
  assert.deepEqual(build('avg', [1, 2]).serialize(), { s: 3, c: 0, n: 2 });
});

test('empty sum is 0; empty avg, min and max are null', () => {
  assert.equal(build('sum', []).result(), 0);
  for (const name of ['avg', 'min', 'max']) {
    assert.equal(build(name, []).result(), null, name);
    assert.equal(kind(name).deserialize(build(name, []).serialize(), {}).result(), null, name);
  }
});

test('min and max equal Math.min and Math.max on random doubles', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { minLength: 1 }), (values) => {
      assert.equal(build('min', values).result(), Math.min(...values) + 0);
      assert.equal(build('max', values).result(), Math.max(...values) + 0);
    }),
  );
});

test('min and max treat -0 as 0 whatever the order', () => {
  for (const values of [[0, -0], [-0, 0], [-0]]) {
    assert.ok(Object.is(build('min', values).result(), 0), JSON.stringify(values));
    assert.ok(Object.is(build('max', values).result(), 0), JSON.stringify(values));
  }
});

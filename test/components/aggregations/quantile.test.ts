/** quantile: within the documented relative error of the exact (lower) quantile, on random data. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAggregationKind } from '../../../src/components/aggregations/index.js';
import type { AggregationState } from '../../../src/engine/aggregation.js';
import { reload, seeded, TRIPS } from './helpers.js';

const quantile = getAggregationKind('quantile')!;

function build(values: readonly number[], options: Record<string, unknown>): AggregationState {
  const state = quantile.create(options);
  for (const v of values) state.add(v, 0);
  return state;
}

/** The documented target: the value at rank floor(q * (n - 1)) of the sorted values. */
function exactQuantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))];
}

/** The guarantee holds where no bins were folded (enough `maxBins` for the range) and for normal doubles. */
function assertAccurate(values: readonly number[], q: number, alpha: number, label: string): void {
  const got = build(values, { q, relativeAccuracy: alpha, maxBins: 65_536 }).result() as number;
  const exact = exactQuantile(values, q);
  // the guarantee, plus float slack for log/pow at bin edges
  const allowed = alpha * Math.abs(exact) * (1 + 1e-9) + 1e-300;
  assert.ok(Math.abs(got - exact) <= allowed, `${label} q=${q} alpha=${alpha}: got ${got}, exact ${exact}`);
}

const Q = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1];

test('within the relative accuracy of the exact quantile on random data sets', () => {
  const r = seeded(3);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const sets: Record<string, number[]> = {
    bids: Array.from({ length: 20_000 }, () => Math.floor(1 + r() * 999_999) / 1e6),
    lognormal: Array.from({ length: 20_000 }, () => Math.exp(3 * normal())),
    'mixed signs and zeros': Array.from({ length: 20_000 }, () => (r() < 0.1 ? 0 : normal() * 1000)),
    negative: Array.from({ length: 5000 }, () => -Math.exp(5 * r())),
    'integers with many duplicates': Array.from({ length: 10_000 }, () => Math.floor(r() * 20)),
    'one value': [42.5],
  };
  for (const [label, values] of Object.entries(sets)) {
    for (const alpha of [0.01, 0.001, 0.05]) for (const q of Q) assertAccurate(values, q, alpha, label);
  }
});

test('within the relative accuracy on arbitrary doubles (fast-check)', () => {
  fc.assert(
    fc.property(
      fc.array(
        // 560 orders of magnitude need ln(1e560) / ln((1 + 0.01) / (1 - 0.01)) = 64,467 bins at 1%:
        // within the 65,536 the test keeps, so nothing is folded
        fc.double({ noNaN: true, min: -1e280, max: 1e280 }).filter((v) => v === 0 || Math.abs(v) >= 1e-280),
        { minLength: 1, maxLength: 300, size: 'max' },
      ),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.constantFrom(0.01, 0.02, 0.1),
      (values, q, alpha) => assertAccurate(values, q, alpha, 'random'),
    ),
    { numRuns: 300 },
  );
});

test('q = 0 and q = 1 are the exact minimum and maximum; empty is null', () => {
  const values = [3.3333, -7.25, 1e-9, 0, 123456.789];
  assert.equal(build(values, { q: 0 }).result(), -7.25);
  assert.equal(build(values, { q: 1 }).result(), 123456.789);
  assert.equal(build([], {}).result(), null);
  assert.equal(build([], {}).serialize(), null);
  assert.equal(quantile.deserialize(null, {}).result(), null);
});

test('merged partial sketches keep the accuracy (the merge adds bins exactly)', () => {
  const r = seeded(11);
  const values = Array.from({ length: 30_000 }, () => Math.exp(10 * r() - 5));
  for (const q of [0.5, 0.9, 0.99]) {
    const merged = quantile.create({ q });
    for (let i = 0; i < values.length; i += 1000) merged.merge(build(values.slice(i, i + 1000), { q }));
    assert.equal(merged.result(), build(values, { q }).result());
    const exact = exactQuantile(values, q);
    assert.ok(Math.abs((merged.result() as number) - exact) <= 0.01 * exact * (1 + 1e-9));
  }
});

test('with few bins the lowest are folded: high quantiles keep their accuracy, the state stays bounded', () => {
  const r = seeded(5);
  // 12 orders of magnitude need ~1400 bins at 1%; keep 256
  const values = Array.from({ length: 20_000 }, () => 10 ** (12 * r() - 6));
  for (const q of [0.9, 0.99, 1]) {
    const state = build(values, { q, maxBins: 256 });
    const exact = exactQuantile(values, q);
    assert.ok(Math.abs((state.result() as number) - exact) <= 0.01 * exact * (1 + 1e-9), `q=${q}`);
    assert.ok((state.serialize() as Uint8Array).length < 256 * 6 + 40);
  }
});

test('a sketch stored with another accuracy is re-mapped; its quantiles stay within both accuracies', () => {
  const r = seeded(8);
  const values = Array.from({ length: 10_000 }, () => Math.exp(6 * r()));
  const stored = build(values, { relativeAccuracy: 0.02 }).serialize();
  for (const q of [0.1, 0.5, 0.9]) {
    const state = quantile.deserialize(stored, { q, relativeAccuracy: 0.01 });
    const exact = exactQuantile(values, q);
    assert.ok(Math.abs((state.result() as number) - exact) <= 0.031 * exact, `q=${q}`);
  }
});

test('the serialized sketch is compact and round-trips through every store', () => {
  const r = seeded(9);
  const values = Array.from({ length: 5000 }, () => Math.floor(1 + r() * 999_999) / 1e6);
  const state = build(values, { q: 0.9 });
  const stored = state.serialize() as Uint8Array;
  assert.ok(stored instanceof Uint8Array && stored.length < 1500, `${stored.length} bytes`);
  assert.ok((build([0.5, 0.25], {}).serialize() as Uint8Array).length < 40);
  for (const trip of TRIPS) {
    const back = reload(quantile, { q: 0.9 }, state, trip);
    assert.equal(back.result(), state.result(), trip);
    assert.deepEqual(back.serialize(), stored, trip);
  }
});

test('options are checked and described', () => {
  assert.equal(quantile.describeState({}), 'DDSketch for q=0.5, 1% relative accuracy (at most 2048 bins per sign, 16 KiB)');
  assert.throws(() => quantile.create({ q: 1.5 }), { code: 'invalid-option', message: /`q` must be a number from 0 to 1, got 1.5/ });
  assert.throws(() => quantile.create({ relativeAccuracy: 0 }), { code: 'invalid-option' });
  assert.throws(() => quantile.create({ maxBins: 8 }), { code: 'invalid-option' });
  for (const bad of ['x', [1], new Uint8Array([2]), new Uint8Array([1, 0, 0])]) {
    assert.throws(() => quantile.deserialize(bad, {}), { code: 'invalid-state' });
  }
});

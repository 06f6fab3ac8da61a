/**
 * The contract of every kind: the values split into any chunks, one state per chunk (some passed
 * through a store mid-way), merged in any order and grouping with store round trips in between,
 * give exactly the result() and serialize() of one state built from all the values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAggregationKind } from '../../../src/components/aggregations/index.js';
import type { AggregationKind, AggregationState } from '../../../src/engine/aggregation.js';
import { reload, TRIPS, type Trip } from './helpers.js';

interface Record_ {
  value: unknown;
  time: number;
}

/** Values as the engine sees them: parsed from JSON text. */
const json = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> => arb.map((v) => JSON.parse(JSON.stringify(v)) as T);

/** Money-like numbers: at most 6 decimals, |x| <= 10^4 (the compensated sum is exact for these). */
const money = fc.integer({ min: -10_000_000_000, max: 10_000_000_000 }).map((n) => n / 1e6);
const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
/** Few distinct scalars, so that duplicates and "1"-versus-1 collisions are common. */
const smallScalar = fc.oneof(
  fc.constantFrom('1', '2', 'a', 'true', '', '[1]', '{"a":1}', '"1"', '\ud800', 'x\udc00'),
  fc.integer({ min: -3, max: 3 }),
  fc.boolean(),
);
const anyValue = json(
  fc.oneof(
    { weight: 4, arbitrary: smallScalar },
    { weight: 2, arbitrary: fc.string({ maxLength: 6 }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).filter((v) => v !== null) },
    { weight: 1, arbitrary: fc.constantFrom({ a: 1, b: [2] }, { b: [2], a: 1 }, [1, '1'], ['1', 1]) },
  ),
);
const cookies = fc.integer({ min: 0, max: 5000 }).map((n) => `cookie_${n}`);
/** Around 300 distinct: chunks overlap a lot, and their union is sometimes past approxDistinct's sparse limit at p=10. */
const fewCookies = fc.integer({ min: 0, max: 300 }).map((n) => `cookie_${n}`);
const quantileValues = fc.oneof(
  finite,
  money,
  fc.integer({ min: -100, max: 100 }),
  fc.double({ min: 1e-9, max: 1e12, noNaN: true }),
  fc.constant(0),
);

interface Case {
  kind: string;
  options: Record<string, unknown>;
  values: fc.Arbitrary<unknown>;
  maxLength?: number;
}

const cases: Case[] = [
  { kind: 'count', options: {}, values: fc.constant(undefined) },
  { kind: 'sum', options: {}, values: money },
  { kind: 'avg', options: {}, values: money },
  { kind: 'min', options: {}, values: finite },
  { kind: 'max', options: {}, values: finite },
  { kind: 'distinct', options: {}, values: anyValue },
  { kind: 'approxDistinct', options: {}, values: fc.oneof(anyValue, cookies) },
  // sparse states turn dense past 3 * 2^p / 16 prefixes (p=10: 192, p=8: 48, p=4: 3): unions that cross
  // the limit, sparse into dense and dense into sparse
  { kind: 'approxDistinct', options: { precision: 10 }, values: fewCookies, maxLength: 400 },
  { kind: 'approxDistinct', options: { precision: 8 }, values: fc.oneof(cookies, fc.integer()), maxLength: 300 },
  { kind: 'approxDistinct', options: { precision: 4 }, values: cookies },
  { kind: 'first', options: {}, values: anyValue },
  { kind: 'last', options: {}, values: anyValue },
  { kind: 'quantile', options: {}, values: quantileValues },
  { kind: 'quantile', options: { q: 0.9, relativeAccuracy: 0.05 }, values: quantileValues },
  // 16 bins over values spanning 20 orders of magnitude: the folding of low bins happens all the time
  { kind: 'quantile', options: { q: 0.99, maxBins: 16 }, values: fc.double({ min: -1e10, max: 1e10, noNaN: true }) },
  // values 1..6 fill bins 0..90 at 1% (dense past 64 keys); values up to 11 (bin 120) fold the lowest into a 100-bin window
  {
    kind: 'quantile',
    options: { q: 0.3, maxBins: 100 },
    values: fc.oneof(
      { weight: 4, arbitrary: fc.double({ min: 1, max: 6, noNaN: true }) },
      { weight: 1, arbitrary: fc.double({ min: 6, max: 11, noNaN: true }) },
    ),
    maxLength: 300,
  },
];

/** One state for one chunk: part of it added, then (maybe) through a store, then the rest added. */
function buildChunk(kind: AggregationKind, options: Record<string, unknown>, chunk: Record_[], cut: number, trip: Trip): AggregationState {
  const at = chunk.length === 0 ? 0 : cut % (chunk.length + 1);
  let state = kind.create(options);
  for (const r of chunk.slice(0, at)) state.add(r.value, r.time);
  state = reload(kind, options, state, trip);
  for (const r of chunk.slice(at)) state.add(r.value, r.time);
  return state;
}

for (const c of cases) {
  test(`${c.kind} ${JSON.stringify(c.options)}: chunks merged in any order and grouping equal one state of all values`, () => {
    const kind = getAggregationKind(c.kind)!;
    const record = fc.record({ value: c.values, time: fc.integer({ min: 0, max: 6 }) });
    fc.assert(
      fc.property(
        fc.array(record, { maxLength: c.maxLength ?? 80, size: 'max' }),
        fc.array(fc.nat(), { minLength: 0, maxLength: 8 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.constantFrom(...TRIPS), fc.constantFrom(...TRIPS)), { minLength: 16, maxLength: 16 }),
        (records, cutPoints, steps) => {
          const whole = kind.create(c.options);
          for (const r of records) whole.add(r.value, r.time);

          const cuts = [...new Set(cutPoints.map((p) => p % (records.length + 1)))].sort((a, b) => a - b);
          const bounds = [0, ...cuts, records.length];
          let states = bounds.slice(1).map((end, i) => {
            const [cut, , trip] = steps[i % steps.length];
            return buildChunk(kind, c.options, records.slice(bounds[i], end), cut, trip);
          });
          // a random merge tree: any two states, each possibly through a store first
          for (let step = 0; states.length > 1; step++) {
            const [a, b, tripA, tripB] = steps[step % steps.length];
            const i = a % states.length;
            let j = b % (states.length - 1);
            if (j >= i) j++;
            const into = reload(kind, c.options, states[i], tripA);
            into.merge(reload(kind, c.options, states[j], tripB));
            states = states.filter((_, k) => k !== i && k !== j);
            states.push(into);
          }
          const merged = reload(kind, c.options, states[0], steps[0][3]);
          assert.deepEqual(merged.result(), whole.result());
          assert.deepEqual(merged.serialize(), whole.serialize());
        },
      ),
      // a failure is reported with the smallest counterexample found within the limit (shrinking long inputs is slow)
      { numRuns: 150, interruptAfterTimeLimit: 30_000 },
    );
  });
}

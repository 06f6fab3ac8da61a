/** approxDistinct's sparse mode: exact small counts, its encoding, the switch to dense, and states stored before it existed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAggregationKind } from '../../../src/components/aggregations/index.js';
import { HyperLogLog } from '../../../src/components/aggregations/hyperloglog.js';
import type { AggregationState } from '../../../src/engine/aggregation.js';
import { reload, TRIPS } from './helpers.js';
import {
  decodeRegisters,
  decodeSparse,
  FINE,
  linearCount,
  referencePrefix,
  referenceRegisters,
  referenceSparse,
  sparseEncoding,
} from './hll-reference.js';

const hll = getAggregationKind('approxDistinct')!;

function build(values: Iterable<unknown>, precision = 14): HyperLogLog {
  const state = hll.create({ precision });
  for (const v of values) state.add(v, 0);
  return state as HyperLogLog;
}

function cookies(from: number, to: number, prefix = 'cookie_'): string[] {
  return Array.from({ length: to - from }, (_, i) => `${prefix}${from + i}`);
}

/** Sparse entries allowed at precision p, from the definition: a table of 2^p / 4 slots, 3/4 full. */
const limit = (p: number) => (2 ** p / 4) * (3 / 4);

test('1 to 3000 distinct values read exactly their number at p=14 (no two of these share a 26-bit prefix)', () => {
  const state = build([]);
  const prefixes = new Set<number>();
  for (const [i, cookie] of cookies(0, 3000).entries()) {
    state.add(cookie);
    prefixes.add(referencePrefix(cookie));
    assert.equal(prefixes.size, i + 1, `cookie ${i} shares a prefix`);
    assert.equal(state.result(), i + 1);
  }
  assert.equal(state.dense, null);
  // the window of the issue: 225 impressions of 225 distinct cookies read 226 before the sparse mode
  assert.equal(build(cookies(0, 225)).result(), 225);
});

test('two values sharing a 26-bit prefix count once, and the estimate is the linear count of the prefixes', () => {
  // the first pair of cookies with a common prefix, found by the reference
  const seen = new Map<number, string>();
  let pair: [string, string] | undefined;
  for (let i = 0; pair === undefined; i++) {
    const cookie = `pair-${i}`;
    const other = seen.get(referencePrefix(cookie));
    if (other !== undefined) pair = [other, cookie];
    else seen.set(referencePrefix(cookie), cookie);
  }
  assert.equal(build(pair).result(), 1);
  const values = [...seen.values()].slice(0, 2000);
  assert.equal(build([...values, ...pair]).result(), linearCount(referenceSparse([...values, ...pair], 14).length));
});

test('while sparse the estimate is the linear count of the distinct prefixes, never more than the values added', () => {
  const value = fc.oneof(
    fc.integer({ min: 0, max: 4000 }).map((n) => `c${n}`),
    fc.integer(),
    fc.string({ maxLength: 4 }),
  );
  fc.assert(
    fc.property(fc.array(value, { maxLength: 3000, size: 'max' }), fc.integer({ min: 4, max: 18 }), (values, p) => {
      const state = build(values, p);
      const entries = referenceSparse(values, p);
      assert.equal(state.dense === null, entries.length <= limit(p), `${entries.length} prefixes at p=${p}`);
      if (state.dense !== null) {
        assert.deepEqual(decodeRegisters(state.serialize() as Uint8Array), referenceRegisters(values, p));
        return;
      }
      assert.deepEqual(state.serialize(), sparseEncoding(entries, p));
      assert.equal(state.result(), linearCount(entries.length));
      assert.ok(state.result() <= values.length, `${state.result()} for ${values.length} values`);
    }),
    { numRuns: 100 },
  );
});

test('the sparse encoding: prefix gaps as Rice codes, rank bits only where the prefix bits after the index are 0', () => {
  // cookie_2908's prefix ends in 12 zero bits: its rank at p=14 is not in the prefix
  assert.equal(referencePrefix('cookie_2908') % 2 ** (FINE - 14), 0);
  const values = ['a', 'b', 1, 2, true, { x: 1 }, 'cookie_2908'];
  for (const p of [8, 14, 18]) {
    const stored = build(values, p).serialize() as Uint8Array;
    const entries = referenceSparse(values, p);
    assert.deepEqual(stored, sparseEncoding(entries, p), `p=${p}`);
    assert.deepEqual(decodeSparse(stored), entries, `p=${p}`);
    assert.deepEqual(hll.deserialize(stored, { precision: p }).serialize(), stored, `p=${p}`);
  }
  // alone: count 1, then the gap (prefix) as q 1-bits, a 0 and 25 low bits, then 6 rank bits
  const q = Math.floor(referencePrefix('cookie_2908') / 2 ** 25);
  const alone = build(['cookie_2908']).serialize() as Uint8Array;
  assert.equal(alone.length, 3 + Math.ceil((q + 1 + 25 + 6) / 8));
});

test('a state turns dense exactly past 3 * 2^p / 16 distinct prefixes, with the registers of all its values', () => {
  for (const p of [4, 8, 10]) {
    const state = build([], p);
    const values = cookies(0, limit(p) + 40, `limit${p}-`);
    for (const [i, cookie] of values.entries()) {
      state.add(cookie);
      const seen = values.slice(0, i + 1);
      const prefixes = referenceSparse(seen, p).length;
      assert.equal(state.dense === null, prefixes <= limit(p), `p=${p}: ${prefixes} prefixes`);
      if (state.dense !== null) assert.deepEqual(state.dense, referenceRegisters(seen, p));
    }
  }
});

/** States written before the sparse mode, as hex, with the values (`old-0`, `old-1`, ...) and results of that code. */
const OLD_STATES = [
  {
    precision: 14,
    values: 40,
    format: 1,
    result: 40,
    hex:
      '010e819c018003829c02bf15803dffa40480e501c3c902bfbd03bed10180a301c159bfc901818401ff7e80a801c14383eb03feeb01fe1b80d903c051' +
      '8422fd1b809b03bfe903c107ff2cc10cffa901830fbdec01c03f80920382c102fec803c03cc2ec01feea01c3eb02',
  },
  {
    precision: 12,
    values: 300,
    format: 1,
    result: 300,
    hex:
      '010cc102800d8001800980038104c1063ec00e40840cbd0bbf20c10540bf088006c202fe0cc20afe09c205be01c00cc012830fbd01c11541fe028116' +
      'bf02c407fe028005c0108305bb1182098011bf108102801bbf01bf078002c005c213bf078008bf02c004c802b80f8203c102fe07ff05c0038102c005' +
      '8003bf078105c203be01bf04c101ff0581158001ff058404be038119be0e7f8104bf01c001c0038502fd07ff018204810bfe05be1ac3023fbe0d8001' +
      'c207810bfd048403fe03be038002c0058701798005c001c002c006800e80018104bf0cc001c303be05c0058101bf018002800cc1067e80098003c104' +
      '8014ff0380018301c0188010fd03c001c205ff01ff04c00181068001ff11408201ff04ff07c109ff0740c006408001c002c1038201fd0741ff118001' +
      'c10c3f800cc004860dfd06be218006c10ec1078301fd063ebf0680018303bd1fc105ff01810980087f81033f408103bf038013800541ff0d800bc402' +
      'be14fe058202fe038304bf05fe02c4097cc103c606ba058203ff04fe05c00281078202be06bf048003c1148006ff0f8104c002bf068105ff0ec00740' +
      '80068206be07c002870afa05bf0e80108009c011840dfd0fc00e80098207bd07800bc104ff078407bc06c0028108ff08c010c111ff0580028216bf0c' +
      'bf01c108bf05c007c1098004c001ff0e8003c009800840c001c00581048404bb09c00dc11cff0ac1133fc3018001be03bf0b4080058004c122ff01c2' +
      '07ff01bf01c301ff05c308bc03bf068303',
  },
  {
    precision: 4,
    values: 200,
    format: 2,
    result: 238,
    hex: '02040606040406040507040c090502030606',
  },
  {
    precision: 8,
    values: 3000,
    format: 3,
    result: 2850,
    hex:
      '03081d8f596a04500cc39867c9c9147affeb96349fc18b4ca66807c24ffc069ed1970229dd47263ba475fc288313f94e1f819c7bd1244c1422c8dd48' +
      '629cfefe0b3a31c11062f5f21ee2935dcf5623cd91cd7ddc313447d1c749335e32df2c47badb2b1aba79eaa06c787310ed3cbbb7e98bd79b7cdae40f',
  },
  {
    precision: 14,
    values: 0,
    format: 1,
    result: 0,
    hex: '010e',
  },
];

test('states stored before the sparse mode read back with their registers and results, and store the same bytes', () => {
  for (const old of OLD_STATES) {
    const bytes = Buffer.from(old.hex, 'hex');
    const label = `p=${old.precision} n=${old.values}`;
    assert.equal(bytes[0], old.format, label);
    assert.deepEqual(decodeRegisters(bytes), referenceRegisters(cookies(0, old.values, 'old-'), old.precision), label);
    for (const trip of TRIPS) {
      const state = hll.deserialize(bytes, { precision: old.precision });
      assert.equal(state.result(), old.result, label);
      // an empty old state is the empty state, which is now sparse
      const again = reload(hll, { precision: old.precision }, state, trip);
      assert.deepEqual(again.serialize(), old.values === 0 ? new Uint8Array([4, old.precision, 0]) : new Uint8Array(bytes), label);
    }
  }
});

test('old stored states merge with new sparse and dense states in any order into the registers of all values', () => {
  for (const old of OLD_STATES) {
    const p = old.precision;
    const all = cookies(0, old.values + 5000, 'old-');
    const parts: (() => AggregationState)[] = [
      () => hll.deserialize(Buffer.from(old.hex, 'hex'), { precision: p }),
      () => build(all.slice(old.values, old.values + 20), p), // sparse
      () => build(all.slice(old.values + 20), p), // dense
    ];
    const expected = referenceRegisters(all, p);
    let first: Uint8Array | undefined;
    for (const [a, b, c] of [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ]) {
      for (const grouping of ['left', 'right']) {
        const state = parts[a]();
        if (grouping === 'left') {
          state.merge(parts[b]());
          state.merge(parts[c]());
        } else {
          const rest = parts[b]();
          rest.merge(parts[c]());
          state.merge(reload(hll, { precision: p }, rest, 'bson'));
        }
        const stored = state.serialize() as Uint8Array;
        assert.deepEqual(decodeRegisters(stored), expected, `p=${p} ${a}${b}${c} ${grouping}`);
        first ??= stored;
        assert.deepEqual(stored, first, `p=${p} ${a}${b}${c} ${grouping}`);
      }
    }
  }
});

test('sparse states whose entries add up past the limit but whose union does not stay sparse when merged', () => {
  const a = cookies(0, 150);
  const b = cookies(50, 190);
  assert.ok(referenceSparse(a, 10).length + referenceSparse(b, 10).length > limit(10));
  const whole = build([...a, ...b], 10);
  assert.equal(whole.dense, null);
  for (const trip of TRIPS) {
    const merged = reload(hll, { precision: 10 }, build(a, 10), trip);
    merged.merge(reload(hll, { precision: 10 }, build(b, 10), trip));
    assert.deepEqual(merged.serialize(), whole.serialize(), trip);
    assert.equal(merged.result(), 190, trip);
  }
});

/** approxDistinct: accuracy, registers against a plain reference, the dense encodings, precisions, stored binary forms. */
import { deflateRawSync } from 'node:zlib';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Binary } from 'mongodb';
import { getAggregationKind } from '../../../src/components/aggregations/index.js';
import { Hash64, hashValue } from '../../../src/components/aggregations/hash.js';
import { HyperLogLog } from '../../../src/components/aggregations/hyperloglog.js';
import type { AggregationState } from '../../../src/engine/aggregation.js';
import { reload, seeded, TRIPS } from './helpers.js';
import { decodeRegisters, referenceRegisters } from './hll-reference.js';

const hll = getAggregationKind('approxDistinct')!;

function build(values: Iterable<unknown>, precision = 14): AggregationState {
  const state = hll.create({ precision });
  for (const v of values) state.add(v, 0);
  return state;
}

function* cookies(n: number, prefix = 'cookie_'): Generator<string> {
  for (let i = 0; i < n; i++) yield `${prefix}${i}`;
}

const standardError = (p: number) => 1.04 / Math.sqrt(2 ** p);

function assertWithin(estimate: unknown, truth: number, p: number, label: string): void {
  const allowed = 3 * standardError(p) * truth;
  assert.ok(
    typeof estimate === 'number' && Math.abs(estimate - truth) <= allowed,
    `${label}: estimate ${String(estimate)} for ${truth}, allowed ±${allowed.toFixed(1)}`,
  );
}

test('estimates within 3 standard errors at 0, 1, 10, 1000, 100000 and 1000000 distinct values (p=14)', () => {
  for (const n of [0, 1, 10, 1000, 100_000, 1_000_000]) {
    assertWithin(build(cookies(n)).result(), n, 14, `strings ${n}`);
    // numbers, each added twice: duplicates change nothing
    const r = seeded(n + 1);
    const offset = Math.floor(r() * 1e9);
    const numbers = build(
      (function* () {
        for (let i = 0; i < n; i++) yield offset + i * 7919;
        for (let i = 0; i < n; i++) yield offset + i * 7919;
      })(),
    );
    assertWithin(numbers.result(), n, 14, `numbers ${n}`);
  }
  assert.equal(build([]).result(), 0);
  assert.equal(build(['only']).result(), 1);
  assert.equal(build(cookies(10)).result(), 10);
});

test('no bias where small and large cardinalities meet (about 2.5 * 2^p, where the original estimator is +2.4% off)', () => {
  for (const n of [38_000, 41_000, 45_000]) {
    let total = 0;
    for (let trial = 0; trial < 10; trial++) {
      const estimate = build(cookies(n, `bias${trial}-`)).result() as number;
      assertWithin(estimate, n, 14, `n=${n} trial ${trial}`);
      total += (estimate - n) / n;
    }
    assert.ok(Math.abs(total / 10) < 0.006, `n=${n}: mean relative error ${(total / 10) * 100}%`);
  }
});

test('estimates within 3 standard errors at every precision', () => {
  for (const p of [4, 6, 8, 10, 12, 16, 18]) {
    for (const n of [100, 50_000]) assertWithin(build(cookies(n, `p${p}-`), p).result(), n, p, `p=${p} n=${n}`);
  }
});

test('dense registers and the estimate equal a plain reference computation', () => {
  for (const [p, n] of [
    [10, 5000],
    [10, 20_000],
    [14, 300_000],
    [14, 20_000],
    [16, 20_000],
  ]) {
    const values = [...cookies(n, `ref${p}-`)];
    const registers = referenceRegisters(values, p);
    const state = build(values, p);
    assert.notEqual((state as HyperLogLog).dense, null, `p=${p} n=${n} is past the sparse limit`);
    const stored = state.serialize() as Uint8Array;
    assert.equal(stored[1], p);
    assert.deepEqual(decodeRegisters(stored), registers, `p=${p} n=${n}`);

    // Ertl (2017): n ~ m^2 / (2 ln 2 (m sigma(C0/m) + sum_k C_k 2^-k + m tau(1 - C_{q+1}/m) 2^-q)), as plain series
    const m = 2 ** p;
    const q = 64 - p;
    const histogram = new Array<number>(q + 2).fill(0);
    for (const r of registers) histogram[r]++;
    const sigmaSeries = (x: number) => {
      if (x === 1) return Infinity;
      let total = x;
      for (let k = 1; k < 64; k++) total += x ** (2 ** k) * 2 ** (k - 1);
      return total;
    };
    const tauSeries = (x: number) => {
      if (x === 0 || x === 1) return 0;
      let total = 1 - x;
      for (let k = 1; k < 64; k++) total -= (1 - x ** (2 ** -k)) ** 2 * 2 ** -k;
      return total / 3;
    };
    let z = m * sigmaSeries(histogram[0] / m) + m * tauSeries(1 - histogram[q + 1] / m) * 2 ** -q;
    for (let k = 1; k <= q; k++) z += histogram[k] * 2 ** -k;
    const estimate = (m * m) / (2 * Math.LN2 * z);
    assert.equal(state.result(), Math.round(estimate), `p=${p} n=${n}`);
  }
});

test('small states stay small: sparse in memory and in the store; a dense state stores its smallest encoding', () => {
  const small = build(cookies(10)) as HyperLogLog;
  assert.equal(small.dense, null);
  assert.ok((small.serialize() as Uint8Array).length < 50);
  assert.deepEqual(build([]).serialize(), new Uint8Array([4, 14, 0]));
  // under 3 bytes per value sparse
  const hundreds = build(cookies(500)).serialize() as Uint8Array;
  assert.equal(hundreds[0], 4);
  assert.ok(hundreds.length < 1600, `${hundreds.length} bytes`);
  // dense: the deflated registers when many registers are set
  for (const n of [5000, 50_000, 300_000]) {
    const state = build(cookies(n)) as HyperLogLog;
    const stored = state.serialize() as Uint8Array;
    const registers = decodeRegisters(stored);
    const sparseBytes = sparseLength(registers);
    assert.equal(stored[0], 3, `${n}`);
    assert.equal(stored.length, 2 + deflateRawSync(registers, { level: 1 }).length);
    assert.ok(stored.length < Math.min(sparseBytes, 2 + 16384), `${n}: ${stored.length} bytes, sparse ${sparseBytes}`);
  }
});

/** Bytes of the sparse encoding of these registers: 2 + the varints of the entry deltas. */
function sparseLength(registers: Uint8Array): number {
  let bytes = 2;
  let previous = 0;
  registers.forEach((rank, index) => {
    if (rank === 0) return;
    const entry = index * 64 + rank;
    for (let delta = entry - previous; ; delta = Math.floor(delta / 128)) {
      bytes++;
      if (delta < 128) break;
    }
    previous = entry;
  });
  return bytes;
}

test('every encoding round-trips through every store', () => {
  for (const n of [0, 3, 500, 3000, 200_000, 300_000]) {
    const state = build(cookies(n));
    for (const trip of TRIPS) {
      const back = reload(hll, {}, state, trip);
      assert.equal(back.result(), state.result(), `${n} ${trip}`);
      assert.deepEqual(back.serialize(), state.serialize(), `${n} ${trip}`);
    }
  }
});

test('merging sparse into dense and dense into sparse equals one state of all values', () => {
  const few = [...cookies(300, 'few-')];
  const many = [...cookies(200_000, 'many-')];
  const whole = build([...few, ...many]);
  for (const trip of TRIPS) {
    const sparseIntoDense = reload(hll, {}, build(many), trip);
    sparseIntoDense.merge(reload(hll, {}, build(few), trip));
    const denseIntoSparse = reload(hll, {}, build(few), trip);
    denseIntoSparse.merge(reload(hll, {}, build(many), trip));
    for (const merged of [sparseIntoDense, denseIntoSparse]) {
      assert.equal(merged.result(), whole.result(), trip);
      assert.deepEqual(merged.serialize(), whole.serialize(), trip);
    }
  }
});

test('a state stored at a higher precision folds exactly to a lower one, and mixed precisions merge at the lower', () => {
  for (const n of [20, 3000, 100_000]) {
    const values = [...cookies(n, `fold${n}-`)];
    const at12 = build(values, 12);
    const folded = hll.deserialize(build(values, 14).serialize(), { precision: 12 });
    assert.deepEqual(folded.serialize(), at12.serialize(), `n=${n}`);
    // a stored p=10 state read with p=14 keeps p=10; states merged into it fold down to it
    const kept = hll.deserialize(build(values.slice(0, n / 2), 10).serialize(), { precision: 14 });
    kept.merge(build(values.slice(n / 2), 14));
    assert.deepEqual(kept.serialize(), build(values, 10).serialize(), `n=${n}`);
    const into14 = build(values.slice(n / 2), 14);
    into14.merge(build(values.slice(0, n / 2), 10));
    assert.deepEqual(into14.serialize(), build(values, 10).serialize(), `n=${n}`);
  }
});

test('reads binary data as the MongoDB driver, Node and plain objects hand it back', () => {
  const state = build(cookies(20));
  const bytes = state.serialize() as Uint8Array;
  const spare = new Binary();
  spare.write(bytes, 0); // a Binary whose buffer (256 bytes) is larger than its content
  assert.ok(spare.buffer.length > spare.position);
  const pooled = Buffer.from(bytes); // small Buffers share a pool: non-zero byteOffset
  const padded = new Uint8Array(bytes.length + 50);
  padded.set(bytes);
  const forms: unknown[] = [
    bytes,
    new Binary(bytes),
    spare,
    pooled,
    { buffer: new Uint8Array(bytes) },
    { buffer: padded, position: bytes.length },
  ];
  for (const form of forms) {
    assert.deepEqual(hll.deserialize(form as Uint8Array, {}).serialize(), bytes);
  }
});

test('corrupt stored states are invalid-state errors', () => {
  const deflated = build(cookies(300_000)).serialize() as Uint8Array;
  assert.equal(deflated[0], 3);
  const dense = Uint8Array.from([2, 14, ...decodeRegisters(deflated)]);
  assert.equal(hll.deserialize(dense, {}).result(), hll.deserialize(deflated, {}).result());
  for (const bad of [
    'x',
    null,
    [1, 14],
    new Uint8Array([]),
    new Uint8Array([3, 14]),
    new Uint8Array([1, 30]),
    new Uint8Array([1, 14, 0]), // rank 0
    new Uint8Array([1, 14, 5, 0x80]), // truncated varint
    new Uint8Array([1, 14, 0x81, 0x01, 0]), // second entry not increasing
    new Uint8Array([4, 30]),
    new Uint8Array([4, 14, 0x80]), // truncated count
    new Uint8Array([4, 14, 1, 0, 0, 0]), // 24 bits of a 26-bit entry
    new Uint8Array([4, 14, 1, 0xc0, 0, 0, 0]), // one entry, gap 2 * 2^25: prefix 2^26
    new Uint8Array([4, 14, 1, 0, 0, 0, 0]), // prefix 0, rank 0: below the 12 prefix bits after the index
    new Uint8Array([4, 14, 1, 0, 0, 0, 0x34]), // prefix 0, rank 52: beyond 64 - 14 + 1
    new Uint8Array([4, 14, 1, 0, 0, 0, 0x41]), // prefix 1, then padding that is not 0
    new Uint8Array([4, 14, 0, 0]), // no entries, then a byte
    dense.subarray(0, 100),
    Uint8Array.from([...dense, 0]),
    deflated.subarray(0, 100), // inflates short
    Uint8Array.from([3, 14, ...deflateRawSync(new Uint8Array(16385))]), // one register too many
    Uint8Array.from([3, 14, ...deflateRawSync(new Uint8Array(16384).fill(60))]), // ranks beyond 64 - p
    new Uint8Array([3, 14, 0xff, 0xff]), // not deflate
  ]) {
    assert.throws(() => hll.deserialize(bad, {}), { name: 'AggregationError', code: 'invalid-state' }, String(bad));
  }
});

test('the hash tells "1" from 1 and true from "true", not 1 from 1.0 or -0 from 0, and ignores key order', () => {
  const h = new Hash64();
  const key = (v: unknown) => {
    hashValue(v, h);
    return `${h.h1},${h.h2}`;
  };
  assert.notEqual(key('1'), key(1));
  assert.notEqual(key('true'), key(true));
  assert.notEqual(key('[1]'), key([1]));
  assert.notEqual(key(''), key('\u0000'));
  assert.notEqual(key('ab'), key('ba'));
  assert.equal(key(1), key(1.0));
  assert.equal(key(-0), key(0));
  assert.equal(key({ a: 1, b: 2 }), key({ b: 2, a: 1 }));
  assert.equal(key(new Date(0)), key('1970-01-01T00:00:00.000Z'));
  assert.equal(build(['1', 1, 1.0, 'true', true]).result(), 4);
});

test('the 64 hash bits are balanced and the two halves uncorrelated', () => {
  const h = new Hash64();
  const n = 100_000;
  const ones = new Array<number>(64).fill(0);
  let sameBits = 0;
  for (let i = 0; i < n; i++) {
    hashValue(`c${i}`, h);
    for (let b = 0; b < 32; b++) {
      ones[b] += (h.h1 >>> b) & 1;
      ones[32 + b] += (h.h2 >>> b) & 1;
      sameBits += ((h.h1 ^ h.h2) >>> b) & 1 ? 0 : 1;
    }
  }
  // 5 standard deviations of a fair coin over n (resp. 32 n) draws
  for (let b = 0; b < 64; b++) assert.ok(Math.abs(ones[b] / n - 0.5) < (5 * 0.5) / Math.sqrt(n), `bit ${b}: ${ones[b] / n}`);
  assert.ok(Math.abs(sameBits / (32 * n) - 0.5) < (5 * 0.5) / Math.sqrt(32 * n), `halves agree on ${sameBits / (32 * n)}`);
});

test('the hash has 64 bits: no collisions among 500,000 cookies, and equal first halves have different second halves', () => {
  // a 32-bit hash would collide about 29 times here (n^2 / 2^33)
  const h = new Hash64();
  const pairs = new Set<bigint>();
  const byFirstHalf = new Map<number, number>();
  let firstHalfCollisions = 0;
  for (let i = 0; i < 500_000; i++) {
    hashValue(`c${i}`, h);
    pairs.add((BigInt(h.h1 >>> 0) << 32n) | BigInt(h.h2 >>> 0));
    const seen = byFirstHalf.get(h.h1);
    if (seen !== undefined) {
      firstHalfCollisions++;
      assert.notEqual(seen, h.h2);
    } else byFirstHalf.set(h.h1, h.h2);
  }
  assert.equal(pairs.size, 500_000);
  assert.ok(firstHalfCollisions > 5, 'the first halves alone do collide, as 32 bits must');
});

test('precision is checked and described', () => {
  assert.equal(
    hll.describeState({}),
    'HyperLogLog, precision 14: a sparse list of hash prefixes up to 3072 distinct values (exact unless two share a prefix), then 16 KiB of registers (~0.81% std. error)',
  );
  assert.equal(
    hll.describeState({ precision: 8 }),
    'HyperLogLog, precision 8: a sparse list of hash prefixes up to 48 distinct values (exact unless two share a prefix), then 256 bytes of registers (~6.50% std. error)',
  );
  assert.throws(() => hll.create({ precision: 19 }), { code: 'invalid-option', message: /precision.*from 4 to 18, got 19/ });
  assert.throws(() => hll.create({ precision: 3 }), { code: 'invalid-option' });
  assert.throws(() => hll.create({ precision: '14' }), { code: 'invalid-option' });
});

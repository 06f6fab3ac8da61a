/** Plain references for approxDistinct, from the definitions with BigInt, written independently of hyperloglog.ts. */
import { inflateRawSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { Hash64, hashValue } from '../../../src/components/aggregations/hash.js';

/** Bits of hash prefix a sparse state keeps per value. */
export const FINE = 26;

/** The 64-bit hash of a value: first half, then second half. */
function hash64(value: unknown): bigint {
  const h = new Hash64();
  hashValue(value, h);
  return (BigInt(h.h1 >>> 0) << 32n) | BigInt(h.h2 >>> 0);
}

/** The register of a value: index = first p bits of the 64-bit hash, rank = 1 + leading zeros of the rest. */
export function referenceRegister(value: unknown, p: number): [number, number] {
  const x = hash64(value);
  const restBits = 64 - p;
  const rest = x & ((1n << BigInt(restBits)) - 1n);
  const bitLength = rest === 0n ? 0 : rest.toString(2).length;
  return [Number(x >> BigInt(restBits)), restBits - bitLength + 1];
}

/** The first 26 bits of a value's hash. */
export function referencePrefix(value: unknown): number {
  return Number(hash64(value) >> BigInt(64 - FINE));
}

/** The sparse entries of some values: [prefix, largest rank at p among the values with that prefix], by prefix. */
export function referenceSparse(values: Iterable<unknown>, p: number): [number, number][] {
  const entries = new Map<number, number>();
  for (const v of values) {
    const prefix = referencePrefix(v);
    entries.set(prefix, Math.max(entries.get(prefix) ?? 0, referenceRegister(v, p)[1]));
  }
  return [...entries].sort(([a], [b]) => a - b);
}

/** The registers of some values at precision p. */
export function referenceRegisters(values: Iterable<unknown>, p: number): Uint8Array {
  const registers = new Uint8Array(2 ** p);
  for (const v of values) {
    const [index, rank] = referenceRegister(v, p);
    registers[index] = Math.max(registers[index], rank);
  }
  return registers;
}

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 128; n = Math.floor(n / 128)) out.push((n % 128) + 128);
  out.push(n);
  return out;
}

/** All the unsigned varints in `bytes`. */
function varints(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let value = 0;
  let scale = 1;
  for (const byte of bytes) {
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) {
      out.push(value);
      value = 0;
      scale = 1;
    }
  }
  return out;
}

/** The Rice parameter for k entries: 26 - the bit length of k. */
const riceParameter = (k: number) => Math.max(0, FINE - k.toString(2).length);

const binary = (n: number, width: number) => n.toString(2).padStart(width, '0');

/**
 * The sparse encoding by definition: [4, p, varint k, then bits: per entry the prefix gap - 1 as
 * ones for gap >> b, a zero, the low b bits; then 6 rank bits if the prefix bits after the index
 * are 0; zeros to a whole byte].
 */
export function sparseEncoding(entries: [number, number][], p: number): Uint8Array {
  const b = riceParameter(entries.length);
  let bits = '';
  let previous = -1;
  for (const [prefix, rank] of entries) {
    const gap = prefix - previous - 1;
    previous = prefix;
    bits += '1'.repeat(Math.floor(gap / 2 ** b)) + '0' + (b === 0 ? '' : binary(gap % 2 ** b, b));
    if (prefix % 2 ** (FINE - p) === 0) bits += binary(rank, 6);
  }
  bits = bits.padEnd(Math.ceil(bits.length / 8) * 8, '0');
  const body = (bits.match(/.{8}/g) ?? []).map((byte) => parseInt(byte, 2));
  return Uint8Array.from([4, p, ...varint(entries.length), ...body]);
}

/** The entries of a stored sparse (format 4) state. */
export function decodeSparse(stored: Uint8Array): [number, number][] {
  assert.equal(stored[0], 4);
  const p = stored[1];
  const k = varints(stored.subarray(2))[0];
  const bits = [...stored.subarray(2 + varint(k).length)].map((byte) => binary(byte, 8)).join('');
  const b = riceParameter(k);
  let i = 0;
  const take = (n: number) => parseInt(bits.slice(i, (i += n)) || '0', 2);
  const entries: [number, number][] = [];
  for (let prefix = -1; entries.length < k;) {
    let q = 0;
    while (bits[i++] === '1') q++;
    prefix += q * 2 ** b + take(b) + 1;
    const low = prefix % 2 ** (FINE - p);
    entries.push([prefix, low === 0 ? take(6) : FINE - p - low.toString(2).length + 1]);
  }
  assert.ok(bits.length - i < 8 && !bits.slice(i).includes('1'), 'only zero padding is left');
  return entries;
}

/** The registers of a stored state, decoded plainly from any encoding (a sparse one folded to its precision). */
export function decodeRegisters(stored: Uint8Array): Uint8Array {
  const p = stored[1];
  if (stored[0] === 2) return new Uint8Array(stored.subarray(2));
  if (stored[0] === 3) return new Uint8Array(inflateRawSync(stored.subarray(2)));
  const registers = new Uint8Array(2 ** p);
  if (stored[0] === 4) {
    for (const [prefix, rank] of decodeSparse(stored)) {
      const index = Math.floor(prefix / 2 ** (FINE - p));
      registers[index] = Math.max(registers[index], rank);
    }
    return registers;
  }
  assert.equal(stored[0], 1);
  let entry = 0;
  for (const delta of varints(stored.subarray(2))) {
    entry += delta;
    registers[Math.floor(entry / 64)] = entry % 64;
  }
  return registers;
}

/** Linear counting over the 2^26 prefixes, for k distinct prefixes. */
export function linearCount(k: number): number {
  return Math.round(2 ** FINE * Math.log(2 ** FINE / (2 ** FINE - k)));
}

/**
 * A fast 64-bit hash of JSON values for HyperLogLog: two MurmurHash3-style lanes with different
 * constants run over the same 32-bit blocks (two UTF-16 code units each) and are cross-mixed and
 * finalised as in MurmurHash3 x86_128, so the two halves are independent and the pair has 64 bits.
 *
 * Strings hash their code units; numbers the bits of their float64 (so 1 and 1.0 are the same,
 * -0 is 0); booleans, objects and arrays (canonical JSON, sorted keys) are separate domains, each
 * with its own seed, so the string "1" and the number 1 hash differently.
 *
 * Allocation-free: the result is written into a reusable Hash64.
 */
import { canonicalJson } from './canonical-json.js';

/** The two 32-bit halves of one hash (as signed int32; use `>>> 0` for the unsigned value). */
export class Hash64 {
  h1 = 0;
  h2 = 0;
}

const C1 = 0xcc9e2d51 | 0;
const C2 = 0x1b873593;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93 | 0;

const SEED_STRING = 0x9747b28c | 0;
const SEED_NUMBER = 0x2545f491;
const SEED_BOOLEAN = 0x61c88647;
const SEED_JSON = 0x3c6ef372;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function finish(h1: number, h2: number, out: Hash64): void {
  h1 = (h1 + h2) | 0;
  h2 = (h2 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 = (h1 + h2) | 0;
  out.h1 = h1;
  out.h2 = (h2 + h1) | 0;
}

export function hashString(s: string, seed: number, out: Hash64): void {
  let h1 = seed;
  let h2 = ~seed;
  const n = s.length;
  let i = 0;
  for (const end = n - 1; i < end; i += 2) {
    const k = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
    let k1 = Math.imul(k, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, C2);
    h1 = (h1 << 13) | (h1 >>> 19);
    h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
    let k2 = Math.imul(k, C3);
    k2 = (k2 << 17) | (k2 >>> 15);
    h2 ^= Math.imul(k2, C4);
    h2 = (h2 << 15) | (h2 >>> 17);
    h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
  }
  if (i < n) {
    const k = s.charCodeAt(i);
    let k1 = Math.imul(k, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, C2);
    let k2 = Math.imul(k, C3);
    k2 = (k2 << 17) | (k2 >>> 15);
    h2 ^= Math.imul(k2, C4);
  }
  finish(h1 ^ n, h2 ^ n, out);
}

/** Two 32-bit words (e.g. the halves of a float64) in the domain of `seed`. */
export function hashWords(lo: number, hi: number, seed: number, out: Hash64): void {
  let h1 = seed;
  let h2 = ~seed;
  let k1 = Math.imul(lo, C1);
  k1 = (k1 << 15) | (k1 >>> 17);
  h1 ^= Math.imul(k1, C2);
  h1 = (h1 << 13) | (h1 >>> 19);
  h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  let k2 = Math.imul(lo, C3);
  k2 = (k2 << 17) | (k2 >>> 15);
  h2 ^= Math.imul(k2, C4);
  h2 = (h2 << 15) | (h2 >>> 17);
  h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
  k1 = Math.imul(hi, C1);
  k1 = (k1 << 15) | (k1 >>> 17);
  h1 ^= Math.imul(k1, C2);
  h1 = (h1 << 13) | (h1 >>> 19);
  h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  k2 = Math.imul(hi, C3);
  k2 = (k2 << 17) | (k2 >>> 15);
  h2 ^= Math.imul(k2, C4);
  h2 = (h2 << 15) | (h2 >>> 17);
  h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;
  finish(h1 ^ 8, h2 ^ 8, out);
}

const float = new Float64Array(1);
const words = new Uint32Array(float.buffer);

/** Hashes one non-null JSON value into `out`. */
export function hashValue(value: unknown, out: Hash64): void {
  switch (typeof value) {
    case 'string':
      hashString(value, SEED_STRING, out);
      return;
    case 'number':
      float[0] = value + 0; // -0 is 0
      hashWords(words[0], words[1], SEED_NUMBER, out);
      return;
    case 'boolean':
      hashWords(value ? 1 : 0, 0, SEED_BOOLEAN, out);
      return;
    default: {
      const json = canonicalJson(value);
      // an object whose JSON is not an object or array (a Date) is the value its JSON stands for
      if (json[0] !== '{' && json[0] !== '[') hashValue(JSON.parse(json), out);
      else hashString(json, SEED_JSON, out);
    }
  }
}

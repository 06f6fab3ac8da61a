/**
 * Golomb-Rice codes, for the gaps between sorted integers spread uniformly (the hash prefixes of a
 * sparse HyperLogLog): a gap g with parameter b is g >>> b in unary (that many 1-bits, then a 0)
 * and then its low b bits. With b near log2 of the mean gap, a gap costs about b + 2 bits, close to
 * the entropy of such gaps, where a varint rounds up to whole bytes of 7 bits. Most significant bit
 * first; the last byte is padded with 0-bits.
 */
import { AggregationError } from '../../engine/aggregation.js';

export class BitWriter {
  private bytes: Uint8Array;
  private length = 0;

  constructor(capacityBytes: number) {
    this.bytes = new Uint8Array(Math.max(capacityBytes, 1));
  }

  private bit(one: number): void {
    const byte = this.length >>> 3;
    if (byte === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    if (one) this.bytes[byte] |= 0x80 >>> (this.length & 7);
    this.length++;
  }

  /** The low `n` bits of `value` (n <= 31). */
  bits(value: number, n: number): void {
    for (let i = n - 1; i >= 0; i--) this.bit((value >>> i) & 1);
  }

  /** `g` with Rice parameter `b`. */
  rice(g: number, b: number): void {
    for (let q = Math.floor(g / 2 ** b); q > 0; q--) this.bit(1);
    this.bit(0);
    this.bits(g % 2 ** b, b);
  }

  finish(): Uint8Array {
    return this.bytes.slice(0, (this.length + 7) >>> 3);
  }
}

/** Reads what BitWriter wrote from `bytes` at `offset`; a read past the end or a bad padding is an `invalid-state` error. */
export class BitReader {
  private position: number;

  constructor(
    private readonly bytes: Uint8Array,
    offset: number,
    private readonly what: string,
  ) {
    this.position = offset * 8;
  }

  private fail(problem: string): never {
    throw new AggregationError('invalid-state', `stored ${this.what} state is corrupt: ${problem} at bit ${this.position}`);
  }

  private bit(): number {
    if (this.position >= this.bytes.length * 8) this.fail('unexpected end');
    const bit = (this.bytes[this.position >>> 3] >>> (7 - (this.position & 7))) & 1;
    this.position++;
    return bit;
  }

  bits(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) value = value * 2 + this.bit();
    return value;
  }

  /** A gap with Rice parameter `b`, at most `max`. */
  rice(b: number, max: number): number {
    let q = 0;
    while (this.bit() === 1) if (++q * 2 ** b > max) this.fail(`gap beyond ${max}`);
    return q * 2 ** b + this.bits(b);
  }

  /** Checks that only the 0-bits padding the last byte are left. */
  end(): void {
    const rest = this.bytes.length * 8 - this.position;
    if (rest >= 8 || (rest > 0 && this.bits(rest) !== 0)) this.fail('trailing bits');
  }
}

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
  /** The last `pending` bits written, not yet a whole byte. */
  private pending = 0;
  private pendingBits = 0;

  constructor(capacityBytes: number) {
    this.bytes = new Uint8Array(Math.max(Math.ceil(capacityBytes), 1));
  }

  private byte(value: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = value;
  }

  /** The low `n` bits of `value` (n <= 31). */
  bits(value: number, n: number): void {
    // at most 16 at a time, so that the pending bits (fewer than 8) and the new ones fit in 32
    if (n > 16) {
      this.bits(value >>> 16, n - 16);
      n = 16;
    }
    this.pending = (this.pending << n) | (value & ((1 << n) - 1));
    this.pendingBits += n;
    while (this.pendingBits >= 8) {
      this.pendingBits -= 8;
      this.byte((this.pending >>> this.pendingBits) & 0xff);
    }
    this.pending &= (1 << this.pendingBits) - 1;
  }

  /** `g` (below 2^31) with Rice parameter `b`. */
  rice(g: number, b: number): void {
    let q = g >>> b;
    for (; q >= 16; q -= 16) this.bits(0xffff, 16);
    this.bits(((1 << q) - 1) << 1, q + 1);
    this.bits(g, b);
  }

  finish(): Uint8Array {
    if (this.pendingBits > 0) this.byte((this.pending << (8 - this.pendingBits)) & 0xff);
    this.pendingBits = 0;
    return this.bytes.slice(0, this.length);
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

  /** The next `n` bits (n <= 31), a byte's worth at a time. */
  bits(n: number): number {
    let value = 0;
    while (n > 0) {
      const at = this.position >>> 3;
      if (at >= this.bytes.length) this.fail('unexpected end');
      const left = 8 - (this.position & 7);
      const take = Math.min(left, n);
      value = (value << take) | ((this.bytes[at] >>> (left - take)) & ((1 << take) - 1));
      this.position += take;
      n -= take;
    }
    return value;
  }

  /** A gap with Rice parameter `b`, at most `max` (below 2^31). */
  rice(b: number, max: number): number {
    const maxQuotient = max >>> b;
    let q = 0;
    while (this.bit() === 1) if (++q > maxQuotient) this.fail(`gap beyond ${max}`);
    return (q << b) + this.bits(b);
  }

  /** Checks that only the 0-bits padding the last byte are left. */
  end(): void {
    const rest = this.bytes.length * 8 - this.position;
    if (rest >= 8 || (rest > 0 && this.bits(rest) !== 0)) this.fail('trailing bits');
  }
}

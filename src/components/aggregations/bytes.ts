/**
 * Compact binary encodings for serialized sketch states: unsigned and zigzag varints, raw
 * float64, and reading back whatever form the store returns binary data in.
 */
import { AggregationError } from '../../engine/aggregation.js';

/** A growable byte buffer written front to back. */
export class ByteWriter {
  private bytes: Uint8Array;
  private length = 0;

  constructor(capacity = 64) {
    this.bytes = new Uint8Array(capacity);
  }

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
  }

  byte(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  /** An unsigned integer up to 2^53 in 7-bit groups, least significant first. */
  varint(value: number): void {
    this.reserve(8);
    while (value >= 0x80) {
      this.bytes[this.length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.bytes[this.length++] = value;
  }

  /** A signed 32-bit integer, zigzag-mapped so small magnitudes take one byte. */
  zigzag(value: number): void {
    this.varint(((value << 1) ^ (value >> 31)) >>> 0);
  }

  float64(value: number): void {
    this.reserve(8);
    new DataView(this.bytes.buffer, this.bytes.byteOffset + this.length, 8).setFloat64(0, value, true);
    this.length += 8;
  }

  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.bytes.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** The written bytes, exactly sized (a copy, so the writer's spare capacity is not stored). */
  finish(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** Reads what ByteWriter wrote; every read past the end or malformed value is an `invalid-state` error. */
export class ByteReader {
  offset = 0;

  constructor(
    readonly bytes: Uint8Array,
    private readonly what: string,
  ) {}

  get done(): boolean {
    return this.offset >= this.bytes.length;
  }

  private fail(problem: string): never {
    throw new AggregationError('invalid-state', `stored ${this.what} state is corrupt: ${problem} at byte ${this.offset}`);
  }

  byte(): number {
    if (this.offset >= this.bytes.length) this.fail('unexpected end');
    return this.bytes[this.offset++];
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      value += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 0x80;
      if (scale > 2 ** 53) this.fail('varint too long');
    }
    return value;
  }

  zigzag(): number {
    const u = this.varint();
    if (u > 0xffffffff) this.fail('zigzag value out of range');
    return (u >>> 1) ^ -(u & 1);
  }

  float64(): number {
    if (this.offset + 8 > this.bytes.length) this.fail('unexpected end');
    const value = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.offset, 8).getFloat64(0, true);
    this.offset += 8;
    return value;
  }

  /** The next n bytes as a view (not a copy). */
  raw(n: number): Uint8Array {
    if (this.offset + n > this.bytes.length) this.fail('unexpected end');
    const view = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return view;
  }

  end(): void {
    if (!this.done) this.fail(`${this.bytes.length - this.offset} trailing bytes`);
  }
}

/**
 * The bytes of a stored binary value, in any form a store hands it back: a Uint8Array or Node
 * Buffer, or a BSON `Binary` from the MongoDB driver (`value()`, or `buffer` up to `position`),
 * recognised by shape so this module need not import the driver.
 */
export function storedBytes(stored: unknown, what: string): Uint8Array {
  if (stored instanceof Uint8Array) return stored;
  if (typeof stored === 'object' && stored !== null) {
    const binary = stored as { value?: unknown; buffer?: unknown; position?: unknown };
    if (typeof binary.value === 'function') {
      const value: unknown = (binary.value as (asRaw: boolean) => unknown).call(stored, true);
      if (value instanceof Uint8Array) return value;
    }
    if (binary.buffer instanceof Uint8Array) {
      return typeof binary.position === 'number' ? binary.buffer.subarray(0, binary.position) : binary.buffer;
    }
  }
  throw new AggregationError('invalid-state', `stored ${what} state is not binary data (got ${describeStored(stored)})`);
}

export function describeStored(stored: unknown): string {
  if (stored === null) return 'null';
  if (Array.isArray(stored)) return 'an array';
  if (stored instanceof Uint8Array) return `${stored.length} bytes`;
  return typeof stored === 'object' ? 'an object' : `${typeof stored} ${JSON.stringify(stored)}`;
}

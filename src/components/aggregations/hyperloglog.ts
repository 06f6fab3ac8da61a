/**
 * HyperLogLog over a 64-bit hash, with the sparse mode of HLL++ (Heule, Nunkesser and Hall, 2013).
 *
 * Dense: 2^p registers (a Uint8Array), each the largest "rank" (position of the first 1-bit in the
 * 64 - p hash bits after the register index) seen for that register; Ertl's estimator.
 *
 * Sparse, while a group has few values: one entry per distinct 26-bit hash prefix, packed as
 * (prefix << 6 | rank at p) in an open-addressing table. The prefixes are 2^26 fine registers, so
 * the estimate is linear counting over them, round(2^26 ln(2^26 / (2^26 - k))) for k entries. Up to
 * k = 8192 that is k itself (the correction, about k^2 / 2^27, stays below a half): n distinct values
 * read n unless two share a prefix (chance about n^2 / 2^27, 7% at n = 3000, and then n - 1), never
 * more than the values added. Past 3 * 2^p / 16 entries (a table of 2^p / 4 slots, as many bytes as
 * the registers; 3072 entries at p = 14, so only p >= 16 goes past 8192) the state turns dense:
 * register prefix >>> (26 - p) takes the entry's rank, which is already the rank at p.
 *
 * The form depends only on the set of prefixes (dense exactly when there are more than the limit),
 * so on the hashes added: merges (a union of entries that turns dense past the limit; with a dense
 * state, register-wise max) give the same state in any order and grouping. A state stored before
 * the sparse mode (formats 1 to 3) reads as dense, however few its registers: its prefixes are gone.
 *
 * Serialized form (Uint8Array):
 * - sparse: [4, p, varint k, bits: per entry the gap to the previous prefix minus 1 as a Rice code
 *   with parameter 26 - bit length of k (see rice.ts), then its rank in 6 bits only if the 26 - p
 *   prefix bits after the register index are all 0 (else they give the rank)]
 * - dense, the smallest of:
 *   - [1, p, varint deltas of the sorted (index << 6 | rank) of the set registers...] (what small
 *     states stored before the sparse mode; now read as dense, and taken for dense states with few
 *     registers set)
 *   - [2, p, register 0, ..., register 2^p - 1]
 *   - [3, p, raw deflate (level 1) of the dense registers]: registers hold small numbers, so this is
 *     about a third of dense; a database reads and writes a third of the bytes
 *   The choice depends on the registers only, so equal states always store equal bytes.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { ByteReader, ByteWriter, storedBytes } from './bytes.js';
import { sameKind } from './checks.js';
import { Hash64, hashValue } from './hash.js';
import { BitReader, BitWriter } from './rice.js';
import { AggregationError, type AggregationState, type StoredValue } from '../../engine/aggregation.js';

export const MIN_PRECISION = 4;
export const MAX_PRECISION = 18;
/** Bits of the hash prefix a sparse entry keeps: with the 6 rank bits, an entry fills 32 bits. */
const SPARSE_PRECISION = 26;
const SPARSE_REGISTERS = 2 ** SPARSE_PRECISION;
const COARSE = 1;
const DENSE = 2;
const DEFLATED = 3;
const SPARSE = 4;
/** Sparse encodings up to this many bytes are kept without trying to deflate the registers. */
const MIN_DEFLATED_BYTES = 1024;
const NO_ENTRIES = new Uint32Array(0);
const HASH = new Hash64();

/** Ertl's sigma(x) = x + sum_k x^(2^k) 2^(k-1), for the registers still zero (x = their share). */
function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  for (let previous = -1; previous !== z;) {
    x *= x;
    previous = z;
    z += x * y;
    y += y;
  }
  return z;
}

/** Ertl's tau(x), for the registers at the highest possible rank (x = share of the others). */
function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (let previous = -1; previous !== z;) {
    x = Math.sqrt(x);
    previous = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
  }
  return z / 3;
}

/** Sparse entries a state at precision p holds before turning dense: its table of 2^p / 4 slots (2^p bytes) 3/4 full. */
export function sparseLimit(p: number): number {
  return (3 * 2 ** p) / 16;
}

/** The Rice parameter for the prefix gaps of k entries: about log2 of their mean gap, 2^26 / k. */
function riceParameter(k: number): number {
  return Math.max(0, SPARSE_PRECISION - (32 - Math.clz32(k)));
}

export function standardError(p: number): number {
  return 1.04 / Math.sqrt(2 ** p);
}

/**
 * Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog sketches",
 * 2017), computed from the histogram of register values: unlike the original estimate with linear
 * counting below 2.5 m, it has no bias bump where the two meet (about +2.4% at 2.5 m for p = 14),
 * and needs no empirical correction tables. Rounded to an integer; it depends on the registers
 * only, never on the order they are visited.
 */
function ertl(registers: Uint8Array, p: number): number {
  const m = registers.length;
  const q = 64 - p;
  const histogram = new Int32Array(q + 2);
  for (let i = 0; i < m; i++) histogram[registers[i]]++;
  let z = m * tau((m - histogram[q + 1]) / m);
  for (let k = q; k >= 1; k--) z = 0.5 * (z + histogram[k]);
  z += m * sigma(histogram[0] / m);
  return Math.round((m * m) / (2 * Math.LN2 * z));
}

/** The smallest of the dense encodings (see the module comment); depends only on the registers. */
function serializeRegisters(registers: Uint8Array, p: number): Uint8Array {
  const m = registers.length;
  let set = 0;
  for (let i = 0; i < m; i++) if (registers[i] !== 0) set++;
  let coarse: Uint8Array | undefined;
  if (set < m) {
    // varints of the deltas of (index << 6 | rank), 7 bits a byte, least significant first; below 2^24
    coarse = new Uint8Array(2 + set * 4);
    coarse[0] = COARSE;
    coarse[1] = p;
    let n = 2;
    let previous = 0;
    for (let i = 0; i < m; i++) {
      if (registers[i] === 0) continue;
      const entry = (i << 6) | registers[i];
      let delta = entry - previous;
      previous = entry;
      for (; delta >= 0x80; delta >>>= 7) coarse[n++] = (delta & 0x7f) | 0x80;
      coarse[n++] = delta;
    }
    coarse = coarse.subarray(0, n);
    // a few set registers: nothing beats the list, and deflating would cost more than it saves
    if (n <= MIN_DEFLATED_BYTES) return coarse.slice();
  }
  const packed = deflateRawSync(registers, { level: 1 });
  const smallest = Math.min(coarse?.length ?? Infinity, 2 + packed.length, 2 + m);
  if (coarse && coarse.length === smallest) return coarse.slice();
  const encoded = new Uint8Array(smallest);
  encoded[0] = smallest === 2 + m ? DENSE : DEFLATED;
  encoded[1] = p;
  encoded.set(encoded[0] === DENSE ? registers : packed, 2);
  return encoded;
}

const invalid = (what: string) => new AggregationError('invalid-state', `stored approxDistinct state is corrupt: ${what}`);

/** The registers of a dense encoding, checked. */
function readRegisters(format: number, bytes: ByteReader, p: number): Uint8Array {
  const m = 2 ** p;
  const maxRank = 65 - p;
  let registers: Uint8Array;
  if (format === COARSE) {
    registers = new Uint8Array(m);
    let entry = 0;
    let previousIndex = -1;
    while (!bytes.done) {
      entry += bytes.varint();
      const index = Math.floor(entry / 64);
      const rank = entry % 64;
      if (index <= previousIndex || index >= m || rank === 0 || rank > maxRank) throw invalid(`bad sparse entry ${entry}`);
      previousIndex = index;
      registers[index] = rank;
    }
    return registers;
  }
  if (format === DENSE) {
    registers = new Uint8Array(bytes.raw(m)); // a copy: the stored bytes may be a Buffer, whose slice() is a view
    bytes.end();
  } else if (format === DEFLATED) {
    try {
      registers = new Uint8Array(inflateRawSync(bytes.bytes.subarray(2), { maxOutputLength: m }));
    } catch (error) {
      throw invalid(`deflated registers do not inflate: ${(error as Error).message}`);
    }
    if (registers.length !== m) throw invalid(`${registers.length} deflated registers, not ${m}`);
  } else throw invalid(`unknown format ${format}`);
  for (let i = 0; i < m; i++) if (registers[i] > maxRank) throw invalid(`register ${i} holds ${registers[i]}`);
  return registers;
}

export class HyperLogLog implements AggregationState {
  p = 0;
  m = 0;
  /** 32 - p: shifts the register index out of the first hash half, or out of an entry. */
  private shift = 0;
  /** Sparse entries allowed before turning dense, and the table size that holds them. */
  private limit = 0;
  private largestTable = 0;
  /** The registers once dense, else null. */
  dense: Uint8Array | null = null;
  /** Sparse open-addressing table of (prefix << 6 | rank), 0 = free; empty when dense. */
  private table: Uint32Array = NO_ENTRIES;
  private tableSize = 0;

  constructor(p: number) {
    this.reset(p);
  }

  /** An empty sparse state at precision p. */
  private reset(p: number): void {
    this.p = p;
    this.m = 2 ** p;
    this.shift = 32 - p;
    this.largestTable = this.m / 4;
    this.limit = sparseLimit(p);
    this.dense = null;
    this.table = new Uint32Array(Math.min(16, this.largestTable));
    this.tableSize = 0;
  }

  add(value: unknown): void {
    hashValue(value, HASH);
    const h1 = HASH.h1;
    const rest = h1 << this.p;
    // first 1-bit in the rest of the first half, else in the second half (rank 65 - p at most)
    const rank = rest !== 0 ? Math.clz32(rest) + 1 : this.shift + 1 + Math.clz32(HASH.h2);
    const dense = this.dense;
    if (dense !== null) {
      const index = h1 >>> this.shift;
      if (rank > dense[index]) dense[index] = rank;
    } else this.setSparse(((h1 & -64) | rank) >>> 0);
  }

  /** Adds a (prefix << 6 | rank) entry whose first p bits are the register index, to either form. */
  private insert(entry: number): void {
    const dense = this.dense;
    if (dense !== null) {
      const index = entry >>> this.shift;
      if ((entry & 63) > dense[index]) dense[index] = entry & 63;
    } else this.setSparse(entry);
  }

  private setSparse(entry: number): void {
    const table = this.table;
    const mask = table.length - 1;
    const prefix = entry >>> 6;
    // the prefix is made of hash bits, so its low bits spread entries evenly
    for (let slot = prefix & mask; ; slot = (slot + 1) & mask) {
      const held = table[slot];
      if (held === 0) {
        table[slot] = entry;
        if (++this.tableSize * 4 > table.length * 3) this.grow();
        return;
      }
      if (held >>> 6 === prefix) {
        if ((entry & 63) > (held & 63)) table[slot] = entry;
        return;
      }
    }
  }

  /** Quadruples the table (fewer rehashes), up to the size that holds `limit` entries; dense past them. */
  private grow(): void {
    if (this.tableSize > this.limit) this.toDense();
    else this.rehash(Math.min(this.table.length * 4, this.largestTable));
  }

  private rehash(size: number): void {
    const old = this.table;
    this.table = new Uint32Array(size);
    this.tableSize = 0;
    for (let i = 0; i < old.length; i++) if (old[i] !== 0) this.setSparse(old[i]);
  }

  private toDense(): void {
    const table = this.table;
    this.dense = new Uint8Array(this.m);
    this.table = NO_ENTRIES;
    this.tableSize = 0;
    for (let i = 0; i < table.length; i++) if (table[i] !== 0) this.insert(table[i]);
  }

  /**
   * Makes room for `count` more sparse entries (capped at the limit: they may share prefixes), so
   * adding many at once grows the table once. Only adding past the limit turns the state dense.
   */
  private reserve(count: number): void {
    if (this.dense !== null) return;
    const needed = Math.min(this.tableSize + count, this.limit);
    let size = this.table.length;
    while (needed * 4 > size * 3) size *= 2;
    if (size > this.table.length) this.rehash(size);
  }

  /** The entries (prefix << 6 | rank) sorted; a dense state's prefix is its register index. */
  private entries(): Uint32Array {
    if (this.dense !== null) {
      const dense = this.dense;
      let k = 0;
      for (let i = 0; i < dense.length; i++) if (dense[i] !== 0) k++;
      const out = new Uint32Array(k);
      k = 0;
      for (let i = 0; i < dense.length; i++) if (dense[i] !== 0) out[k++] = ((i << this.shift) | dense[i]) >>> 0;
      return out;
    }
    const out = new Uint32Array(this.tableSize);
    const table = this.table;
    let k = 0;
    for (let i = 0; i < table.length; i++) if (table[i] !== 0) out[k++] = table[i];
    return out.sort();
  }

  /**
   * Re-expresses the state at a lower precision: the index bits dropped become the first bits of
   * the rank's bit string, which is exact because ranks come from the same 64-bit hash. A sparse
   * state keeps its prefixes (and turns dense if they exceed the lower limit).
   */
  foldTo(p: number): void {
    if (p >= this.p) return;
    const drop = this.p - p;
    const shift = this.shift;
    const wasDense = this.dense !== null;
    const entries = this.entries();
    this.reset(p);
    if (wasDense) this.toDense();
    else this.reserve(entries.length);
    for (const entry of entries) {
      const dropped = (entry >>> shift) & ((1 << drop) - 1);
      const rank = dropped !== 0 ? Math.clz32(dropped) - (32 - drop) + 1 : drop + (entry & 63);
      this.insert(((entry & -64) | rank) >>> 0);
    }
  }

  /** Union of the entries, or register-wise max once either is dense; states of different precisions meet at the lower one. */
  merge(other: AggregationState): void {
    const o = sameKind('approxDistinct', other, HyperLogLog);
    if (o.p < this.p) this.foldTo(o.p);
    if (o.p > this.p) {
      const folded = HyperLogLog.copyOf(o);
      folded.foldTo(this.p);
      this.merge(folded);
      return;
    }
    if (this.dense === null && this.tableSize === 0) {
      // a copy (a stored state read again, a state copied before it is merged into)
      this.dense = o.dense === null ? null : o.dense.slice();
      this.table = o.dense === null ? o.table.slice() : NO_ENTRIES;
      this.tableSize = o.tableSize;
    } else if (o.dense !== null) {
      if (this.dense === null) this.toDense();
      const mine = this.dense!;
      const theirs = o.dense;
      for (let i = 0; i < mine.length; i++) if (theirs[i] > mine[i]) mine[i] = theirs[i];
    } else {
      this.reserve(o.tableSize);
      const table = o.table;
      for (let i = 0; i < table.length; i++) if (table[i] !== 0) this.insert(table[i]);
    }
  }

  static copyOf(source: HyperLogLog): HyperLogLog {
    const copy = new HyperLogLog(source.p);
    copy.merge(source);
    return copy;
  }

  /** Linear counting over the fine registers while sparse, else Ertl's estimate from the registers. */
  result(): number {
    if (this.dense === null) return Math.round(-SPARSE_REGISTERS * Math.log1p(-this.tableSize / SPARSE_REGISTERS));
    return ertl(this.dense, this.p);
  }

  serialize(): StoredValue {
    return this.dense === null ? this.serializeSparse() : serializeRegisters(this.dense, this.p);
  }

  private serializeSparse(): Uint8Array {
    const entries = this.entries();
    const head = new ByteWriter(8);
    head.byte(SPARSE);
    head.byte(this.p);
    head.varint(entries.length);
    const b = riceParameter(entries.length);
    const lowBits = (1 << (SPARSE_PRECISION - this.p)) - 1;
    const bits = new BitWriter((entries.length * (b + 3)) / 8);
    let previous = -1;
    for (let k = 0; k < entries.length; k++) {
      const prefix = entries[k] >>> 6;
      bits.rice(prefix - previous - 1, b);
      previous = prefix;
      if ((prefix & lowBits) === 0) bits.bits(entries[k] & 63, 6);
    }
    head.raw(bits.finish());
    return head.finish();
  }

  /**
   * Reads any encoding. A state stored at a higher precision than `p` is folded down to `p`; one
   * stored at a lower precision keeps its own (precision cannot be regained) and new states merged
   * into it are folded to it.
   */
  static deserialize(stored: StoredValue, p: number): HyperLogLog {
    const raw = storedBytes(stored, 'approxDistinct');
    const bytes = new ByteReader(raw, 'approxDistinct');
    const format = bytes.byte();
    const storedP = bytes.byte();
    if (storedP < MIN_PRECISION || storedP > MAX_PRECISION) {
      throw new AggregationError(
        'invalid-state',
        `stored approxDistinct state has precision ${storedP}, outside ${MIN_PRECISION}..${MAX_PRECISION}`,
      );
    }
    const state = new HyperLogLog(storedP);
    if (format === SPARSE) state.readSparse(bytes);
    else {
      const registers = readRegisters(format, bytes, storedP);
      // no register set is the empty state, which is sparse
      if (registers.some((rank) => rank !== 0)) state.dense = registers;
    }
    state.foldTo(p);
    return state;
  }

  /** Reads the entries of the sparse encoding into this empty state, checking each. */
  private readSparse(bytes: ByteReader): void {
    const count = bytes.varint();
    if (count > SPARSE_REGISTERS) throw invalid(`${count} sparse entries`);
    this.reserve(count);
    const b = riceParameter(count);
    const indexShift = SPARSE_PRECISION - this.p;
    const lowBits = (1 << indexShift) - 1;
    const bits = new BitReader(bytes.bytes, bytes.offset, 'approxDistinct');
    let previous = -1;
    for (let k = 0; k < count; k++) {
      const prefix = previous + 1 + bits.rice(b, SPARSE_REGISTERS);
      if (prefix >= SPARSE_REGISTERS) throw invalid(`sparse prefix ${prefix} beyond 2^${SPARSE_PRECISION}`);
      previous = prefix;
      const low = prefix & lowBits;
      let rank: number;
      if (low !== 0) rank = Math.clz32(low) - (32 - indexShift) + 1;
      else {
        rank = bits.bits(6);
        if (rank <= indexShift || rank > 65 - this.p) throw invalid(`sparse prefix ${prefix} has rank ${rank}`);
      }
      this.insert(((prefix << 6) | rank) >>> 0);
    }
    bits.end();
  }
}

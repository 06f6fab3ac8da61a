/**
 * DDSketch (Masson, Rim, Lee, VLDB 2019): a quantile sketch with relative accuracy `alpha`.
 * A value v > 0 is counted in bin ceil(log_gamma(v)), gamma = (1 + alpha) / (1 - alpha), whose
 * representative gamma^key * (1 - alpha) is within alpha of every value in the bin; negative
 * values in a mirrored store, zeros apart. Bins hold integer counts, so merging is exact,
 * associative and commutative. Min and max are kept exactly.
 *
 * A store keeps at most `maxBins` bins: beyond that the lowest keys (values nearest zero) are
 * folded into the lowest kept bin, always relative to the highest key, so the folding too gives
 * the same bins in any order and grouping (quantiles in the folded range lose their guarantee).
 *
 * Serialized form (Uint8Array), or null when empty:
 *   [1, alpha (float64), zeros (varint), positive store, negative store, min (float64), max (float64)]
 * where a store is: number of non-empty bins (varint), then the first key (zigzag) and its count,
 * then for each next bin the key delta and the count (varints).
 */
import { ByteReader, ByteWriter, storedBytes } from './bytes.js';
import { sameKind } from './checks.js';
import { AggregationError, type AggregationState, type StoredValue } from '../../engine/aggregation.js';

const FORMAT = 1;
/** Distinct keys a store keeps in its small unsorted arrays before it turns dense. */
const SPARSE_LIMIT = 64;
const NO_KEYS = new Int32Array(0);
const NO_COUNTS = new Float64Array(0);

/** The non-empty bins of a store, ascending by key. */
interface Bins {
  keys: number[];
  counts: number[];
}

/** The bins of one sign: sparse (unsorted key/count pairs) while few keys, then a dense run. */
export class BinStore {
  total = 0;
  /** The lowest and highest non-empty keys (valid while total > 0). */
  lo = 0;
  hi = 0;
  /** Allocated on first use: most sketches never see a negative value. */
  private sparseKeys = NO_KEYS;
  private sparseCounts = NO_COUNTS;
  private sparseSize = 0;
  /** Once dense: counts[i] is the count of key offset + i. */
  private dense: Float64Array | null = null;
  private offset = 0;

  constructor(readonly maxBins: number) {}

  add(key: number, count: number): void {
    if (this.total === 0) {
      this.lo = this.hi = key;
    } else if (key > this.hi) {
      this.raise(key);
    } else if (key < this.lo) {
      const floor = this.hi - this.maxBins + 1;
      if (key < floor) key = floor;
      if (key < this.lo) this.lo = key;
    }
    this.total += count;
    this.put(key, count);
  }

  /** A new highest key: keys that fall below the new floor are folded into it. */
  private raise(hi: number): void {
    const floor = hi - this.maxBins + 1;
    if (floor > this.lo) {
      let moved = 0;
      if (this.dense !== null) {
        const end = Math.min(floor - 1, this.hi);
        for (let k = this.lo; k <= end; k++) {
          moved += this.dense[k - this.offset];
          this.dense[k - this.offset] = 0;
        }
      } else {
        for (let i = 0; i < this.sparseSize;) {
          if (this.sparseKeys[i] < floor) {
            moved += this.sparseCounts[i];
            this.sparseSize--;
            this.sparseKeys[i] = this.sparseKeys[this.sparseSize];
            this.sparseCounts[i] = this.sparseCounts[this.sparseSize];
          } else i++;
        }
      }
      this.lo = floor;
      this.hi = hi;
      this.put(floor, moved);
    } else {
      this.hi = hi;
    }
  }

  /** Adds to the count of a key inside [lo, hi]. */
  private put(key: number, count: number): void {
    if (this.dense !== null) {
      if (key < this.offset || key >= this.offset + this.dense.length) this.resize();
      this.dense[key - this.offset] += count;
      return;
    }
    const keys = this.sparseKeys;
    const n = this.sparseSize;
    for (let i = 0; i < n; i++) {
      if (keys[i] === key) {
        this.sparseCounts[i] += count;
        return;
      }
    }
    if (n === SPARSE_LIMIT) {
      this.toDense();
      this.put(key, count);
      return;
    }
    if (n === keys.length) {
      this.sparseKeys = new Int32Array(Math.max(4, n * 2));
      this.sparseKeys.set(keys);
      const counts = new Float64Array(Math.max(4, n * 2));
      counts.set(this.sparseCounts);
      this.sparseCounts = counts;
    }
    this.sparseKeys[n] = key;
    this.sparseCounts[n] = count;
    this.sparseSize = n + 1;
  }

  private toDense(): void {
    const span = this.hi - this.lo + 1;
    this.offset = this.lo;
    this.dense = new Float64Array(span + (span >> 1) + 8);
    for (let i = 0; i < this.sparseSize; i++) this.dense[this.sparseKeys[i] - this.offset] += this.sparseCounts[i];
    this.sparseKeys = NO_KEYS;
    this.sparseCounts = NO_COUNTS;
    this.sparseSize = 0;
  }

  /** Re-allocates the dense run to cover [lo, hi] with room to grow on both sides. */
  private resize(): void {
    const old = this.dense!;
    const oldOffset = this.offset;
    const span = this.hi - this.lo + 1;
    const slack = (span >> 2) + 8;
    const grown = new Float64Array(span + 2 * slack);
    const offset = this.lo - slack;
    for (let i = 0; i < old.length; i++) {
      if (old[i] !== 0) grown[oldOffset + i - offset] = old[i];
    }
    this.dense = grown;
    this.offset = offset;
  }

  bins(): Bins {
    const keys: number[] = [];
    const counts: number[] = [];
    if (this.total === 0) return { keys, counts };
    if (this.dense !== null) {
      for (let k = this.lo; k <= this.hi; k++) {
        const c = this.dense[k - this.offset];
        if (c !== 0) {
          keys.push(k);
          counts.push(c);
        }
      }
      return { keys, counts };
    }
    const order = Array.from({ length: this.sparseSize }, (_, i) => i).sort((a, b) => this.sparseKeys[a] - this.sparseKeys[b]);
    for (const i of order) {
      keys.push(this.sparseKeys[i]);
      counts.push(this.sparseCounts[i]);
    }
    return { keys, counts };
  }
}

export class QuantileSketch implements AggregationState {
  readonly gamma: number;
  /** 1 / ln(gamma): key = ceil(ln(v) * multiplier). */
  private readonly multiplier: number;
  readonly positive: BinStore;
  readonly negative: BinStore;
  zeros = 0;
  min = Infinity;
  max = -Infinity;

  constructor(
    readonly q: number,
    readonly alpha: number,
    readonly maxBins: number,
  ) {
    this.gamma = (1 + alpha) / (1 - alpha);
    this.multiplier = 1 / Math.log(this.gamma);
    this.positive = new BinStore(maxBins);
    this.negative = new BinStore(maxBins);
  }

  get count(): number {
    return this.zeros + this.positive.total + this.negative.total;
  }

  key(magnitude: number): number {
    return Math.ceil(Math.log(magnitude) * this.multiplier);
  }

  /** The representative of a bin: within alpha of every value mapped to it. */
  value(key: number): number {
    return Math.pow(this.gamma, key) * (1 - this.alpha);
  }

  add(value: unknown): void {
    const v = value as number;
    if (v > 0) this.positive.add(this.key(v), 1);
    else if (v < 0) this.negative.add(this.key(-v), 1);
    else this.zeros++;
    if (v < this.min) this.min = v + 0;
    if (v > this.max) this.max = v + 0;
  }

  merge(other: AggregationState): void {
    const o = sameKind('quantile', other, QuantileSketch);
    this.absorb(o, o.positive.bins(), o.negative.bins(), o.zeros, o.min, o.max);
  }

  /** Adds bins counted with `from`'s mapping; re-mapped through their representatives when the accuracy differs. */
  private absorb(
    from: { alpha: number; value(key: number): number },
    positive: Bins,
    negative: Bins,
    zeros: number,
    min: number,
    max: number,
  ): void {
    const same = from.alpha === this.alpha;
    for (const [store, bins] of [
      [this.positive, positive],
      [this.negative, negative],
    ] as const) {
      for (let i = 0; i < bins.keys.length; i++) {
        store.add(same ? bins.keys[i] : this.key(from.value(bins.keys[i])), bins.counts[i]);
      }
    }
    this.zeros += zeros;
    if (min < this.min) this.min = min;
    if (max > this.max) this.max = max;
  }

  /**
   * The value at rank floor(q * (n - 1)) of the sorted values (the lower quantile, no
   * interpolation), within relative accuracy alpha; exactly the minimum and maximum at the ends.
   * null when empty.
   */
  quantile(q: number): number | null {
    const n = this.count;
    if (n === 0) return null;
    const rank = Math.floor(q * (n - 1));
    if (rank <= 0) return this.min;
    if (rank >= n - 1) return this.max;
    let estimate: number;
    if (rank < this.negative.total) {
      // negatives sort by descending magnitude: walk the negative store from its highest key
      const { keys, counts } = this.negative.bins();
      let seen = 0;
      let i = keys.length - 1;
      for (; i > 0; i--) if ((seen += counts[i]) > rank) break;
      estimate = -this.value(keys[i]);
    } else if (rank < this.negative.total + this.zeros) {
      estimate = 0;
    } else {
      const r = rank - this.negative.total - this.zeros;
      const { keys, counts } = this.positive.bins();
      let seen = 0;
      let i = 0;
      for (; i < keys.length - 1; i++) if ((seen += counts[i]) > r) break;
      estimate = this.value(keys[i]);
    }
    return Math.min(this.max, Math.max(this.min, estimate));
  }

  result(): number | null {
    return this.quantile(this.q);
  }

  serialize(): StoredValue {
    if (this.count === 0) return null;
    const out = new ByteWriter();
    out.byte(FORMAT);
    out.float64(this.alpha);
    out.varint(this.zeros);
    for (const { keys, counts } of [this.positive.bins(), this.negative.bins()]) {
      out.varint(keys.length);
      for (let i = 0; i < keys.length; i++) {
        if (i === 0) out.zigzag(keys[0]);
        else out.varint(keys[i] - keys[i - 1]);
        out.varint(counts[i]);
      }
    }
    out.float64(this.min);
    out.float64(this.max);
    return out.finish();
  }

  /**
   * Reads the stored sketch into one with these options. A sketch stored with another accuracy
   * is re-mapped through its bins' representatives (accuracy about the sum of both); one stored
   * with more bins is folded to `maxBins`.
   */
  static deserialize(stored: StoredValue, q: number, alpha: number, maxBins: number): QuantileSketch {
    const sketch = new QuantileSketch(q, alpha, maxBins);
    if (stored === null) return sketch;
    const bytes = new ByteReader(storedBytes(stored, 'quantile'), 'quantile');
    const invalid = (what: string) => new AggregationError('invalid-state', `stored quantile state is corrupt: ${what}`);
    if (bytes.byte() !== FORMAT) throw invalid('unknown format');
    const storedAlpha = bytes.float64();
    if (!(storedAlpha > 0 && storedAlpha < 1)) throw invalid(`relative accuracy ${storedAlpha}`);
    const zeros = bytes.varint();
    const stores: Bins[] = [];
    for (let s = 0; s < 2; s++) {
      const bins: Bins = { keys: [], counts: [] };
      const k = bytes.varint();
      let key = 0;
      for (let i = 0; i < k; i++) {
        key = i === 0 ? bytes.zigzag() : key + bytes.varint();
        const count = bytes.varint();
        if (count === 0 || (i > 0 && key <= bins.keys[i - 1])) throw invalid(`bin ${key}`);
        bins.keys.push(key);
        bins.counts.push(count);
      }
      stores.push(bins);
    }
    const min = bytes.float64();
    const max = bytes.float64();
    bytes.end();
    const from = storedAlpha === alpha ? sketch : new QuantileSketch(q, storedAlpha, maxBins);
    sketch.absorb(from, stores[0], stores[1], zeros, min, max);
    if (sketch.count === 0 || !(min <= max)) throw invalid('empty or inconsistent sketch');
    return sketch;
  }
}

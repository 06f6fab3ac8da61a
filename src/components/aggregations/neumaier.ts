/**
 * Neumaier's compensated summation, shared by `sum` and `avg`: a running sum plus the exact
 * rounding error of every addition, so that money-like values (few decimal digits) sum to the
 * correctly rounded total whatever their number, order and grouping.
 */
import { invalidState, storedObject } from './checks.js';
import type { StoredValue } from '../../engine/aggregation.js';

export class CompensatedSum {
  constructor(
    /** The running sum. */
    public s = 0,
    /** The accumulated rounding errors of `s`: the sum is s + c. */
    public c = 0,
  ) {}

  add(x: number): void {
    const s = this.s;
    const t = s + x;
    // Fast2Sum on the larger magnitude first: the bracket is exactly the error of s + x
    if (Math.abs(s) >= Math.abs(x)) this.c += s - t + x;
    else this.c += x - t + s;
    this.s = t;
  }

  merge(other: CompensatedSum): void {
    this.add(other.s);
    this.c += other.c;
  }

  /** The best double for the sum; infinite once the sum overflowed. */
  value(): number {
    return Number.isFinite(this.s) ? this.s + this.c : this.s;
  }

  /**
   * `{ s, c }` renormalised with an exact TwoSum so that `s` is the rounded sum and `c` what is
   * left over: the same exact sum always stores the same pair, whatever the order of additions.
   */
  store(extra: { [key: string]: StoredValue } = {}): { [key: string]: StoredValue } {
    const a = this.s;
    const b = this.c;
    if (!Number.isFinite(a)) return { s: a, c: 0, ...extra };
    const hi = a + b;
    const bv = hi - a;
    const lo = a - (hi - bv) + (b - bv);
    return { s: hi, c: lo === 0 ? 0 : lo, ...extra };
  }

  static fromStored(
    kind: string,
    stored: StoredValue,
    expected: string,
  ): { sum: CompensatedSum; doc: { [key: string]: StoredValue | undefined } } {
    const doc = storedObject(kind, stored, expected);
    if (typeof doc.s !== 'number' || typeof doc.c !== 'number') throw invalidState(kind, stored, expected);
    return { sum: new CompensatedSum(doc.s, doc.c), doc };
  }
}

/** `min`: the smallest value of a numeric input. */
import { sameKind, storedNumber } from './checks.js';
import { resolveOptions } from './options.js';
import type { AggregationKind, AggregationState, StoredValue } from '../../engine/aggregation.js';

export class MinState implements AggregationState {
  /** +Infinity while empty (inputs are finite). */
  constructor(public v = Infinity) {}

  add(value: unknown): void {
    // + 0 turns -0 into 0, so which zero is kept cannot depend on the order of values
    const x = (value as number) + 0;
    if (x < this.v) this.v = x;
  }

  merge(other: AggregationState): void {
    const v = sameKind('min', other, MinState).v;
    if (v < this.v) this.v = v;
  }

  /** null when no value was added. */
  result(): number | null {
    return this.v === Infinity ? null : this.v;
  }

  /** The minimum, or null when empty. */
  serialize(): StoredValue {
    return this.result();
  }
}

export const min: AggregationKind<Record<string, never>> = {
  name: 'min',
  summary: 'The smallest value of a number (null when the group had no value).',
  input: 'number',
  options: {},
  describeState: () => 'the smallest value so far',
  create: (given) => {
    resolveOptions('min', {}, given);
    return new MinState();
  },
  deserialize: (stored) => new MinState(stored === null ? Infinity : storedNumber('min', stored, 'the minimum, or null')),
};

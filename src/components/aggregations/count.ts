/** `count`: the number of records in the window and group. */
import { sameKind, storedNumber } from './checks.js';
import { resolveOptions } from './options.js';
import type { AggregationKind, AggregationState, StoredValue } from '../../engine/aggregation.js';

export class CountState implements AggregationState {
  constructor(public n = 0) {}

  add(): void {
    this.n++;
  }

  merge(other: AggregationState): void {
    this.n += sameKind('count', other, CountState).n;
  }

  result(): number {
    return this.n;
  }

  /** The count itself. */
  serialize(): StoredValue {
    return this.n;
  }
}

export const count: AggregationKind<Record<string, never>> = {
  name: 'count',
  summary: 'The number of records in the window and group.',
  input: 'none',
  options: {},
  describeState: () => 'one counter',
  create: (given) => {
    resolveOptions('count', {}, given);
    return new CountState();
  },
  deserialize: (stored) => new CountState(storedNumber('count', stored, 'the count')),
};

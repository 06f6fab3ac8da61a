/** `sum`: the total of a numeric input, summed with compensation so money does not drift. */
import { sameKind } from './checks.js';
import { CompensatedSum } from './neumaier.js';
import { resolveOptions } from './options.js';
import type { AggregationKind, AggregationState, StoredValue } from '../../engine/aggregation.js';

export class SumState implements AggregationState {
  constructor(readonly sum = new CompensatedSum()) {}

  add(value: unknown): void {
    this.sum.add(value as number);
  }

  merge(other: AggregationState): void {
    this.sum.merge(sameKind('sum', other, SumState).sum);
  }

  /** 0 when no value was added. */
  result(): number {
    return this.sum.value();
  }

  /** `{ s, c }`: the rounded sum and the remainder of the exact sum. */
  serialize(): StoredValue {
    return this.sum.store();
  }
}

export const sum: AggregationKind<Record<string, never>> = {
  name: 'sum',
  summary: 'The total of a number, with compensated (Neumaier) summation so that sums of prices do not drift.',
  input: 'number',
  options: {},
  describeState: () => 'compensated sum (sum and error term, 16 bytes)',
  create: (given) => {
    resolveOptions('sum', {}, given);
    return new SumState();
  },
  deserialize: (stored) => new SumState(CompensatedSum.fromStored('sum', stored, 'a { s, c } document').sum),
};

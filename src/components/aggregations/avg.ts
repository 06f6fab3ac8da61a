/** `avg`: the mean of a numeric input, from a compensated sum and a count. */
import { invalidState, sameKind } from './checks.js';
import { CompensatedSum } from './neumaier.js';
import { resolveOptions } from './options.js';
import type { AggregationKind, AggregationState, StoredValue } from '../../engine/aggregation.js';

export class AvgState implements AggregationState {
  constructor(
    readonly sum = new CompensatedSum(),
    public n = 0,
  ) {}

  add(value: unknown): void {
    this.sum.add(value as number);
    this.n++;
  }

  merge(other: AggregationState): void {
    const o = sameKind('avg', other, AvgState);
    this.sum.merge(o.sum);
    this.n += o.n;
  }

  /** null when no value was added. */
  result(): number | null {
    return this.n === 0 ? null : this.sum.value() / this.n;
  }

  /** `{ s, c, n }`: the compensated sum as `sum` stores it, and the count. */
  serialize(): StoredValue {
    return this.sum.store({ n: this.n });
  }
}

const EXPECTED = 'a { s, c, n } document';

export const avg: AggregationKind<Record<string, never>> = {
  name: 'avg',
  summary: 'The mean of a number: a compensated sum divided by the count of values.',
  input: 'number',
  options: {},
  describeState: () => 'compensated sum and a count (24 bytes)',
  create: (given) => {
    resolveOptions('avg', {}, given);
    return new AvgState();
  },
  deserialize: (stored) => {
    const { sum, doc } = CompensatedSum.fromStored('avg', stored, EXPECTED);
    if (typeof doc.n !== 'number') throw invalidState('avg', stored, EXPECTED);
    return new AvgState(sum, doc.n);
  },
};

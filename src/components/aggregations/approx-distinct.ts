/** `approxDistinct`: an estimate of the number of distinct values, in a HyperLogLog of fixed size. */
import { HyperLogLog, MAX_PRECISION, MIN_PRECISION, standardError } from './hyperloglog.js';
import { integerOption, resolveOptions } from './options.js';
import type { AggregationKind } from '../../engine/aggregation.js';

const options = {
  precision: integerOption({
    description:
      'log2 of the number of HyperLogLog registers. The standard error is 1.04 / sqrt(2^precision) (12: 1.6%, 14: 0.81%, 16: 0.41%) and a group with many values stores 2^precision bytes (14: 16 KiB); groups with few values store far less.',
    default: 14,
    minimum: MIN_PRECISION,
    maximum: MAX_PRECISION,
    examples: [12, 14, 16],
  }),
};

export interface ApproxDistinctOptions {
  precision?: number;
}

function bytes(n: number): string {
  return n >= 1024 ? `${n / 1024} KiB` : `${n} bytes`;
}

export const approxDistinct: AggregationKind<ApproxDistinctOptions> = {
  name: 'approxDistinct',
  summary:
    'An estimate of the number of distinct values ("1" and 1 differ) from a HyperLogLog (64-bit hash, Ertl\'s estimator): bounded size, merges without loss.',
  input: 'any',
  options,
  describeState: (given) => {
    const { precision } = resolveOptions('approxDistinct', options, given);
    const error = (standardError(precision) * 100).toFixed(2);
    return `HyperLogLog, precision ${precision} (${bytes(2 ** precision)} dense, ~${error}% std. error)`;
  },
  create: (given) => new HyperLogLog(resolveOptions('approxDistinct', options, given).precision),
  deserialize: (stored, given) => HyperLogLog.deserialize(stored, resolveOptions('approxDistinct', options, given).precision),
};

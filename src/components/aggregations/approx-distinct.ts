/** `approxDistinct`: an estimate of the number of distinct values, in a HyperLogLog of bounded size. */
import { HyperLogLog, MAX_PRECISION, MIN_PRECISION, sparseLimit, standardError } from './hyperloglog.js';
import { integerOption, resolveOptions } from './options.js';
import type { AggregationKind } from '../../engine/aggregation.js';

const options = {
  precision: integerOption({
    description:
      'log2 of the number of HyperLogLog registers. A group with up to 3 * 2^precision / 16 distinct values (14: 3072) keeps a sparse list of 26-bit hash prefixes, 2 to 3 bytes a value once stored, and counts them exactly unless two values share a prefix (chance about n^2 / 2^27 for n values). Past that it holds 2^precision registers (14: 16 KiB, about a third of that once stored) with a standard error of 1.04 / sqrt(2^precision) (12: 1.6%, 14: 0.81%, 16: 0.41%).',
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
    'An estimate of the number of distinct values ("1" and 1 differ) from a HyperLogLog with a sparse mode (64-bit hash; near-exact counts for small groups, Ertl\'s estimator past them): bounded size, merges without loss.',
  input: 'any',
  options,
  describeState: (given) => {
    const { precision } = resolveOptions('approxDistinct', options, given);
    const error = (standardError(precision) * 100).toFixed(2);
    return `HyperLogLog, precision ${precision}: a sparse list of hash prefixes up to ${sparseLimit(precision)} distinct values (exact unless two share a prefix), then ${bytes(2 ** precision)} of registers (~${error}% std. error)`;
  },
  create: (given) => new HyperLogLog(resolveOptions('approxDistinct', options, given).precision),
  deserialize: (stored, given) => HyperLogLog.deserialize(stored, resolveOptions('approxDistinct', options, given).precision),
};

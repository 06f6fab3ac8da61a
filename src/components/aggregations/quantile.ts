/** `quantile`: a quantile of a numeric input, from a mergeable DDSketch of relative accuracy. */
import { QuantileSketch } from './ddsketch.js';
import { integerOption, numberOption, resolveOptions } from './options.js';
import type { AggregationKind } from '../../engine/aggregation.js';

const options = {
  q: numberOption({
    description: 'Which quantile: 0.5 the median, 0.9 the 90th percentile, 0 the minimum, 1 the maximum.',
    default: 0.5,
    minimum: 0,
    maximum: 1,
    examples: [0.5, 0.9, 0.99],
  }),
  relativeAccuracy: numberOption({
    description:
      'Relative error bound of the result: it is within this fraction of the value at rank floor(q * (n - 1)) of the sorted values (for normal doubles, while no bins were folded, see `maxBins`). Smaller keeps more bins: about ln(max / min) / (2 * relativeAccuracy) for positive values between min and max.',
    default: 0.01,
    minimum: 0.0001,
    maximum: 0.5,
    examples: [0.01, 0.005, 0.02],
  }),
  maxBins: integerOption({
    description:
      'Most bins kept per sign (8 bytes each). Beyond it the bins of values nearest zero are folded together, and quantiles among them lose their accuracy; 2048 bins at 1% cover values over 17 orders of magnitude.',
    default: 2048,
    minimum: 16,
    maximum: 65_536,
    examples: [2048, 4096],
  }),
};

export interface QuantileOptions {
  q?: number;
  relativeAccuracy?: number;
  maxBins?: number;
}

function resolve(given: QuantileOptions) {
  return resolveOptions('quantile', options, given);
}

export const quantile: AggregationKind<QuantileOptions> = {
  name: 'quantile',
  summary:
    'A quantile (`q`, e.g. 0.5 the median) of a number, within a relative error (`relativeAccuracy`), from a DDSketch that merges exactly.',
  input: 'number',
  options,
  describeState: (given) => {
    const { q, relativeAccuracy, maxBins } = resolve(given);
    return `DDSketch for q=${q}, ${relativeAccuracy * 100}% relative accuracy (at most ${maxBins} bins per sign, ${(maxBins * 8) / 1024} KiB)`;
  },
  create: (given) => {
    const { q, relativeAccuracy, maxBins } = resolve(given);
    return new QuantileSketch(q, relativeAccuracy, maxBins);
  },
  deserialize: (stored, given) => {
    const { q, relativeAccuracy, maxBins } = resolve(given);
    return QuantileSketch.deserialize(stored, q, relativeAccuracy, maxBins);
  },
};

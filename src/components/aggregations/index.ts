/**
 * The registry of aggregation kinds: the pipeline schema, the docs and `runner explain` are
 * derived from these declarations, and the compiler looks kinds up here by their YAML keyword.
 */
import { approxDistinct } from './approx-distinct.js';
import { avg } from './avg.js';
import { count } from './count.js';
import { distinct } from './distinct.js';
import { first } from './first.js';
import { last } from './last.js';
import { max } from './max.js';
import { min } from './min.js';
import { quantile } from './quantile.js';
import { sum } from './sum.js';
import type { AggregationKind } from '../../engine/aggregation.js';

export const aggregationKinds: readonly AggregationKind[] = [count, sum, avg, min, max, distinct, approxDistinct, first, last, quantile];

const byName = new Map(aggregationKinds.map((kind) => [kind.name, kind]));

/** The kind named by a YAML keyword, or undefined (an own-property lookup: `toString` is no kind). */
export function getAggregationKind(name: string): AggregationKind | undefined {
  return byName.get(name);
}

/** Plain reference computations, written independently of the engine, for comparing results. */

/** The exactly rounded sum of doubles: each scaled to an integer by a power of two, summed as BigInt. */
export function exactSum(values: number[]): number {
  const SCALE = 2 ** 80; // every bid with 6 decimals in [1e-6, 1) is an integer multiple of 2^-80
  let total = 0n;
  for (const v of values) {
    const scaled = v * SCALE;
    if (!Number.isInteger(scaled)) throw new Error(`reference sum cannot scale ${v} exactly`);
    total += BigInt(scaled);
  }
  return Number(total) / SCALE;
}

/** A seeded PRNG for reproducible random data in tests. */
export { mulberry32 as seededRandom } from '../../src/util/random.js';

export function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

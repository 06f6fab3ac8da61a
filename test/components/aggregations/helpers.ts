/** Plain references and store round trips for the aggregation tests, written independently of the kinds. */
import { BSON } from 'mongodb';
import type { AggregationKind, AggregationState, StoredValue } from '../../../src/engine/aggregation.js';

/** The sign, integer significand and binary exponent of a finite double: x = sign * m * 2^e exactly. */
function decompose(x: number): { m: bigint; e: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased !== 0) m |= 1n << 52n;
  const e = (biased === 0 ? 1 : biased) - 1075;
  return { m: hi >>> 31 ? -m : m, e };
}

/** The exactly rounded sum of finite doubles: exact integer arithmetic, one rounding at the end (for normal results). */
export function exactSum(values: readonly number[]): number {
  const parts = values.filter((v) => v !== 0).map(decompose);
  if (parts.length === 0) return 0;
  let e = Infinity;
  for (const p of parts) if (p.e < e) e = p.e;
  let total = 0n;
  for (const p of parts) total += p.m << BigInt(p.e - e);
  if (total === 0n) return 0;
  // keep 64 significant bits plus a sticky bit for everything below, then let Number() round once
  const negative = total < 0n;
  let magnitude = negative ? -total : total;
  const shift = Math.max(0, magnitude.toString(2).length - 64);
  const dropped = magnitude & ((1n << BigInt(shift)) - 1n);
  magnitude >>= BigInt(shift);
  if (dropped !== 0n) magnitude |= 1n;
  const result = Number(magnitude) * 2 ** (e + shift);
  return negative ? -result : result;
}

/** A seeded PRNG (mulberry32) for reproducible data. */
export { mulberry32 as seeded } from '../../../src/util/random.js';

/** How a stored state travels through a store in the tests. */
export type Trip = 'memory' | 'json' | 'bson' | 'binary-shape';
export const TRIPS: readonly Trip[] = ['memory', 'json', 'bson', 'binary-shape'];

/**
 * `stored` after a trip through a store: JSON text (binary as base64, read back as a Node Buffer),
 * real BSON (binary read back as the driver's `Binary`), or JSON with binary read back as a plain
 * `{ buffer }` object; numbers as the store gives them back.
 */
export function roundTrip(stored: StoredValue, trip: Trip): StoredValue {
  switch (trip) {
    case 'memory':
      return stored;
    case 'bson':
      return BSON.deserialize(BSON.serialize({ v: stored })).v as StoredValue;
    case 'json':
    case 'binary-shape': {
      const text = JSON.stringify(stored, function (this: Record<string, unknown>, key: string, value: unknown): unknown {
        const raw = this[key];
        return raw instanceof Uint8Array ? { $bytes: Buffer.from(raw).toString('base64') } : value;
      });
      return JSON.parse(text, (_key, value: unknown): unknown => {
        if (value && typeof value === 'object' && '$bytes' in value && typeof value.$bytes === 'string') {
          const bytes = Buffer.from(value.$bytes, 'base64');
          return trip === 'json' ? bytes : { buffer: new Uint8Array(bytes) };
        }
        return value;
      }) as StoredValue;
    }
  }
}

/** A state serialized, sent through a store and read back. */
export function reload<O>(kind: AggregationKind<O>, options: O, state: AggregationState, trip: Trip): AggregationState {
  return kind.deserialize(roundTrip(state.serialize(), trip), options);
}

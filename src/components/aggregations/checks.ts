/** The errors every kind raises for a stored value it cannot read or a state it cannot merge. */
import { describeStored } from './bytes.js';
import { AggregationError, type AggregationState, type StoredValue } from '../../engine/aggregation.js';

/** `invalid-state`: what the store returned is not a state of this kind. */
export function invalidState(kind: string, stored: unknown, expected: string): AggregationError {
  return new AggregationError('invalid-state', `stored ${kind} state must be ${expected}, got ${describeStored(stored)}`);
}

/** A stored number (BSON int32 and double both come back as numbers). */
export function storedNumber(kind: string, stored: StoredValue | undefined, field: string): number {
  if (typeof stored !== 'number' || Number.isNaN(stored)) throw invalidState(kind, stored, `a number (${field})`);
  return stored;
}

/** A stored `{ ... }` document, not an array or binary. */
export function storedObject(kind: string, stored: unknown, expected: string): { [key: string]: StoredValue | undefined } {
  if (typeof stored !== 'object' || stored === null || Array.isArray(stored) || stored instanceof Uint8Array) {
    throw invalidState(kind, stored, expected);
  }
  return stored as { [key: string]: StoredValue | undefined };
}

/** `other`, checked to be a state of the same class: merging different kinds is a wiring bug. */
export function sameKind<T extends AggregationState>(kind: string, other: AggregationState, ctor: abstract new (...args: never[]) => T): T {
  if (!(other instanceof ctor)) {
    throw new AggregationError('incompatible-state', `cannot merge a ${other.constructor.name} into a ${kind} state`);
  }
  return other;
}

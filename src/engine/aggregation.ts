/**
 * The contract every aggregation kind fulfils. States are mergeable so that a batch can be merged
 * into a stored document (MongoDB sink) and minutes can be rolled up into hours (serving layer)
 * without losing meaning: merge(a, b) must equal the state built from a's and b's inputs together,
 * in any order and grouping.
 */
import type { JsonSchema } from '../json-schema.js';

/** What a state serializes to: fits in a BSON document (numbers, strings, arrays, binary). */
export type StoredValue = number | string | boolean | null | Uint8Array | StoredValue[] | { [key: string]: StoredValue };

/** The kind of input an aggregation accepts; the engine checks values before calling add(). */
export type InputKind =
  /** no input expression (count of records) */
  | 'none'
  /** a finite number; null/undefined are skipped, anything else is a dead letter `invalid-value` */
  | 'number'
  /** any non-null JSON value; null/undefined are skipped */
  | 'any';

export interface AggregationState {
  /** Adds one input value; eventTime (epoch ms) orders first/last. */
  add(value: unknown, eventTime: number): void;
  /** Merges another state of the same kind and options into this one. */
  merge(other: AggregationState): void;
  /** The output value of the aggregation (what users see). */
  result(): unknown;
  /** A BSON-friendly form that `AggregationKind.deserialize` turns back into an equal state. */
  serialize(): StoredValue;
}

export interface AggregationKind<Options = Record<string, unknown>> {
  /** The YAML keyword, e.g. `approxDistinct`. */
  name: string;
  summary: string;
  input: InputKind;
  /** Schema of the options that may stand beside the kind keyword (e.g. `precision`). */
  options: Record<string, JsonSchema>;
  /** Human description of the state kept, for `runner explain` (e.g. "HyperLogLog p=14"). */
  describeState(options: Options): string;
  /** Throws AggregationError with a clear message when the options are invalid together. */
  create(options: Options): AggregationState;
  deserialize(stored: StoredValue, options: Options): AggregationState;
}

/** A runtime error of an aggregation (e.g. an exact distinct set exceeded its bound). */
export class AggregationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AggregationError';
  }
}

import type { AggregationState, StoredValue } from './aggregation.js';
import type { AggregateUse } from './plan.js';

/**
 * The persisted state of one (window, group key): serialized aggregate states plus, for every
 * source partition, the highest offset already merged into it. That offset map is what makes
 * merging exactly-once: a partial whose records are all at or below it has been counted already.
 */
export interface StateDoc {
  id: string;
  /** Incremented on every write; writes are conditional on the version that was read. */
  version: number;
  windowStart: number;
  windowEnd: number;
  key: unknown[];
  states: Record<string, StoredValue>;
  offsets: Record<string, number>;
  /**
   * Aggregates this document holds for only part of its records, because the pipeline gained them
   * after the document was first written: name -> the offsets the document held when the
   * aggregate first merged into it. The aggregate counts only the records after those.
   */
  partial?: Record<string, Record<string, number>>;
  /**
   * The states themselves (in the plan's aggregate order) when the document was merged in this
   * process: equal to `states`, never changed afterwards. An in-process store keeps them, so
   * merging into the document and rendering it need not deserialize.
   */
  live?: readonly AggregationState[];
}

export interface ConditionalWrite {
  doc: StateDoc;
  /** The version read before merging; null when the document did not exist. */
  expectedVersion: number | null;
}

/** What the sink side of the engine persists to: the in-process store here, MongoDB later. */
export interface StateStore {
  /** The stored documents among these ids; missing ones are absent from the map. */
  read(ids: readonly string[]): Promise<Map<string, StateDoc>>;
  /**
   * Applies each write only if the stored version still equals expectedVersion (for an insert:
   * if the document still does not exist). Returns the ids whose condition failed.
   */
  write(writes: readonly ConditionalWrite[]): Promise<string[]>;
  /**
   * The highest offset of a partition that any write may have merged (a fence recorded before
   * data is written); records at or below it need per-record exactly-once checks on replay.
   */
  readFence(partition: string): Promise<number>;
  raiseFence(partition: string, offset: number): Promise<void>;
  /**
   * True when a write that expects a document to be absent costs less than reading it first: the
   * engine then writes documents it does not hold without reading them, as if absent, and reads
   * only those whose writes fail (they existed after all).
   */
  readonly writesBlind?: boolean;
}

/** An aggregate's state as a document stores it; empty when the document was written before the pipeline had it. */
export function restoreState(aggregate: AggregateUse, states: Partial<Record<string, StoredValue>>): AggregationState {
  const stored = states[aggregate.name];
  return stored === undefined ? aggregate.kind.create(aggregate.options) : aggregate.kind.deserialize(stored, aggregate.options);
}

/** A deterministic, readable document id: window start and the JSON of the key values. */
export function stateDocId(windowStart: number, key: readonly unknown[]): string {
  return `${windowStart}|${JSON.stringify(key)}`;
}

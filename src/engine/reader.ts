import type { AggregateUse, Plan } from './plan.js';
import type { AggregationState, StoredValue } from './aggregation.js';
import { levelLabel } from './rollups.js';
import type { RunStatus } from './runtime.js';

/**
 * What a sink that keeps its windows offers those who read them (the serving layer, in this
 * process or another): the contract a sink's declared `reader` fulfils.
 */
/** One stored granularity of a pipeline: the base windows (`1m`) or a rollup level (`1h`). */
export interface Level {
  sizeMs: number;
  label: string;
  /** Where it is stored (for people): `adlogdb.impsPerPubGeo_1h`. */
  where: string;
}

/** A stored document as queries need it: its window, key and the requested states. */
export interface LevelDoc {
  windowStart: number;
  key: unknown[];
  /** In the order of the aggregates asked for. */
  states: AggregationState[];
}

/** A stored document with its states as stored (not deserialized). */
export interface StoredLevelDoc {
  windowStart: number;
  key: unknown[];
  states: Record<string, StoredValue>;
}

/** Equality filters on group keys, by the key's index in plan.groupBy. */
export type KeyFilters = ReadonlyMap<number, string>;

/** What the serving layer reads a pipeline's stored windows through. */
export interface PipelineReader {
  readonly levels: readonly Level[];
  /** Documents of a level whose window starts in [from, to) and whose key matches the filters. */
  find(level: Level, from: number, to: number, filters: KeyFilters, aggregates: readonly AggregateUse[]): Promise<LevelDoc[]>;
  /** The first window start and the last window end stored (read from the coarsest level); null when empty. */
  extent(): Promise<{ first: number; last: number } | null>;
  /** The status a runner published for this pipeline (another process), if any. */
  publishedStatus(): Promise<RunStatus | null>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Where a document is: its window and key. */
export interface WindowKey {
  windowStart: number;
  key: readonly unknown[];
}

/** A sink's own reader: also the states as stored, which the serving layer's cache keeps undeserialized. */
export interface StoredReader extends PipelineReader {
  /** Like find, with the states as stored (not yet deserialized); `names` limits the states read. */
  findStored(level: Level, from: number, to: number, filters: KeyFilters, names?: readonly string[]): Promise<StoredLevelDoc[]>;
  /** The documents of a level at these windows and keys (those that exist), states as stored. */
  findStoredAt(level: Level, at: readonly WindowKey[], names?: readonly string[]): Promise<StoredLevelDoc[]>;
  /**
   * Whether findStoredAt is the cheaper read of a few thousand documents: true on a server that
   * indexes a document's address but reads the whole collection for a range (FerretDB 1.x).
   */
  addressesCheaper(): Promise<boolean>;
}

/** The stored levels of a plan: base windows first, then each rollup. */
export function planLevels(plan: Plan, where: (sizeMs: number, base: boolean) => string): Level[] {
  const base = plan.window.sizeMs;
  return [
    { sizeMs: base, label: levelLabel(base), where: where(base, true) },
    ...plan.window.rollups.map((sizeMs) => ({ sizeMs, label: levelLabel(sizeMs), where: where(sizeMs, false) })),
  ];
}

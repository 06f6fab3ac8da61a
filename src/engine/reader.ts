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

/** What windowGroups reads: a level's windows starting in [from, to), merged per value of key `by`. */
export interface WindowQuery {
  level: Level;
  from: number;
  to: number;
  filters: KeyFilters;
  aggregates: readonly AggregateUse[];
  by?: number;
}

/** A window's documents that match a query's filters, their states merged per value of one group key. */
export interface WindowGroups {
  windowStart: number;
  /** Documents merged into the groups. */
  documents: number;
  /**
   * One per value of the key grouped by, or one for all when not grouped. The states are
   * read-only: callers merge them into states of their own.
   */
  groups: { value: unknown; states: AggregationState[] }[];
}

/** What the serving layer reads a pipeline's stored windows through. */
export interface PipelineReader {
  readonly levels: readonly Level[];
  /** Documents of a level whose window starts in [from, to) and whose key matches the filters. */
  find(level: Level, from: number, to: number, filters: KeyFilters, aggregates: readonly AggregateUse[]): Promise<LevelDoc[]>;
  /**
   * Per window of a level starting in [from, to), its documents matching the filters merged per
   * value of group key `by` (all in one group when undefined), in the order of `aggregates`.
   */
  windowGroups(query: WindowQuery): Promise<WindowGroups[]>;
  /** The first window start and the last window end stored, on the coarsest level's windows; null when empty. */
  extent(): Promise<{ first: number; last: number } | null>;
  /** The status a runner published for this pipeline (another process), if any. */
  publishedStatus(): Promise<RunStatus | null>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A sink's own reader: also the states as stored, which the serving layer's cache keeps undeserialized. */
export interface StoredReader extends PipelineReader {
  /**
   * Every document of the level's windows starting at `starts`, states as stored: the reads the
   * serving layer's cache makes. One query per window where the server indexes an equality on the
   * window's start and not a range (FerretDB 1.x), else one range read over them.
   */
  findStoredWindows(level: Level, starts: readonly number[]): Promise<StoredLevelDoc[]>;
}

/** The stored levels of a plan: base windows first, then each rollup. */
export function planLevels(plan: Plan, where: (sizeMs: number, base: boolean) => string): Level[] {
  const base = plan.window.sizeMs;
  return [
    { sizeMs: base, label: levelLabel(base), where: where(base, true) },
    ...plan.window.rollups.map((sizeMs) => ({ sizeMs, label: levelLabel(sizeMs), where: where(sizeMs, false) })),
  ];
}

/** How the groups of one key value are told apart: "1" and 1 are different values. */
export function groupId(value: unknown): string {
  // undefined (not grouped) has no JSON text
  return value === undefined ? '' : JSON.stringify(value);
}

/** Documents (with states of their own, merged into) grouped per window and value of key `by`. */
export function groupDocs(docs: readonly LevelDoc[], by: number | undefined): WindowGroups[] {
  const windows = new Map<number, { documents: number; groups: Map<string, { value: unknown; states: AggregationState[] }> }>();
  for (const doc of docs) {
    let window = windows.get(doc.windowStart);
    if (!window) windows.set(doc.windowStart, (window = { documents: 0, groups: new Map() }));
    window.documents++;
    const value = by === undefined ? undefined : doc.key[by];
    const id = groupId(value);
    const group = window.groups.get(id);
    if (group) group.states.forEach((state, i) => state.merge(doc.states[i]));
    else window.groups.set(id, { value, states: doc.states });
  }
  return [...windows].map(([windowStart, w]) => ({ windowStart, documents: w.documents, groups: [...w.groups.values()] }));
}

/** The first window of `level` starting at or after `from`, and every one after it before `to`. */
export function windowStarts(level: Level, from: number, to: number): number[] {
  const starts: number[] = [];
  for (let start = Math.ceil(from / level.sizeMs) * level.sizeMs; start < to; start += level.sizeMs) starts.push(start);
  return starts;
}

import type { AggregationKind } from './aggregation.js';
import type { CompiledExpression } from '../expr/types.js';

/** The compiled form of a pipeline file: what the engine executes and what `runner explain` prints. */
export interface Plan {
  name: string;
  file: string;
  description?: string;
  /** At least one; several are read side by side into one stream (`sources:`). */
  sources: SourceUse[];
  /** Whether the file named its sources (`sources:`) and its sinks (`sinks:`), or gave one of each unnamed. */
  named: { sources: boolean; sinks: boolean };
  /** maxHeldRecords is at least maxRecords. */
  batch: { intervalMs: number; maxRecords: number; maxHeldRecords: number; maxGroups: number };
  /** Bounds on each record and on expression evaluation; what exceeds them is dead-lettered. */
  limits: Limits;
  /** Absent: processing time (the time a record is read) stands in for event time. */
  time?: {
    field: string;
    path: string[];
    format: TimeFormat;
    maxOutOfOrderMs: number;
    allowedLatenessMs: number;
    /** Event times further ahead of the wall clock are dead letters (`time-out-of-range`). */
    maxFutureMs: number;
    /** Event times further behind the wall clock are dead letters; Infinity: no bound. */
    maxPastMs: number;
    /** A partition without records for this long no longer holds the watermark back; Infinity: never (see watermark.ts). */
    idleTimeoutMs: number;
  };
  filter?: CompiledExpression;
  fields: { name: string; expression: CompiledExpression }[];
  /**
   * `rollups`: sizes (ms) of the coarser levels kept next to the base windows, ascending, each a
   * whole multiple of the one before (tumbling windows only); empty when none are declared.
   */
  window: { kind: 'tumbling' | 'sliding'; sizeMs: number; everyMs: number; rollups: number[] };
  groupBy: GroupKey[];
  /** A group key that is absent or null: `null` groups such records under null, `deadLetter` rejects them (`missing-key`). */
  missingKeys: 'null' | 'deadLetter';
  aggregates: AggregateUse[];
  /** Outputs computed from the aggregates' results and the group keys, in declaration order (see derive.ts). */
  derived: DerivedOutput[];
  /**
   * At least one; every batch's results go to each (`sinks:`). The one that keeps the windows
   * between runs (`keeps` in its declaration), if any, holds the states every sink's rows come from.
   */
  sinks: SinkUse[];
  /** Defaults to the file `dead-letters/<name>.jsonl`, so no rejected record is ever lost. */
  deadLetter: ComponentUse;
}

export interface Limits {
  /** Longest record in bytes (`too-large`). */
  maxRecordBytes: number;
  /** Deepest nesting of objects and arrays, the record itself being 1 (`too-deep`). */
  maxDepth: number;
  /** Longest evaluation of one expression by jsonata's evaluator for one record (`expression-timeout`). */
  expressionTimeoutMs: number;
  /** Most items of an array an expression builds, and longest string `$pad` makes (`expression-error`). */
  maxValueLength: number;
}

/** `time.idleTimeout`'s default, also used without `time` (the watermark of processing time). */
export const DEFAULT_IDLE_TIMEOUT = '1m';

export const DEFAULT_LIMITS: Limits = { maxRecordBytes: 1048576, maxDepth: 64, expressionTimeoutMs: 1000, maxValueLength: 1_000_000 };

export interface ComponentUse {
  name: string;
  config: unknown;
}

export type TimeFormat = 'auto' | 'epochMillis' | 'epochSeconds' | 'iso8601';

/** A source of the pipeline, and what applies to its records alone, before the pipeline's own filter and fields. */
export interface SourceUse extends ComponentUse {
  /** Its records' `$source`: its name in `sources:`, or its component's name (`kafka`) for `source:`. */
  label: string;
  filter?: CompiledExpression;
  fields: { name: string; expression: CompiledExpression }[];
  /** Where its records hold their event time, when not at the pipeline's `time.field`. */
  time?: { field: string; path: string[]; format: TimeFormat };
}

/** A sink of the pipeline, and how its rows are made from a window's results. */
export interface SinkUse extends ComponentUse {
  /** Its name in `sinks:`, or its component's name for `sink:`. */
  label: string;
  document: DocumentField[];
  /** It keeps the windows between runs (at most one sink does): the pipeline's states are in its store. */
  keeps: boolean;
}

/** The sink whose store holds the pipeline's states: the one that keeps the windows, else the first. */
export function stateSink(plan: Pick<Plan, 'sinks'>): SinkUse {
  return plan.sinks.find((s) => s.keeps) ?? plan.sinks[0];
}

export interface GroupKey {
  name: string;
  /** A plain field read directly (fast path), or a computed expression. */
  field?: string;
  expression?: CompiledExpression;
}

export interface AggregateUse {
  name: string;
  kind: AggregationKind;
  options: Record<string, unknown>;
  /** Absent for kinds that take no input (count). */
  input?: CompiledExpression;
  /** Only records for which this holds are added (`where:`). */
  where?: CompiledExpression;
}

/** `name: { expression }` in `aggregate:`: a value computed from the row's other outputs, never stored as a state. */
export interface DerivedOutput {
  name: string;
  expression: CompiledExpression;
}

/** One stored field of a result document and the result-row name it takes its value from. */
export interface DocumentField {
  target: string;
  from: string;
}

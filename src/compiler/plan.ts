import type { AggregationKind } from '../components/aggregations/types.js';
import type { CompiledExpression } from '../expr/types.js';

/** The compiled form of a pipeline file: what the engine executes and what `runner explain` prints. */
export interface Plan {
  name: string;
  file: string;
  description?: string;
  source: ComponentUse;
  batch: { intervalMs: number; maxRecords: number };
  /** Absent: processing time (the time a record is read) stands in for event time. */
  time?: {
    field: string;
    path: string[];
    format: 'auto' | 'epochMillis' | 'epochSeconds' | 'iso8601';
    maxOutOfOrderMs: number;
    allowedLatenessMs: number;
  };
  filter?: CompiledExpression;
  fields: { name: string; expression: CompiledExpression }[];
  /**
   * `rollups`: sizes (ms) of the coarser levels kept next to the base windows, ascending, each a
   * whole multiple of the one before (tumbling windows only); empty when none are declared.
   */
  window: { kind: 'tumbling' | 'sliding'; sizeMs: number; everyMs: number; rollups: number[] };
  groupBy: GroupKey[];
  aggregates: AggregateUse[];
  sink: ComponentUse & { document: DocumentField[] };
  /** Defaults to the file `dead-letters/<name>.jsonl`, so no rejected record is ever lost. */
  deadLetter: ComponentUse;
}

export interface ComponentUse {
  name: string;
  config: any;
}

export interface GroupKey {
  name: string;
  /** A plain field read directly (fast path), or a computed expression. */
  field?: string;
  expression?: CompiledExpression;
}

export interface AggregateUse {
  name: string;
  kind: AggregationKind<any>;
  options: Record<string, unknown>;
  /** Absent for kinds that take no input (count). */
  input?: CompiledExpression;
}

/** One stored field of a result document and the result-row name it takes its value from. */
export interface DocumentField {
  target: string;
  from: string;
}

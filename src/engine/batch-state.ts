import type { AggregationState } from './aggregation.js';
import type { DeadLetter } from './records.js';

/**
 * The partial aggregate of one (window, group key) from one source partition in one batch, with
 * the range of offsets it covers: the merge decides per partial whether it was counted already.
 */
export interface Partial {
  partition: string;
  windowStart: number;
  windowEnd: number;
  key: unknown[];
  states: AggregationState[];
  minOffset: number;
  maxOffset: number;
}

/** One partition's partials, looked up through nested Maps (window -> key values...) so no key string is built per record. */
class PartitionTable {
  private readonly root = new Map<number, Map<unknown, unknown>>();
  maxOffset = -1;
  /** The window looked up last, and its level: consecutive records mostly share their window. */
  private lastStart = NaN;
  private lastLevel: Map<unknown, unknown> | undefined;

  /** Per-record partials (see partialFor) in a tree of their own: their lookups are one level deeper. */
  private readonly preciseRoot = new Map<number, Map<unknown, unknown>>();

  /** The keys-to-partials Map of a window, created on first use. */
  window(start: number, precise: boolean): Map<unknown, unknown> {
    if (precise) {
      let level = this.preciseRoot.get(start);
      if (!level) this.preciseRoot.set(start, (level = new Map()));
      return level;
    }
    if (start === this.lastStart) return this.lastLevel!;
    let level = this.root.get(start);
    if (!level) this.root.set(start, (level = new Map()));
    this.lastStart = start;
    this.lastLevel = level;
    return level;
  }
}

/** The partial states a batch accumulates, by partition, and the records it could not count. */
export class BatchState {
  readonly partials: Partial[] = [];
  /** Written with the batch, before its offsets are committed; dropped with it when it is rewound. */
  readonly deadLetters: DeadLetter[] = [];
  private readonly tables = new Map<string, PartitionTable>();
  records = 0;

  table(partition: string): PartitionTable {
    let table = this.tables.get(partition);
    if (!table) this.tables.set(partition, (table = new PartitionTable()));
    return table;
  }

  /** The highest offset seen per partition: what is committed once the batch is stored. */
  maxOffsets(): Map<string, number> {
    const offsets = new Map<string, number>();
    for (const [partition, table] of this.tables) if (table.maxOffset >= 0) offsets.set(partition, table.maxOffset);
    return offsets;
  }

  get isEmpty(): boolean {
    return this.tables.size === 0;
  }
}

export type { PartitionTable };

/**
 * The partial for (window, key) in a partition table, created on first use. With `precise`, the
 * record's offset is part of the lookup, so a partial never spans two records: used for records a
 * crashed run may already have merged, which must be checked one by one against stored offsets.
 */
export function partialFor(
  batch: BatchState,
  table: PartitionTable,
  partition: string,
  windowStart: number,
  windowEnd: number,
  key: unknown[],
  offset: number,
  precise: boolean,
  createStates: () => AggregationState[],
): Partial {
  let level = table.window(windowStart, precise);
  const depth = precise ? key.length + 1 : key.length;
  for (let i = 0; i < depth - 1; i++) {
    const step = i < key.length ? key[i] : offset;
    let next = level.get(step) as Map<unknown, unknown> | undefined;
    if (!next) level.set(step, (next = new Map()));
    level = next;
  }
  const last = depth === 0 ? undefined : depth > key.length ? offset : key[depth - 1];
  let partial = level.get(last) as Partial | undefined;
  if (!partial) {
    partial = { partition, windowStart, windowEnd, key: key.slice(), states: createStates(), minOffset: offset, maxOffset: offset };
    level.set(last, partial);
    batch.partials.push(partial);
  }
  return partial;
}

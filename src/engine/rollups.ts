import type { AggregateUse } from './plan.js';
import { formatDuration } from '../config/duration.js';
import type { Partial } from './batch-state.js';
import type { StateStore } from './store.js';
import type { Fences } from './fences.js';

/**
 * A coarser granularity kept next to the base windows (`window: { tumbling: 1m, rollups: [1h, 1d] }`):
 * its own store, merged exactly like the base one (same documents, offsets and fences).
 */
export interface RollupLevel {
  sizeMs: number;
  /** The level's short name, e.g. `1h`: the suffix of its MongoDB collection. */
  label: string;
  store: StateStore;
}

export function levelLabel(sizeMs: number): string {
  return formatDuration(sizeMs);
}

/** What mergeBatch needs of a batch: its partials and the highest offset per partition. */
export interface PartialBatch {
  readonly partials: readonly Partial[];
  maxOffsets(): Map<string, number>;
}

/**
 * The partials of a coarser level, made at flush time by merging the batch's base partials per
 * partition, coarser window and key (minOffset and maxOffset the min and max of those merged), so
 * the per-record path is untouched. Partials the processor built record by record (offsets at or
 * below the partition's fence, which a crashed run may already have stored) stay record by record
 * here too, so a replay is checked against each level's stored offsets one record at a time.
 */
export function rollupBatch(base: PartialBatch, sizeMs: number, aggregates: readonly AggregateUse[], fences: Fences): PartialBatch {
  const partials: Partial[] = [];
  const byId = new Map<string, Partial>();
  for (const p of base.partials) {
    const start = Math.floor(p.windowStart / sizeMs) * sizeMs;
    const precise = p.maxOffset <= fences.of(p.partition);
    const id = `${p.partition}\u0000${start}\u0000${JSON.stringify(p.key)}${precise ? `\u0000${p.minOffset}` : ''}`;
    let rolled = byId.get(id);
    if (!rolled) {
      rolled = {
        partition: p.partition,
        windowStart: start,
        windowEnd: start + sizeMs,
        key: p.key,
        states: aggregates.map((a) => a.kind.create(a.options)),
        minOffset: p.minOffset,
        maxOffset: p.maxOffset,
      };
      byId.set(id, rolled);
      partials.push(rolled);
    } else {
      if (p.minOffset < rolled.minOffset) rolled.minOffset = p.minOffset;
      if (p.maxOffset > rolled.maxOffset) rolled.maxOffset = p.maxOffset;
    }
    for (let i = 0; i < rolled.states.length; i++) rolled.states[i].merge(p.states[i]);
  }
  return { partials, maxOffsets: () => base.maxOffsets() };
}

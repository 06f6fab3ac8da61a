import type { AggregateUse, Plan } from '../engine/plan.js';
import type { AggregationState } from '../engine/aggregation.js';
import { groupId, type KeyFilters, type Level, type PipelineReader } from '../engine/reader.js';

/** A request the caller got wrong: answered 400 with a message naming the parameter. */
export class BadRequest extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
    this.name = 'BadRequest';
  }
}

export interface SeriesQuery {
  from: number;
  to: number;
  granularityMs: number;
  filters: KeyFilters;
  aggregates: AggregateUse[];
}

export interface SeriesResult {
  /** The stored level read: the coarsest one whose windows tile the granularity. */
  level: Level;
  /** The range actually covered: from rounded down, to rounded up, to whole granularity periods. */
  from: number;
  to: number;
  points: { time: number; values: unknown[] }[];
  documents: number;
}

export const MAX_POINTS = 10_000;

/** The coarsest stored level that tiles `sizeMs` exactly (every stored size divides the base window's multiples). */
export function levelFor(levels: readonly Level[], sizeMs: number): Level | undefined {
  let best: Level | undefined;
  for (const level of levels) if (sizeMs % level.sizeMs === 0) best = level;
  return best;
}

/**
 * A time series: one point per granularity period in the range, each the merge of the states of
 * every stored window and key inside it (HLL uniques are register-wise merges, avg merges sums
 * and counts), read from the coarsest level that tiles the granularity. Periods without data
 * carry the result of an empty state (0 for counts and uniques, null for averages).
 */
export async function querySeries(reader: PipelineReader, query: SeriesQuery): Promise<SeriesResult> {
  const level = levelFor(reader.levels, query.granularityMs);
  if (!level) {
    throw new BadRequest('granularity', `granularity must be a whole multiple of the pipeline's window (${reader.levels[0].label})`);
  }
  const size = query.granularityMs;
  const from = Math.floor(query.from / size) * size;
  const to = Math.ceil(query.to / size) * size;
  const count = (to - from) / size;
  if (count > MAX_POINTS) {
    throw new BadRequest(
      'granularity',
      `${count} points of ${level.label} between from and to; at most ${MAX_POINTS}: choose a coarser granularity or a shorter range`,
    );
  }
  const windows = await reader.windowGroups({ level, from, to, filters: query.filters, aggregates: query.aggregates });
  const buckets = Array.from({ length: count }, (): AggregationState[][] => []);
  let documents = 0;
  for (const window of windows) {
    const i = Math.floor((window.windowStart - from) / size);
    if (i < 0 || i >= count) continue;
    documents += window.documents;
    for (const group of window.groups) buckets[i].push(group.states);
  }
  const points = buckets.map((states, i) => ({ time: from + i * size, values: mergedResults(query.aggregates, states) }));
  return { level, from, to, points, documents };
}

/**
 * Splits [from, to) into the fewest stored windows: the coarsest level's whole windows in the
 * middle, finer levels for the edges. `from` and `to` must be multiples of the finest level.
 */
export function coverRange(levels: readonly Level[], from: number, to: number): { level: Level; from: number; to: number }[] {
  const parts: { level: Level; from: number; to: number }[] = [];
  const cover = (start: number, end: number, maxIndex: number): void => {
    if (start >= end) return;
    for (let i = maxIndex; i >= 0; i--) {
      const size = levels[i].sizeMs;
      const middleStart = Math.ceil(start / size) * size;
      const middleEnd = Math.floor(end / size) * size;
      if (middleStart < middleEnd || i === 0) {
        cover(start, middleStart, i - 1);
        parts.push({ level: levels[i], from: middleStart, to: middleEnd });
        cover(middleEnd, end, i - 1);
        return;
      }
    }
  };
  cover(from, to, levels.length - 1);
  return parts;
}

export interface TopQuery {
  from: number;
  to: number;
  /** The aggregates the ranked output is or derives from. */
  aggregates: AggregateUse[];
  /** The ranked output, from the merged results of `aggregates` and the ranked key's value. */
  rankedBy(results: readonly unknown[], value: unknown): unknown;
  /** Index of the group key ranked by. */
  by: number;
  filters: KeyFilters;
  limit: number;
}

export interface TopResult {
  from: number;
  to: number;
  levels: { level: Level; from: number; to: number }[];
  rows: { value: unknown; result: unknown }[];
  documents: number;
}

/**
 * The top values of a group key by an output over a range: each value's states merged over the
 * whole range and every other key (a publisher's uniques over 30 days and all geos are one HLL
 * merge; its CTR the merged clicks over the merged impressions), ranked by the output of the
 * merged results, largest first (ties by the key value).
 */
export async function queryTop(reader: PipelineReader, query: TopQuery): Promise<TopResult> {
  const base = reader.levels[0].sizeMs;
  const from = Math.floor(query.from / base) * base;
  const to = Math.ceil(query.to / base) * base;
  const parts = coverRange(reader.levels, from, to);
  const merged = new Map<string, { value: unknown; states: AggregationState[][] }>();
  let documents = 0;
  const windowLists = await Promise.all(
    parts.map((p) => reader.windowGroups({ ...p, filters: query.filters, aggregates: query.aggregates, by: query.by })),
  );
  for (const windows of windowLists) {
    for (const window of windows) {
      documents += window.documents;
      for (const group of window.groups) {
        const id = groupId(group.value);
        const entry = merged.get(id);
        if (entry) entry.states.push(group.states);
        else merged.set(id, { value: group.value, states: [group.states] });
      }
    }
  }
  const rows = [...merged.values()].map((e) => ({
    value: e.value,
    result: query.rankedBy(mergedResults(query.aggregates, e.states), e.value),
  }));
  rows.sort(
    (a, b) => compareResults(b.result, a.result) || (String(a.value) < String(b.value) ? -1 : String(a.value) > String(b.value) ? 1 : 0),
  );
  return { from, to, levels: parts, rows: rows.slice(0, query.limit), documents };
}

/**
 * The results of the aggregates over every list of states given (read-only states, as readers
 * keep them): merged into new states when there are several, an empty state's result when none.
 */
function mergedResults(aggregates: readonly AggregateUse[], lists: readonly AggregationState[][]): unknown[] {
  if (lists.length === 1) return lists[0].map((state) => state.result());
  return aggregates.map((a, i) => {
    const state = a.kind.create(a.options);
    for (const states of lists) state.merge(states[i]);
    return state.result();
  });
}

/** Orders results: numbers numerically (null and non-numbers last), anything else by its JSON text. */
function compareResults(a: unknown, b: unknown): number {
  const na = typeof a === 'number' && Number.isFinite(a);
  const nb = typeof b === 'number' && Number.isFinite(b);
  if (na && nb) return a - b;
  if (na !== nb) return na ? 1 : -1;
  const sa = (JSON.stringify(a) as string | undefined) ?? '';
  const sb = (JSON.stringify(b) as string | undefined) ?? '';
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

/** Group-key filters from query parameters named after the keys. */
export function keyFilters(plan: Plan, params: Record<string, unknown>): Map<number, string> {
  const filters = new Map<number, string>();
  plan.groupBy.forEach((k, i) => {
    const value = params[k.name];
    if (typeof value === 'string') filters.set(i, value);
  });
  return filters;
}

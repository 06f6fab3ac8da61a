import type { Plan } from './plan.js';
import { restoreState, type StateDoc } from './store.js';

export type ResultRow = Record<string, unknown>;

/**
 * A stored document as the row users see, through the sink's document mapping: window bounds as
 * Dates, group key values, and each aggregate's result.
 */
export function toRow(doc: StateDoc, plan: Plan): ResultRow {
  const values = new Map<string, unknown>([
    ['window.start', new Date(doc.windowStart)],
    ['window.end', new Date(doc.windowEnd)],
  ]);
  plan.groupBy.forEach((k, i) => values.set(k.name, doc.key[i]));
  plan.aggregates.forEach((a, i) => values.set(a.name, (doc.live?.[i] ?? restoreState(a, doc.states)).result()));
  const row: ResultRow = {};
  for (const field of plan.sink.document) row[field.target] = values.get(field.from);
  return row;
}

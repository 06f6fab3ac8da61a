import type { DocumentField, Plan } from './plan.js';
import { restoreState, type StateDoc } from './store.js';
import { addDerived } from './derive.js';

export type ResultRow = Record<string, unknown>;

/**
 * A stored document as the row users see, through a sink's document mapping: window bounds as
 * Dates, group key values, each aggregate's result, and the derived outputs computed from them.
 */
export function toRow(doc: StateDoc, plan: Plan, document: readonly DocumentField[]): ResultRow {
  const outputs: Record<string, unknown> = {};
  plan.groupBy.forEach((k, i) => (outputs[k.name] = doc.key[i]));
  plan.aggregates.forEach((a, i) => (outputs[a.name] = (doc.live?.[i] ?? restoreState(a, doc.states)).result()));
  if (plan.derived.length > 0) addDerived(plan.derived, outputs);
  const row: ResultRow = {};
  for (const field of document) {
    row[field.target] =
      field.from === 'window.start'
        ? new Date(doc.windowStart)
        : field.from === 'window.end'
          ? new Date(doc.windowEnd)
          : outputs[field.from];
  }
  return row;
}

import type { AggregateUse, Plan } from '../engine/plan.js';
import { addDerived } from '../engine/derive.js';
import { referencedFields } from '../expr/index.js';

/**
 * What a request for some of a pipeline's outputs reads and returns: the aggregates they are or
 * derive from (a derived output's inputs, through the derived outputs it reads), and each
 * requested output computed from those aggregates' merged results. The CTR of a day is thus the
 * day's clicks over its impressions, never an average of minute CTRs.
 */
export interface OutputSelection {
  /** The aggregates to read, in the plan's order. */
  aggregates: AggregateUse[];
  /** The requested outputs, in request order, from the results of `aggregates` and the known group key values. */
  values(results: readonly unknown[], keys: Readonly<Record<string, unknown>>): unknown[];
}

/** Every output a request may name: the aggregates, then the derived outputs. */
export function outputNames(plan: Plan): string[] {
  return [...plan.aggregates.map((a) => a.name), ...plan.derived.map((d) => d.name)];
}

export function selectOutputs(plan: Plan, names: readonly string[]): OutputSelection {
  const needed = new Set<string>();
  const visit = (name: string): void => {
    if (needed.has(name)) return;
    needed.add(name);
    const derived = plan.derived.find((d) => d.name === name);
    if (derived) for (const field of referencedFields(derived.expression.source)) visit(field);
  };
  for (const name of names) visit(name);
  const aggregates = plan.aggregates.filter((a) => needed.has(a.name));
  const derived = plan.derived.filter((d) => needed.has(d.name));
  return {
    aggregates,
    values(results, keys) {
      const outputs: Record<string, unknown> = { ...keys };
      aggregates.forEach((a, i) => (outputs[a.name] = results[i]));
      if (derived.length > 0) addDerived(derived, outputs);
      return names.map((name) => outputs[name]);
    },
  };
}

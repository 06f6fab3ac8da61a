import { ExpressionRuntimeError } from '../expr/index.js';
import type { DerivedOutput } from './plan.js';

/**
 * Adds the derived outputs to `values` (the row's group keys and aggregate results, by name), in
 * declaration order, each seeing those before it. A derived value is null when an input is
 * missing or of the wrong type, or when the result is not a finite number (a division by zero):
 * a window with no impressions has no CTR, and that is not an error.
 */
export function addDerived(derived: readonly DerivedOutput[], values: Record<string, unknown>): void {
  for (const { name, expression } of derived) values[name] = derivedValue(() => expression.evaluate(values));
}

function derivedValue(evaluate: () => unknown): unknown {
  let value: unknown;
  try {
    value = evaluate();
  } catch (error) {
    if (error instanceof ExpressionRuntimeError) return null;
    throw error;
  }
  // NEEDS_FALLBACK (a symbol): an input the translation does not reproduce, e.g. an array where a number was expected
  if (value === undefined || typeof value === 'symbol' || (typeof value === 'number' && !Number.isFinite(value))) return null;
  return value;
}

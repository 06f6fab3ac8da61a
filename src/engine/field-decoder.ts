import type { Plan } from './plan.js';
import { JsonFieldScanner } from '../codec/json-scanner.js';
import { referencedFields } from '../expr/index.js';
import type { CompiledExpression } from '../expr/types.js';

/**
 * The top-level record fields a plan reads, when they are known exactly: every expression is
 * translated (jsonata's own evaluator gets whole records) and none reads `__proto__`. Translated
 * code also checks the record for jsonata's function markers, so those are read too.
 */
export function fieldsRead(plan: Plan): string[] | undefined {
  const expressions: CompiledExpression[] = [];
  for (const source of plan.sources) {
    if (source.filter) expressions.push(source.filter);
    for (const field of source.fields) expressions.push(field.expression);
  }
  if (plan.filter) expressions.push(plan.filter);
  for (const field of plan.fields) expressions.push(field.expression);
  for (const key of plan.groupBy) if (key.expression) expressions.push(key.expression);
  for (const use of plan.aggregates) {
    if (use.input) expressions.push(use.input);
    if (use.where) expressions.push(use.where);
  }
  if (expressions.some((e) => !e.translated)) return undefined;
  const fields = new Set(['_jsonata_function', '_jsonata_lambda']);
  for (const expression of expressions) for (const field of referencedFields(expression.source)) fields.add(field);
  for (const key of plan.groupBy) if (key.field !== undefined) fields.add(key.field);
  if (plan.time) fields.add(plan.time.path[0]);
  for (const source of plan.sources) if (source.time) fields.add(source.time.path[0]);
  return fields.has('__proto__') ? undefined : [...fields];
}

/**
 * Decodes lines' bytes straight into rows of the fields the plan reads, declining lines nested
 * deeper than the plan's `limits.maxDepth`; undefined when those fields are not known exactly.
 */
export function fieldDecoder(plan: Plan): JsonFieldScanner | undefined {
  const fields = fieldsRead(plan);
  return fields && new JsonFieldScanner(fields, plan.limits.maxDepth);
}

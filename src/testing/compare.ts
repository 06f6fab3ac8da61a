import type { DocumentField, Plan } from '../engine/plan.js';
import type { ResultRow } from '../engine/rows.js';

const APPROXIMATE_KINDS = new Set(['approxDistinct', 'quantile']);
const DEFAULT_APPROXIMATE_TOLERANCE = 0.02;
const FLOAT_EPSILON = 1e-9;

/** A value as test files write it: dates as ISO strings. */
function normalize(value: unknown): unknown {
  return value instanceof Date ? value.toISOString() : value;
}

function sameInstant(expected: unknown, actual: unknown): boolean {
  return typeof expected === 'string' && typeof actual === 'string' && Date.parse(expected) === Date.parse(actual);
}

/**
 * Rows are matched by their identity (window bounds and group keys); within a matched row each
 * field is compared exactly, floats to 1e-9, and approximate aggregates within a relative tolerance.
 */
export function compareRows(
  plan: Plan,
  document: readonly DocumentField[],
  expected: Record<string, unknown>[],
  actualRows: ResultRow[],
  tolerance: Record<string, number> = {},
): string[] {
  const aggregateNames = new Set(plan.aggregates.map((a) => a.name));
  const identity = document.filter((f) => !aggregateNames.has(f.from)).map((f) => f.target);
  const tolerances = new Map<string, number>();
  for (const f of document) {
    const kind = plan.aggregates.find((a) => a.name === f.from)?.kind.name;
    if (kind && APPROXIMATE_KINDS.has(kind)) tolerances.set(f.target, DEFAULT_APPROXIMATE_TOLERANCE);
  }
  for (const [field, t] of Object.entries(tolerance)) tolerances.set(field, t);

  const identityOf = (row: Record<string, unknown>) =>
    JSON.stringify(
      identity.map((f) => {
        const v = normalize(row[f]);
        return typeof v === 'string' && !Number.isNaN(Date.parse(v)) && /^\d{4}-/.test(v) ? new Date(v).toISOString() : v;
      }),
    );
  const actual = new Map(actualRows.map((r) => [identityOf(r), r]));
  const problems: string[] = [];
  for (const want of expected) {
    const id = identityOf(want);
    const got = actual.get(id);
    const label = identity.map((f) => `${f}: ${JSON.stringify(normalize(want[f]))}`).join(', ');
    if (!got) {
      problems.push(`missing row {${label}}: expected ${JSON.stringify(want)}`);
      continue;
    }
    actual.delete(id);
    for (const [field, wantValue] of Object.entries(want)) {
      if (identity.includes(field)) continue;
      const gotValue = normalize(got[field]);
      if (!matches(wantValue, gotValue, tolerances.get(field))) {
        const allowed = tolerances.has(field) ? ` (tolerance ${tolerances.get(field)! * 100}%)` : '';
        problems.push(`row {${label}}: ${field}: expected ${JSON.stringify(wantValue)}, got ${JSON.stringify(gotValue)}${allowed}`);
      }
    }
    for (const field of Object.keys(got)) {
      if (!(field in want)) problems.push(`row {${label}}: ${field} = ${JSON.stringify(normalize(got[field]))} is not in the expected row`);
    }
  }
  for (const extra of actual.values()) {
    problems.push(`unexpected row ${JSON.stringify(Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, normalize(v)])))}`);
  }
  return problems;
}

function matches(expected: unknown, actual: unknown, relative: number | undefined): boolean {
  if (typeof expected === 'number' && typeof actual === 'number') {
    const allowed = Math.max(FLOAT_EPSILON, (relative ?? 0) * Math.abs(expected));
    return Math.abs(expected - actual) <= allowed;
  }
  if (sameInstant(expected, actual)) return true;
  return JSON.stringify(expected) === JSON.stringify(actual);
}

import type { Plan } from './plan.js';

/** Numbers below this are read as epoch seconds by `format: auto` (1e11 s is the year 5138; 1e11 ms is 1973). */
const SECONDS_LIMIT = 1e11;

export type TimeFormat = NonNullable<Plan['time']>['format'];

/** The earliest and latest event times: years 1 to 9999, where dates print as ISO-8601 and windows stay in the range of dates. */
export const MIN_EVENT_TIME = -62135596800000;
export const MAX_EVENT_TIME = 253402300799999;

/** A time within years 1 to 9999, else NaN (a NaN stays NaN). */
function inRange(ms: number): number {
  return ms >= MIN_EVENT_TIME && ms <= MAX_EVENT_TIME ? ms : NaN;
}

/**
 * Turns a record's time value into epoch milliseconds; NaN when the value is not a time in the
 * declared format or lies outside years 1 to 9999, undefined when it is missing.
 */
export function makeTimeParser(format: TimeFormat): (value: unknown) => number | undefined {
  switch (format) {
    case 'epochMillis':
      return (v) => (v == null ? undefined : typeof v === 'number' ? inRange(v) : NaN);
    case 'epochSeconds':
      return (v) => (v == null ? undefined : typeof v === 'number' ? inRange(v * 1000) : NaN);
    case 'iso8601':
      return (v) => (v == null ? undefined : typeof v === 'string' && /^\d{4}-\d\d-\d\d/.test(v) ? inRange(Date.parse(v)) : NaN);
    case 'auto':
      return (v) => {
        if (v == null) return undefined;
        if (typeof v === 'number') return inRange(Math.abs(v) < SECONDS_LIMIT ? v * 1000 : v);
        if (typeof v === 'string') return /^\d{4}-\d\d-\d\d/.test(v) ? inRange(Date.parse(v)) : NaN;
        return NaN;
      };
  }
}

/** Reads a dotted path from a record; the common one-step path takes the fast branch. */
export function makePathReader(path: readonly string[]): (row: Record<string, unknown>) => unknown {
  if (path.length === 1) {
    const [field] = path;
    return (row) => row[field];
  }
  return (row) => {
    let value: unknown = row;
    for (const step of path) {
      if (value === null || typeof value !== 'object') return undefined;
      value = (value as Record<string, unknown>)[step];
    }
    return value;
  };
}

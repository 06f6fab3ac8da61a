/**
 * Runtime helpers shared by translated expressions. Each one mirrors the jsonata 2.2 function or
 * operator of the same name (node_modules/jsonata/jsonata.js); where jsonata would take a path this
 * code does not reproduce exactly, the helper throws FALLBACK and the caller returns NEEDS_FALLBACK.
 */
import { ExpressionRuntimeError, SOURCE, type SourcedRow } from './types.js';

/**
 * Thrown inside translated code when this input must go to jsonata's own evaluator. One shared
 * instance and not an Error: it is control flow on a hot path, and an Error would build a stack.
 */
export class TranslationFallback {}
export const FALLBACK: TranslationFallback = Object.freeze(new TranslationFallback());

/** `$source`: the name of the row's source. */
export function sourceOf(row: SourcedRow): string | undefined {
  return row[SOURCE];
}

// eslint-disable-next-line @typescript-eslint/unbound-method -- generated code calls it only as hasOwn.call(object, key)
export const hasOwn = Object.prototype.hasOwnProperty;

/** jsonata's utils.isFunction: native functions and jsonata function/lambda objects. */
function isJsonataFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (value === null || typeof value !== 'object') return false;
  const v = value as { _jsonata_function?: unknown; _jsonata_lambda?: unknown };
  return v._jsonata_function === true || v._jsonata_lambda === true;
}

/**
 * Throws FALLBACK unless `value` is a non-null object that jsonata treats as a plain object in a
 * path step: arrays (jsonata maps over them) and objects marked as jsonata functions are left to
 * jsonata.
 */
export function checkObject(value: object): void {
  if (Array.isArray(value) || isJsonataFunction(value)) throw FALLBACK;
}

/**
 * Checks a value a path produced: strings, numbers, booleans, null, undefined and plain objects
 * pass; arrays, functions, bigints and symbols throw FALLBACK.
 */
export function checkLeaf(value: unknown): void {
  if (value === null || value === undefined) return;
  const t = typeof value;
  if (t === 'object') checkObject(value);
  else if (t !== 'string' && t !== 'number' && t !== 'boolean') throw FALLBACK;
}

// ---- errors ----------------------------------------------------------------------------------

const messages: Record<string, string> = {
  T2001: 'The left side of the {{token}} operator must evaluate to a number',
  T2002: 'The right side of the {{token}} operator must evaluate to a number',
  T2009: 'The values {{value}} and {{value2}} either side of operator {{token}} must be of the same data type',
  T2010: 'The expressions either side of operator {{token}} must evaluate to numeric or string values',
  D1002: 'Cannot negate a non-numeric value: {{value}}',
  D3001: 'Attempting to invoke string function on Infinity or NaN',
  D3030: 'Unable to cast value to a number: {{value}}',
};

/**
 * An error jsonata would raise, thrown inside translated code. Like jsonata's own error objects the
 * message is only built at the top, because jsonata rewrites `token` on the way up: an error raised
 * inside the right operand of `and`/`or` reports that operator (see retoken()).
 */
export class PendingError {
  constructor(
    readonly code: string,
    public token?: string,
    readonly value?: unknown,
    readonly value2?: unknown,
  ) {}

  toRuntimeError(): ExpressionRuntimeError {
    const fields: Record<string, unknown> = { token: this.token, value: this.value, value2: this.value2 };
    const message = messages[this.code].replace(/\{\{([^}]+)}}/g, (_m, name: string) => String(JSON.stringify(fields[name])));
    return new ExpressionRuntimeError(message, this.code);
  }
}

/** What jsonata does to errors escaping the right operand of `and`/`or`: they take its token. */
export function retoken(err: unknown, op: string): unknown {
  if (err instanceof PendingError) err.token = op;
  return err;
}

/** T2009 carries both operands, which must be JSON-printable strings or numbers here. */
export function errMismatchedTypes(lhs: unknown, rhs: unknown, op: string): PendingError {
  return new PendingError('T2009', op, lhs, rhs);
}

export function errCannotNegate(value: unknown): PendingError {
  const t = typeof value;
  if (t === 'bigint' || t === 'symbol' || t === 'function') throw FALLBACK;
  return new PendingError('D1002', '-', value);
}

// ---- casting ---------------------------------------------------------------------------------

/**
 * jsonata's `$boolean` casting, used by `and`, `or`, `? :` and filters: false for undefined, null,
 * false, 0, NaN, "", empty arrays, empty objects and functions; an array is true when any member is.
 * jsonata raises D1001 for a non-finite number; inside translated code that falls back.
 */
export function truthy(value: unknown): boolean {
  switch (typeof value) {
    case 'boolean':
      return value;
    case 'string':
      return value.length > 0;
    case 'number':
      if (value !== value) return false;
      if (value === Infinity || value === -Infinity) throw FALLBACK;
      return value !== 0;
    case 'undefined':
      return false;
    case 'object':
      if (value === null) return false;
      if (Array.isArray(value)) {
        if (value.length === 1) return truthy(value[0]);
        // every member is cast, as jsonata's filter() does, so a non-finite member anywhere throws
        let any = false;
        for (const member of value) if (truthy(member)) any = true;
        return any;
      }
      if (isJsonataFunction(value)) return false;
      return Object.keys(value).length > 0;
    default:
      return false;
  }
}

/**
 * jsonata's effective boolean value of an expression result, for the engine to apply to filter
 * results: `$boolean(value)`, with undefined (no result) counting as false.
 * Throws ExpressionRuntimeError D1001 for Infinity/-Infinity, as jsonata's `$boolean` does.
 */
export function isTruthy(value: unknown): boolean {
  try {
    return truthy(value);
  } catch (err) {
    if (err === FALLBACK) throw new ExpressionRuntimeError('Number out of range: Infinity or -Infinity', 'D1001');
    throw err;
  }
}

function numberForString(val: number): number {
  return Number.isInteger(val) ? val : Number(val.toPrecision(15));
}

/** The JSON.stringify replacer of jsonata's `$string`. */
function stringReplacer(_key: string, val: unknown): unknown {
  if (typeof val === 'number') {
    if (val !== val) return val;
    if (val === Infinity || val === -Infinity) throw FALLBACK; // jsonata: D1001 from isNumeric
    return numberForString(val);
  }
  return val && isJsonataFunction(val) ? '' : val;
}

/** jsonata's `$string(value)` for a defined value (also the cast `&` applies to its operands). */
export function toJsonataString(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new PendingError('D3001');
      return String(numberForString(value));
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value) || isJsonataFunction(value)) throw FALLBACK;
      return JSON.stringify(value, stringReplacer);
    default:
      throw FALLBACK;
  }
}

/** jsonata's `$number` for a number, string or boolean argument. */
export function toNumber(arg: number | string | boolean): number {
  if (typeof arg === 'number') return arg;
  if (typeof arg === 'string') {
    if (/^-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?$/.test(arg) && !isNaN(parseFloat(arg)) && isFinite(Number(arg))) {
      return parseFloat(arg);
    }
    // jsonata's own (loosely anchored) pattern, kept as is so the results match
    if (/^(0[xX][0-9A-Fa-f]+)|(0[oO][0-7]+)|(0[bB][0-1]+)$/.test(arg)) return Number(arg);
    throw new PendingError('D3030', 'number', arg);
  }
  return arg ? 1 : 0;
}

// ---- strings ---------------------------------------------------------------------------------

/** Number of code points, as jsonata's `$length` counts them. */
export function codePointLength(str: string): number {
  let n = 0;
  for (const _ of str) n++;
  return n;
}

/** jsonata's `$substring(str, start, length?)` (code-point based). */
export function substring(str: string, start: number | undefined, length: number | undefined): string {
  const chars = Array.from(str);
  const strLength = chars.length;
  let from = start as number;
  if (strLength + from < 0) from = 0;
  if (length !== undefined) {
    if (length <= 0) return '';
    const end = from >= 0 ? from + length : strLength + from + length;
    return chars.slice(from, end).join('');
  }
  return chars.slice(from).join('');
}

/** jsonata's `$trim`: collapses runs of space, tab, CR and LF and strips one space at each end. */
export function trim(str: string): string {
  let result = str.replace(/[ \t\n\r]+/gm, ' ');
  if (result.charAt(0) === ' ') result = result.substring(1);
  if (result.charAt(result.length - 1) === ' ') result = result.substring(0, result.length - 1);
  return result;
}

// ---- numbers ---------------------------------------------------------------------------------

/** jsonata's `$round(value, precision?)`: round half to even, shifting in decimal text. */
export function round(arg: number, precision: number | undefined): number {
  let value = arg;
  if (precision) {
    const parts = value.toString().split('e');
    value = +(parts[0] + 'e' + (parts[1] ? +parts[1] + precision : precision));
  }
  let result = Math.round(value);
  const diff = result - value;
  if (Math.abs(diff) === 0.5 && Math.abs(result % 2) === 1) result = result - 1;
  if (precision) {
    const parts = result.toString().split('e');
    result = +(parts[0] + 'e' + (parts[1] ? +parts[1] - precision : -precision));
  }
  if (Object.is(result, -0)) result = 0;
  return result;
}

// ---- equality --------------------------------------------------------------------------------

/** jsonata's `=`: deep equality for two objects/arrays, strict equality otherwise. */
export function deepEqual(lhs: unknown, rhs: unknown): boolean {
  if (lhs === rhs) return true;
  if (typeof lhs !== 'object' || typeof rhs !== 'object' || lhs === null || rhs === null) return false;
  if (Array.isArray(lhs) && Array.isArray(rhs)) {
    if (lhs.length !== rhs.length) return false;
    for (let i = 0; i < lhs.length; i++) if (!deepEqual(lhs[i], rhs[i])) return false;
    return true;
  }
  // as jsonata: an array and an object compare by their own property names
  const lkeys = Object.getOwnPropertyNames(lhs).sort();
  const rkeys = Object.getOwnPropertyNames(rhs).sort();
  if (lkeys.length !== rkeys.length) return false;
  for (let i = 0; i < lkeys.length; i++) if (lkeys[i] !== rkeys[i]) return false;
  for (const key of lkeys) {
    if (!deepEqual((lhs as Record<string, unknown>)[key], (rhs as Record<string, unknown>)[key])) return false;
  }
  return true;
}

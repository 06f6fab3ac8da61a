/**
 * Turns jsonata's parse errors into ExpressionSyntaxError with a 0-based offset that points at the
 * start of the offending token.
 *
 * jsonata's `position` is where its lexer stood after reading the token: the offset just past it
 * (for "a b" the error on `b` has position 3). Lexer errors differ: an unterminated string or
 * backtick name reports the end of the text, a bad escape the character after the backslash, a
 * number out of range and an unclosed comment their start. This module re-scans the text with the
 * same lexical rules to find where each token starts.
 */
import { ExpressionSyntaxError } from './types.js';

/** A jsonata error object as thrown by `jsonata(source)`. */
export interface JsonataError {
  readonly code?: string;
  readonly position?: number;
  readonly token?: unknown;
  readonly value?: unknown;
  readonly message?: string;
}

interface Span {
  readonly start: number;
  readonly end: number;
}

const WHITESPACE = ' \t\n\r\v';
/** Characters that end a name: jsonata's single-character operators (plus `!` and `~`). */
const OPERATOR_CHARS = '.[]{}(),@#;:?+-*/%|=<>^&!~';
const TWO_CHAR_OPERATORS = ['..', ':=', '!=', '>=', '<=', '**', '~>', '?:', '??'];
const NUMBER = /^-?(0|([1-9][0-9]*))(\.[0-9]+)?([Ee][-+]?[0-9]+)?/;

interface Scan {
  readonly spans: Span[];
  /** Start of the token the lexer could not finish (unterminated string, name, regex, comment). */
  readonly unfinished?: number;
}

/**
 * Splits `source` into token spans with jsonata's lexical rules. A `/` starts a regular expression
 * where an operand is expected (at the start or after an operator other than a closing bracket).
 */
function scan(source: string): Scan {
  const spans: Span[] = [];
  let pos = 0;
  let operandExpected = true;
  const length = source.length;
  while (pos < length) {
    const ch = source.charAt(pos);
    if (WHITESPACE.includes(ch)) {
      pos++;
      continue;
    }
    const start = pos;
    if (ch === '/' && source.charAt(pos + 1) === '*') {
      const close = source.indexOf('*/', pos + 2);
      if (close === -1) return { spans, unfinished: start };
      pos = close + 2;
      continue;
    }
    if (ch === '/' && operandExpected) {
      // regular expression: up to an unescaped `/` outside brackets, then flags
      let depth = 0;
      pos++;
      let closed = false;
      while (pos < length) {
        const c = source.charAt(pos);
        if (c === '/' && depth === 0) {
          let backslashes = 0;
          while (source.charAt(pos - backslashes - 1) === '\\') backslashes++;
          if (backslashes % 2 === 0) {
            closed = true;
            break;
          }
        }
        if ('([{'.includes(c) && source.charAt(pos - 1) !== '\\') depth++;
        if (')]}'.includes(c) && source.charAt(pos - 1) !== '\\') depth--;
        pos++;
      }
      if (!closed) return { spans, unfinished: start };
      pos++;
      while (source.charAt(pos) === 'i' || source.charAt(pos) === 'm') pos++;
      spans.push({ start, end: pos });
      operandExpected = false;
      continue;
    }
    const two = source.substring(pos, pos + 2);
    if (TWO_CHAR_OPERATORS.includes(two)) {
      pos += 2;
      spans.push({ start, end: pos });
      operandExpected = true;
      continue;
    }
    if (OPERATOR_CHARS.includes(ch)) {
      pos++;
      spans.push({ start, end: pos });
      operandExpected = !')]}'.includes(ch);
      continue;
    }
    if (ch === '"' || ch === "'") {
      pos++;
      let closed = false;
      while (pos < length) {
        const c = source.charAt(pos);
        if (c === '\\') pos++;
        else if (c === ch) {
          closed = true;
          break;
        }
        pos++;
      }
      if (!closed) return { spans, unfinished: start };
      pos++;
      spans.push({ start, end: pos });
      operandExpected = false;
      continue;
    }
    const number = NUMBER.exec(source.substring(pos));
    if (number) {
      pos += number[0].length;
      spans.push({ start, end: pos });
      operandExpected = false;
      continue;
    }
    if (ch === '`') {
      const close = source.indexOf('`', pos + 1);
      if (close === -1) return { spans, unfinished: start };
      pos = close + 1;
      spans.push({ start, end: pos });
      operandExpected = false;
      continue;
    }
    while (pos < length && !WHITESPACE.includes(source.charAt(pos)) && !OPERATOR_CHARS.includes(source.charAt(pos))) pos++;
    const word = source.substring(start, pos);
    spans.push({ start, end: pos });
    operandExpected = word === 'and' || word === 'or' || word === 'in';
  }
  return { spans };
}

/** End of the text without trailing whitespace: where "unexpected end" errors point. */
function endOfText(source: string): number {
  let end = source.length;
  while (end > 0 && WHITESPACE.includes(source.charAt(end - 1))) end--;
  return end;
}

/** The 0-based offset of the token jsonata's error is about. */
export function errorOffset(source: string, err: JsonataError): number {
  const position = err.position;
  switch (err.code) {
    case 'S0101': // unterminated string
    case 'S0105': // unterminated backtick name
    case 'S0302': // unterminated regular expression
    case 'S0106': // unterminated comment (jsonata reports its start already)
      return scan(source).unfinished ?? Math.min(position ?? 0, source.length);
    case 'S0103': // unsupported escape: position is the character after the backslash
    case 'S0104': // bad \u escape: same
      return Math.max(0, (position ?? 1) - 1);
    case 'S0102': // number out of range: position is its start
      return position ?? 0;
    case 'S0301': // empty regular expression: position is the closing slash
      return Math.max(0, (position ?? 1) - 1);
  }
  if (err.token === '(end)' || position === undefined) {
    if (position === undefined && err.code === 'S0217') {
      const parent = scan(source).spans.find((s) => source.substring(s.start, s.end) === '%');
      if (parent) return parent.start;
    }
    return position === undefined ? 0 : endOfText(source);
  }
  const span = scan(source).spans.find((s) => s.end === position);
  if (span) return span.start;
  return position >= source.length ? endOfText(source) : Math.max(0, position);
}

/** Converts an error thrown by `jsonata(source)`; anything that is not a jsonata error is returned as is. */
export function toSyntaxError(source: string, err: unknown): unknown {
  if (err === null || typeof err !== 'object' || typeof (err as JsonataError).code !== 'string') return err;
  const e = err as JsonataError;
  return new ExpressionSyntaxError(e.message ?? `Syntax error (${e.code})`, errorOffset(source, e), e.code!);
}

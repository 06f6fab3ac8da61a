/**
 * Expressions: jsonata compile, translation to plain JavaScript, fallback to jsonata.
 *
 * compileExpression(source) parses with jsonata and, when every node is in the translated subset,
 * generates one synchronous JavaScript function (`evaluate`). Translated subset:
 * - field paths of names (`geo`, `a.b.c`, backtick names, `"quoted".names`);
 * - string, number, true/false/null literals; `$source`, the name of the record's source;
 * - `= != < <= > >=`, `+ - * / %`, unary minus, `&`, `and`, `or`, `in` (with an array constructor
 *   or a single value on the right), `c ? a : b`, `c ? a`, `a ?? b`, `a ?: b`, `(a; b)` blocks,
 *   `x ~> $f(...)` for the functions below;
 * - $lowercase $uppercase $trim $length $string $number $substring $contains $exists $round
 *   $floor $ceil $abs $boolean $not $join (arities as jsonata documents them, no context form).
 * Anything else (variables, lambdas, regexes, predicates, wildcards, sorting, grouping, object and
 * array constructors elsewhere, other functions) leaves `translated` false and `evaluate` always
 * returns NEEDS_FALLBACK. A translated `evaluate` also returns NEEDS_FALLBACK for inputs it does
 * not reproduce exactly: arrays in a path, non-finite numbers reaching an operator, function
 * arguments of the wrong type (jsonata's T0410-T0412). Errors jsonata raises for operators (T2001,
 * T2002, T2009, T2010, D1002, D3001, D3030) are thrown with jsonata's code and message.
 */
export {
  compileExpression,
  parseExpression,
  toRuntimeError,
  forbiddenFunction,
  DEFAULT_TIMEOUT_MS,
  TIMEOUT_CODE,
  type CompiledJsonataExpression,
} from './compile.js';
export { referencedFields } from './fields.js';
export { isTruthy } from './runtime.js';
export { translatedFunctions } from './functions.js';
export {
  NEEDS_FALLBACK,
  SOURCE,
  ExpressionRuntimeError,
  ExpressionSyntaxError,
  type CompiledExpression,
  type Row,
  type SourcedRow,
} from './types.js';

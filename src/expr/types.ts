/** A record as the expressions see it: the decoded JSON object plus computed fields. */
export type Row = Record<string, unknown>;

/**
 * Where a row carries the name of its source, which expressions read as `$source` (a symbol: no
 * field of a record can collide with it, and JSON never sees it).
 */
export const SOURCE: unique symbol = Symbol('runnel.source');
export type SourcedRow = Row & { [SOURCE]?: string };
/** The variable's name in expressions, without its `$`. */
export const SOURCE_VARIABLE = 'source';

/** Returned by a translated function when this input needs jsonata's own evaluator (e.g. arrays in a path). */
export const NEEDS_FALLBACK: unique symbol = Symbol('needs-jsonata-fallback');

export interface CompiledExpression {
  /** The expression text as written in the pipeline. */
  readonly source: string;
  /** Where the pipeline file declares it (`file:line:column`), when it came from one. */
  readonly where?: string;
  /** True when the whole expression was translated into plain JavaScript. */
  readonly translated: boolean;
  /**
   * Synchronous evaluation. Returns NEEDS_FALLBACK when the expression was not translated, or
   * when this particular input falls outside what the translation handles; callers then await
   * `evaluateAsync`. Throws ExpressionRuntimeError for errors jsonata would raise.
   */
  evaluate(row: Row): unknown;
  /** jsonata's own evaluator: the reference semantics. */
  evaluateAsync(row: Row): Promise<unknown>;
}

/** A syntax error, with the character offset inside the expression text. */
export class ExpressionSyntaxError extends Error {
  constructor(
    message: string,
    /** 0-based offset inside the expression where the error was found */
    readonly position: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ExpressionSyntaxError';
  }
}

export class ExpressionRuntimeError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ExpressionRuntimeError';
  }
}

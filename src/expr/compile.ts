/**
 * compileExpression: parse with jsonata, translate to plain JavaScript where possible, and keep
 * jsonata's own evaluator as the reference for everything else.
 */
import jsonata from 'jsonata';
import { children, type AstNode } from './ast.js';
import { PendingError } from './runtime.js';
import { toSyntaxError } from './syntax-error.js';
import { translate, type TranslatedFunction } from './translate.js';
import {
  ExpressionRuntimeError,
  NEEDS_FALLBACK,
  SOURCE,
  SOURCE_VARIABLE,
  type CompiledExpression,
  type Row,
  type SourcedRow,
} from './types.js';

export interface CompiledJsonataExpression extends CompiledExpression {
  /** Why the expression was not translated (for `runner explain`); undefined when it was. */
  readonly fallbackReason: string | undefined;
}

/** Parses `source` with jsonata; throws ExpressionSyntaxError pointing at the offending token. */
export function parseExpression(source: string, options?: jsonata.JsonataOptions): jsonata.Expression {
  try {
    return jsonata(source, options);
  } catch (err) {
    throw toSyntaxError(source, err);
  }
}

/** The default bound on one evaluation by jsonata's evaluator (`limits.expressionTimeout`). */
export const DEFAULT_TIMEOUT_MS = 1000;

/** jsonata's error code for an evaluation that ran past its time bound. */
export const TIMEOUT_CODE = 'D1012';

/** jsonata's error code for a sequence (a range, a path's results) beyond its `sequence` option. */
const SEQUENCE_TOO_LONG = 'D2015';

/** The default bound on the arrays an evaluation builds and the strings `$pad` makes (`limits.maxValueLength`). */
export const DEFAULT_MAX_VALUE_LENGTH = 1_000_000;

/**
 * Functions a pipeline's expressions may not call. `$eval` parses and evaluates a string at run
 * time: with a record value as its argument, records would be evaluated as expressions.
 */
export const FORBIDDEN_FUNCTIONS = ['eval'] as const;

/** The first forbidden function an expression names (called or not), e.g. `eval`; undefined when none. */
export function forbiddenFunction(source: string): string | undefined {
  const found = (node: AstNode): string | undefined => {
    if (node.type === 'variable' && (FORBIDDEN_FUNCTIONS as readonly unknown[]).includes(node.value)) return node.value as string;
    for (const child of children(node)) {
      const name = found(child);
      if (name) return name;
    }
    return undefined;
  };
  return found(parseExpression(source).ast() as unknown as AstNode);
}

function refuseEval(): never {
  throw new ExpressionRuntimeError('records are never evaluated as expressions: $eval is not available', 'R0001');
}

/** Converts whatever jsonata's evaluate() threw into ExpressionRuntimeError (code "UNKNOWN" if it had none). */
export function toRuntimeError(err: unknown): ExpressionRuntimeError {
  if (err instanceof ExpressionRuntimeError) return err;
  if (err !== null && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown };
    const message = typeof e.message === 'string' ? e.message : 'the expression failed without a message';
    return new ExpressionRuntimeError(message, typeof e.code === 'string' ? e.code : 'UNKNOWN');
  }
  return new ExpressionRuntimeError(String(err), 'UNKNOWN');
}

function fallbackOnly(): typeof NEEDS_FALLBACK {
  return NEEDS_FALLBACK;
}

function synchronous(fn: TranslatedFunction): (row: Row) => unknown {
  return (row: Row): unknown => {
    try {
      return fn(row);
    } catch (err) {
      if (err instanceof PendingError) throw err.toRuntimeError();
      // FALLBACK, or anything unexpected: jsonata decides
      return NEEDS_FALLBACK;
    }
  };
}

/**
 * `$pad` as jsonata defines it, refusing widths beyond `maxLength` before it allocates: jsonata
 * builds the padding in one step its time bound cannot interrupt (`$pad("", 1e9)` takes seconds
 * and gigabytes).
 */
function boundedPad(expression: jsonata.Expression, maxLength: number): void {
  expression.registerFunction(
    'pad',
    async (str: string | undefined, width: number, char?: string) => {
      if (Math.abs(Math.trunc(width)) > maxLength) {
        throw new ExpressionRuntimeError(`$pad to ${Math.trunc(width)} characters is beyond limits.maxValueLength (${maxLength})`, 'R0002');
      }
      jsonataPad ??= jsonata('$pad').evaluate(undefined) as Promise<{ implementation: PadImplementation }>;
      return (await jsonataPad).implementation(str, width, char);
    },
    '<s-ns?:s>',
  );
}

type PadImplementation = (str: string | undefined, width: number, char?: string) => string | undefined;
/** jsonata's own `$pad` (its function object), fetched once. */
let jsonataPad: Promise<{ implementation: PadImplementation }> | undefined;

export interface CompileOptions {
  /** `limits.expressionTimeout` of jsonata's evaluator, per evaluation. */
  timeoutMs?: number;
  /** `limits.maxValueLength`: most items of an array an evaluation builds, longest string `$pad` makes. */
  maxValueLength?: number;
  /** Where the pipeline file declares the expression, for messages of the run. */
  where?: string;
}

/**
 * Compiles a jsonata expression. Throws ExpressionSyntaxError for text jsonata cannot parse.
 * `evaluate` runs the translated function when there is one; `evaluateAsync` always runs jsonata,
 * within `timeoutMs` (checked each time jsonata evaluates a node: ExpressionRuntimeError D1012
 * after it), building no array longer than `maxValueLength` (D2014/D2015, checked before a range
 * allocates), and without `$eval` (see FORBIDDEN_FUNCTIONS; the compiler reports it as an error).
 */
export function compileExpression(source: string, options: CompileOptions = {}): CompiledJsonataExpression {
  const maxValueLength = options.maxValueLength ?? DEFAULT_MAX_VALUE_LENGTH;
  const expression = parseExpression(source, { timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, sequence: maxValueLength });
  for (const name of FORBIDDEN_FUNCTIONS) expression.assign(name, refuseEval);
  boundedPad(expression, maxValueLength);
  const translation = translate(expression.ast() as unknown as AstNode);
  return {
    source,
    where: options.where,
    translated: translation.ok,
    fallbackReason: translation.ok ? undefined : translation.reason,
    evaluate: translation.ok ? synchronous(translation.fn) : fallbackOnly,
    async evaluateAsync(row: Row): Promise<unknown> {
      try {
        return await expression.evaluate(row, { [SOURCE_VARIABLE]: (row as SourcedRow)[SOURCE] });
      } catch (err) {
        const error = toRuntimeError(err);
        // jsonata names the size it refused, not the bound
        if (error.code === SEQUENCE_TOO_LONG)
          throw new ExpressionRuntimeError(`an array grew beyond limits.maxValueLength (${maxValueLength} items)`, error.code);
        throw error;
      }
    },
  };
}

/**
 * compileExpression: parse with jsonata, translate to plain JavaScript where possible, and keep
 * jsonata's own evaluator as the reference for everything else.
 */
import jsonata from 'jsonata';
import type { AstNode } from './ast.js';
import { PendingError } from './runtime.js';
import { toSyntaxError } from './syntax-error.js';
import { translate, type TranslatedFunction } from './translate.js';
import { ExpressionRuntimeError, NEEDS_FALLBACK, type CompiledExpression, type Row } from './types.js';

export interface CompiledJsonataExpression extends CompiledExpression {
  /** Why the expression was not translated (for `runner explain`); undefined when it was. */
  readonly fallbackReason: string | undefined;
}

/** Parses `source` with jsonata; throws ExpressionSyntaxError pointing at the offending token. */
export function parseExpression(source: string): jsonata.Expression {
  try {
    return jsonata(source);
  } catch (err) {
    throw toSyntaxError(source, err);
  }
}

/** Converts whatever jsonata's evaluate() threw into ExpressionRuntimeError (code "UNKNOWN" if it had none). */
export function toRuntimeError(err: unknown): ExpressionRuntimeError {
  if (err instanceof ExpressionRuntimeError) return err;
  if (err !== null && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown };
    const message = typeof e.message === 'string' ? e.message : String(err);
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
 * Compiles a jsonata expression. Throws ExpressionSyntaxError for text jsonata cannot parse.
 * `evaluate` runs the translated function when there is one; `evaluateAsync` always runs jsonata.
 */
export function compileExpression(source: string): CompiledJsonataExpression {
  const expression = parseExpression(source);
  const translation = translate(expression.ast() as unknown as AstNode);
  return {
    source,
    translated: translation.ok,
    fallbackReason: translation.ok ? undefined : translation.reason,
    evaluate: translation.ok ? synchronous(translation.fn) : fallbackOnly,
    async evaluateAsync(row: Row): Promise<unknown> {
      try {
        return await expression.evaluate(row);
      } catch (err) {
        throw toRuntimeError(err);
      }
    },
  };
}

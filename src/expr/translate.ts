/**
 * Translation of a jsonata syntax tree into one plain synchronous JavaScript function.
 *
 * The generated function mirrors jsonata 2.2's evaluator for the forms it accepts and throws
 * FALLBACK (-> NEEDS_FALLBACK) for any input it does not reproduce exactly: a path step that meets
 * an array (jsonata maps over it), a non-finite number reaching an operator, a function argument
 * of the wrong type (jsonata's signature errors), and so on. Errors jsonata would raise are thrown
 * as PendingError with jsonata's code, token and values.
 *
 * This module walks the tree; the static kinds of generated values are in kinds.ts, and the
 * functions it translates (`$lowercase`...) in functions.ts.
 */
import type { AstNode } from './ast.js';
import { functionSpec, type Emitter } from './functions.js';
import { ANY, B, L, N, NUM, O, S, U, X, within, type Value } from './kinds.js';
import * as rt from './runtime.js';
import { SOURCE_VARIABLE } from './types.js';

/** Thrown by the generator for a form it does not translate; `message` says which. */
export class NotTranslatable extends Error {}

/** Node properties whose semantics (predicates, singleton arrays, focus, grouping...) are not implemented. */
const UNSUPPORTED_PROPERTIES = [
  'keepArray',
  'keepSingletonArray',
  'stages',
  'predicate',
  'group',
  'focus',
  'index',
  'tuple',
  'ancestor',
  'seekingParent',
  'consarray',
  'thunk',
] as const;

function checkSupportedProperties(node: AstNode): void {
  for (const property of UNSUPPORTED_PROPERTIES) {
    const v = (node as unknown as Record<string, unknown>)[property];
    if (v !== undefined && v !== false) throw new NotTranslatable(`"${property}" on a ${node.type} node`);
  }
}

/** Parenthesized, so that member access on it (`(0).indexOf`) stays valid syntax. */
function numberLiteral(n: number): string {
  return Object.is(n, -0) ? '(-0)' : `(${String(n)})`;
}

/** A JavaScript condition that holds when `code` has one of the `allowed` kinds (S, N, NUM, B, L, U). */
function kindTest(code: string, allowed: number): string {
  const tests: string[] = [];
  if (allowed & S) tests.push(`typeof ${code} === 'string'`);
  if ((allowed & NUM) === NUM) tests.push(`typeof ${code} === 'number'`);
  else if (allowed & N) tests.push(`Number.isFinite(${code})`);
  if (allowed & B) tests.push(`typeof ${code} === 'boolean'`);
  if (allowed & L) tests.push(`${code} === null`);
  if (allowed & U) tests.push(`${code} === undefined`);
  if (allowed & O || (allowed & NUM) === X) throw new Error('kindTest: objects and non-finite numbers alone are not testable');
  return tests.length === 0 ? 'false' : tests.join(' || ');
}

class Generator implements Emitter {
  private out: string[] = [];
  private temps = 0;

  temp(): string {
    return `t${this.temps++}`;
  }

  line(text: string): void {
    this.out.push(text);
  }

  /** Runs `fn`, returning the lines it emitted instead of emitting them. */
  capture<T>(fn: () => T): { lines: string[]; result: T } {
    const saved = this.out;
    this.out = [];
    try {
      const result = fn();
      return { lines: this.out, result };
    } finally {
      this.out = saved;
    }
  }

  /** Falls back unless `v` has one of the `allowed` kinds (a jsonata signature error, or a form not covered). */
  gate(v: Value, allowed: number): void {
    if (within(v.kinds, allowed)) return;
    this.line(`if (!(${kindTest(v.code, allowed)})) throw FB;`);
  }

  /** jsonata's boolean cast of `v` as a JavaScript expression. */
  bool(v: Value): string {
    if (within(v.kinds, B)) return v.code;
    if (within(v.kinds, B | U | L)) return `(${v.code} === true)`;
    if (within(v.kinds, S)) return `(${v.code}.length !== 0)`;
    return `h.truthy(${v.code})`;
  }

  source(root: AstNode): string {
    const result = this.value(root);
    const declarations = this.temps > 0 ? `let ${Array.from({ length: this.temps }, (_, i) => `t${i}`).join(', ')};` : '';
    return [
      '"use strict";',
      'const FB = h.FALLBACK, hasOwn = h.hasOwn;',
      'return function translated(r) {',
      declarations,
      "if (typeof r !== 'object' || r === null) throw FB;",
      'h.checkObject(r);',
      ...this.out,
      `return ${result.code};`,
      '};',
    ].join('\n');
  }

  value(node: AstNode): Value {
    checkSupportedProperties(node);
    switch (node.type) {
      case 'string':
        return { code: JSON.stringify(node.value), kinds: S, literal: true };
      case 'number':
        return { code: numberLiteral(node.value as number), kinds: Number.isFinite(node.value) ? N : X, literal: true };
      case 'value':
        if (node.value === null) return { code: 'null', kinds: L, literal: true };
        return { code: node.value ? 'true' : 'false', kinds: B, literal: true };
      case 'path':
        return this.path(node);
      case 'binary':
        return this.binary(node);
      case 'unary':
        if (node.value === '-') return this.negate(node.expression!);
        throw new NotTranslatable(node.value === '[' ? 'array constructor' : 'object constructor');
      case 'condition':
        return this.condition(node);
      case 'block':
        return this.block(node);
      case 'function':
        return this.call(node.procedure!, node.arguments ?? []);
      case 'variable':
        // the one variable a pipeline defines: the name of the record's source (absent outside a run)
        if (node.value !== SOURCE_VARIABLE) throw new NotTranslatable(`variable $${String(node.value)}`);
        return { code: 'h.sourceOf(r)', kinds: S | U };
      case 'apply': {
        const rhs = node.rhs as AstNode;
        if (rhs.type !== 'function') throw new NotTranslatable('~> to a function value');
        checkSupportedProperties(rhs);
        return this.call(rhs.procedure!, [node.lhs as AstNode, ...(rhs.arguments ?? [])]);
      }
      default:
        throw new NotTranslatable(`${node.type} expression`);
    }
  }

  private path(node: AstNode): Value {
    const steps = node.steps ?? [];
    let current = 'r';
    steps.forEach((step, i) => {
      checkSupportedProperties(step);
      if (step.type !== 'name') throw new NotTranslatable(`${step.type} step in a path`);
      const key = JSON.stringify(step.value);
      const t = this.temp();
      if (i === 0) {
        this.line(`${t} = hasOwn.call(r, ${key}) ? r[${key}] : undefined;`);
      } else {
        // a primitive or missing value has no fields; an array would be mapped over (fall back)
        this.line(
          `if (typeof ${current} === 'object' && ${current} !== null) { h.checkObject(${current}); ` +
            `${t} = hasOwn.call(${current}, ${key}) ? ${current}[${key}] : undefined; } else ${t} = undefined;`,
        );
      }
      current = t;
    });
    if (steps.length === 0) throw new NotTranslatable('empty path');
    this.line(`if (typeof ${current} !== 'string' && typeof ${current} !== 'number' && ${current} !== undefined) h.checkLeaf(${current});`);
    return { code: current, kinds: ANY };
  }

  private binary(node: AstNode): Value {
    const op = node.value as string;
    const lhsNode = node.lhs as AstNode;
    const rhsNode = node.rhs as AstNode;
    switch (op) {
      case 'and':
      case 'or':
        return this.logical(op, lhsNode, rhsNode);
      case 'in':
        return this.includes(lhsNode, rhsNode);
    }
    const l = this.value(lhsNode);
    const r = this.value(rhsNode);
    switch (op) {
      case '+':
      case '-':
      case '*':
      case '/':
      case '%':
        return this.arithmetic(op, l, r);
      case '=':
      case '!=':
        return this.equality(op, l, r);
      case '<':
      case '<=':
      case '>':
      case '>=':
        return this.comparison(op, l, r);
      case '&':
        return this.concat(l, r);
      default:
        throw new NotTranslatable(`operator ${op}`);
    }
  }

  private numericOperand(v: Value, code: 'T2001' | 'T2002', op: string): void {
    if (within(v.kinds, N | U)) return;
    const c = v.code;
    this.line(
      `if (typeof ${c} === 'number') { if (!Number.isFinite(${c})) throw FB; } ` +
        `else if (${c} !== undefined) throw new h.PendingError('${code}', ${JSON.stringify(op)});`,
    );
  }

  private arithmetic(op: string, l: Value, r: Value): Value {
    this.numericOperand(l, 'T2001', op);
    this.numericOperand(r, 'T2002', op);
    const t = this.temp();
    const undef = [l, r].filter((v) => v.kinds & U).map((v) => `${v.code} === undefined`);
    const compute = `${l.code} ${op} ${r.code}`;
    this.line(`${t} = ${undef.length ? `${undef.join(' || ')} ? undefined : ${compute}` : compute};`);
    return { code: t, kinds: NUM | ((l.kinds | r.kinds) & U) };
  }

  private equality(op: '=' | '!=', l: Value, r: Value): Value {
    const t = this.temp();
    const conditions = [l, r].filter((v) => v.kinds & U).map((v) => `${v.code} !== undefined`);
    if (l.kinds & O && r.kinds & O) {
      const same = `(${l.code} === ${r.code} || h.deepEqual(${l.code}, ${r.code}))`;
      conditions.push(op === '=' ? same : `!${same}`);
    } else {
      conditions.push(`${l.code} ${op === '=' ? '===' : '!=='} ${r.code}`);
    }
    this.line(`${t} = ${conditions.join(' && ')};`);
    return { code: t, kinds: B };
  }

  private comparison(op: string, l: Value, r: Value): Value {
    const comparable = S | NUM | U;
    const checks = [l, r].filter((v) => !within(v.kinds, comparable)).map((v) => `!(${kindTest(v.code, comparable)})`);
    if (checks.length) this.line(`if (${checks.join(' || ')}) throw new h.PendingError('T2010', ${JSON.stringify(op)});`);
    const t = this.temp();
    const undef = [l, r].filter((v) => v.kinds & U).map((v) => `${v.code} === undefined`);
    const sameType = (within(l.kinds, S | U) && within(r.kinds, S | U)) || (within(l.kinds, NUM | U) && within(r.kinds, NUM | U));
    const lines: string[] = [];
    if (undef.length) lines.push(`if (${undef.join(' || ')}) ${t} = undefined;`);
    if (!sameType) {
      lines.push(
        `${undef.length ? 'else ' : ''}if (typeof ${l.code} !== typeof ${r.code}) throw h.errMismatchedTypes(${l.code}, ${r.code}, ${JSON.stringify(op)});`,
      );
    }
    lines.push(`${lines.length ? 'else ' : ''}${t} = ${l.code} ${op} ${r.code};`);
    lines.forEach((text) => this.line(text));
    return { code: t, kinds: B | ((l.kinds | r.kinds) & U) };
  }

  private concat(l: Value, r: Value): Value {
    const part = (v: Value): string => {
      if (within(v.kinds, S)) return v.code;
      const cast = `typeof ${v.code} === 'string' ? ${v.code} : h.toJsonataString(${v.code})`;
      return v.kinds & U ? `(${v.code} === undefined ? '' : ${cast})` : `(${cast})`;
    };
    const t = this.temp();
    this.line(`${t} = ${part(l)} + ${part(r)};`);
    return { code: t, kinds: S };
  }

  private logical(op: 'and' | 'or', lhsNode: AstNode, rhsNode: AstNode): Value {
    const l = this.value(lhsNode);
    const t = this.temp();
    this.line(`${t} = ${this.bool(l)};`);
    const { lines, result: r } = this.capture(() => this.value(rhsNode));
    const cast = this.bool(r);
    this.line(`if (${op === 'and' ? '' : '!'}${t}) {`);
    if (lines.length) {
      // jsonata reports errors raised in the right operand with this operator's token
      this.line('try {');
      lines.forEach((text) => this.line(text));
      this.line(`${t} = ${cast};`);
      this.line(`} catch (e) { throw h.retoken(e, '${op}'); }`);
    } else {
      this.line(`${t} = ${cast};`);
    }
    this.line('}');
    return { code: t, kinds: B };
  }

  /** The members of an array constructor, skipping none (undefined members are checked by callers). */
  arrayItems(node: AstNode): Value[] {
    checkSupportedProperties(node);
    const itemNodes = node.expressions ?? [];
    for (const item of itemNodes) {
      if (item.type === 'unary' && item.value === '[') throw new NotTranslatable('nested array constructor');
      if (item.type === 'binary' && item.value === '..') throw new NotTranslatable('range');
    }
    // literals and plain paths cannot raise jsonata errors (a path only falls back)
    const fallible = itemNodes.filter((item) => !['string', 'number', 'value', 'path'].includes(item.type)).length;
    if (fallible < 2) return itemNodes.map((item) => this.value(item));
    // jsonata evaluates members concurrently (Promise.all): which member's error wins is not
    // the first in order, so any error there is left to jsonata
    const { lines, result } = this.capture(() => itemNodes.map((item) => this.value(item)));
    this.line('try {');
    lines.forEach((text) => this.line(text));
    this.line('} catch (e) { throw FB; }');
    return result;
  }

  private includes(lhsNode: AstNode, rhsNode: AstNode): Value {
    const l = this.value(lhsNode);
    const t = this.temp();
    const defined = l.kinds & U ? [`${l.code} !== undefined`] : [];
    if (rhsNode.type === 'unary' && rhsNode.value === '[') {
      const items = this.arrayItems(rhsNode);
      const members = items.map((item) => `${l.code} === ${item.code}`);
      const any = members.length === 0 ? 'false' : members.length === 1 ? members[0] : `(${members.join(' || ')})`;
      this.line(`${t} = ${[...defined, any].join(' && ')};`);
    } else {
      const r = this.value(rhsNode);
      const conditions = [...defined, ...(r.kinds & U ? [`${r.code} !== undefined`] : []), `${l.code} === ${r.code}`];
      this.line(`${t} = ${conditions.join(' && ')};`);
    }
    return { code: t, kinds: B };
  }

  private negate(expression: AstNode): Value {
    const v = this.value(expression);
    const t = this.temp();
    if (within(v.kinds, N)) {
      this.line(`${t} = -${v.code};`);
      return { code: t, kinds: N };
    }
    const c = v.code;
    this.line(
      `if (typeof ${c} === 'number') { if (!Number.isFinite(${c})) throw FB; ${t} = -${c}; } ` +
        `else if (${c} === undefined) ${t} = undefined; else throw h.errCannotNegate(${c});`,
    );
    return { code: t, kinds: N | (v.kinds & U) };
  }

  private condition(node: AstNode): Value {
    const c = this.value(node.condition!);
    const t = this.temp();
    const thenPart = this.capture(() => this.value(node.then!));
    const elsePart = node.else ? this.capture(() => this.value(node.else!)) : undefined;
    this.line(`if (${this.bool(c)}) {`);
    thenPart.lines.forEach((text) => this.line(text));
    this.line(`${t} = ${thenPart.result.code};`);
    this.line('} else {');
    elsePart?.lines.forEach((text) => this.line(text));
    this.line(`${t} = ${elsePart ? elsePart.result.code : 'undefined'};`);
    this.line('}');
    return { code: t, kinds: thenPart.result.kinds | (elsePart ? elsePart.result.kinds : U) };
  }

  private block(node: AstNode): Value {
    const expressions = node.expressions ?? [];
    let last: Value = { code: 'undefined', kinds: U, literal: true };
    for (const e of expressions) last = this.value(e);
    return last;
  }

  private call(procedure: AstNode, argNodes: AstNode[]): Value {
    checkSupportedProperties(procedure);
    if (procedure.type !== 'variable') throw new NotTranslatable('call of a computed function');
    const name = procedure.value as string;
    const spec = functionSpec(name);
    if (!spec) throw new NotTranslatable(`function $${name}`);
    if (argNodes.length < spec.minArgs || argNodes.length > spec.maxArgs) {
      throw new NotTranslatable(`$${name} with ${argNodes.length} argument(s)`);
    }
    return spec.emit(this, argNodes);
  }
}

/** The helpers a generated function receives as `h`. */
const helpers = {
  FALLBACK: rt.FALLBACK,
  hasOwn: rt.hasOwn,
  checkObject: rt.checkObject,
  checkLeaf: rt.checkLeaf,
  sourceOf: rt.sourceOf,
  truthy: rt.truthy,
  toJsonataString: rt.toJsonataString,
  toNumber: rt.toNumber,
  codePointLength: rt.codePointLength,
  substring: rt.substring,
  trim: rt.trim,
  round: rt.round,
  deepEqual: rt.deepEqual,
  PendingError: rt.PendingError,
  retoken: rt.retoken,
  errMismatchedTypes: rt.errMismatchedTypes,
  errCannotNegate: rt.errCannotNegate,
};

export type TranslatedFunction = (row: Record<string, unknown>) => unknown;

export type Translation =
  { readonly ok: true; readonly fn: TranslatedFunction; readonly code: string } | { readonly ok: false; readonly reason: string };

/** Generates the JavaScript source of the translated function (it receives the helpers as `h`). */
export function generateSource(ast: AstNode): string {
  return new Generator().source(ast);
}

/**
 * Translates a processed jsonata syntax tree. The function throws rt.FALLBACK when the input needs
 * jsonata's evaluator and rt.PendingError for errors jsonata raises.
 */
export function translate(ast: AstNode): Translation {
  let code: string;
  try {
    code = generateSource(ast);
  } catch (err) {
    if (err instanceof NotTranslatable) return { ok: false, reason: err.message };
    throw err;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- compiling generated source is the point of this module
    const compiled = new Function('h', code) as (h: typeof helpers) => TranslatedFunction;
    const fn = compiled(helpers);
    return { ok: true, fn, code };
  } catch (err) {
    // a generator bug must not break the pipeline: jsonata evaluates instead
    return { ok: false, reason: `internal: generated code does not compile (${String(err)})` };
  }
}

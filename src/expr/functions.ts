/**
 * The jsonata functions the translation covers, each with the argument counts it takes and the
 * code it emits through the generator (translate.ts); any other function is left to jsonata.
 */
import type { AstNode } from './ast.js';
import { B, N, NUM, S, U, within, type Value } from './kinds.js';

/** What a function's translation asks of the code generator (Generator in translate.ts). */
export interface Emitter {
  temp(): string;
  line(text: string): void;
  /** Falls back unless `v` has one of the `allowed` kinds. */
  gate(v: Value, allowed: number): void;
  /** jsonata's boolean cast of `v` as a JavaScript expression. */
  bool(v: Value): string;
  value(node: AstNode): Value;
  /** The members of an array constructor. */
  arrayItems(node: AstNode): Value[];
}

type Emit = (g: Emitter, args: Value[]) => Value;

export interface FunctionSpec {
  readonly minArgs: number;
  readonly maxArgs: number;
  /** Evaluates the argument nodes (default: each in order) and emits the call. */
  readonly emit: (g: Emitter, argNodes: AstNode[]) => Value;
}

/** Arguments evaluated in order, then `body` with them. */
function simple(minArgs: number, maxArgs: number, body: Emit): FunctionSpec {
  return {
    minArgs,
    maxArgs,
    emit: (g, argNodes) =>
      body(
        g,
        argNodes.map((a) => g.value(a)),
      ),
  };
}

/** A one-argument string function: undefined stays undefined, other non-strings fall back (T0410). */
function stringFunction(result: (s: string) => string, resultKinds: number): FunctionSpec {
  return simple(1, 1, (g, [a]) => {
    g.gate(a, S | U);
    const t = g.temp();
    g.line(`${t} = ${a.code} === undefined ? undefined : ${result(a.code)};`);
    return { code: t, kinds: resultKinds | (a.kinds & U) };
  });
}

/** A one-argument number function: undefined stays undefined, non-numbers fall back (T0410). */
function numberFunction(math: string): FunctionSpec {
  return simple(1, 1, (g, [a]) => {
    g.gate(a, NUM | U);
    const t = g.temp();
    g.line(`${t} = ${a.code} === undefined ? undefined : ${math}(${a.code});`);
    return { code: t, kinds: NUM | (a.kinds & U) };
  });
}

/**
 * The translated functions. Argument counts outside [minArgs, maxArgs] are not translated (jsonata
 * would use the context value or raise a signature error).
 */
const functions: Record<string, FunctionSpec> = {
  lowercase: stringFunction((s) => `${s}.toLowerCase()`, S),
  uppercase: stringFunction((s) => `${s}.toUpperCase()`, S),
  trim: stringFunction((s) => `h.trim(${s})`, S),
  length: stringFunction((s) => `h.codePointLength(${s})`, N),
  string: simple(1, 1, (g, [a]) => {
    const t = g.temp();
    const v = a.code;
    g.line(`${t} = ${v} === undefined ? undefined : typeof ${v} === 'string' ? ${v} : h.toJsonataString(${v});`);
    return { code: t, kinds: S | (a.kinds & U) };
  }),
  number: simple(1, 1, (g, [a]) => {
    g.gate(a, S | NUM | B | U);
    const t = g.temp();
    g.line(`${t} = ${a.code} === undefined ? undefined : h.toNumber(${a.code});`);
    return { code: t, kinds: NUM | (a.kinds & U) };
  }),
  substring: simple(2, 3, (g, args) => {
    const [str, start] = args;
    const length = args.at(2);
    g.gate(str, S | U);
    g.gate(start, NUM | U);
    if (length) g.gate(length, NUM | U);
    const t = g.temp();
    g.line(
      `${t} = ${str.code} === undefined ? undefined : h.substring(${str.code}, ${start.code}, ${length ? length.code : 'undefined'});`,
    );
    return { code: t, kinds: S | (str.kinds & U) };
  }),
  contains: simple(2, 2, (g, [str, token]) => {
    g.gate(str, S | U);
    g.gate(token, S | U);
    const t = g.temp();
    const s = str.code;
    const k = token.code;
    g.line(`${t} = ${s} === undefined || ${k} === undefined ? undefined : ${s}.indexOf(${k}) !== -1;`);
    return { code: t, kinds: B | ((str.kinds | token.kinds) & U) };
  }),
  exists: simple(1, 1, (g, [a]) => {
    const t = g.temp();
    g.line(`${t} = ${a.code} !== undefined;`);
    return { code: t, kinds: B };
  }),
  round: simple(1, 2, (g, args) => {
    const [value] = args;
    const precision = args.at(1);
    g.gate(value, NUM | U);
    if (precision) g.gate(precision, NUM | U);
    const t = g.temp();
    g.line(`${t} = ${value.code} === undefined ? undefined : h.round(${value.code}, ${precision ? precision.code : 'undefined'});`);
    return { code: t, kinds: NUM | (value.kinds & U) };
  }),
  floor: numberFunction('Math.floor'),
  ceil: numberFunction('Math.ceil'),
  abs: numberFunction('Math.abs'),
  boolean: simple(1, 1, (g, [a]) => {
    const t = g.temp();
    g.line(`${t} = ${a.code} === undefined ? undefined : ${g.bool(a)};`);
    return { code: t, kinds: B | (a.kinds & U) };
  }),
  not: simple(1, 1, (g, [a]) => {
    const t = g.temp();
    g.line(`${t} = ${a.code} === undefined ? undefined : !${g.bool(a)};`);
    return { code: t, kinds: B | (a.kinds & U) };
  }),
  join: {
    minArgs: 1,
    maxArgs: 2,
    emit: (g, argNodes) => {
      const [first] = argNodes;
      const second = argNodes.at(1);
      const t = g.temp();
      if (first.type === 'unary' && first.value === '[') {
        // an array constructor: its defined members must all be strings (else T0412)
        const items = g.arrayItems(first);
        const separator = second ? g.value(second) : undefined;
        if (separator) g.gate(separator, S | U);
        const parts = g.temp();
        g.line(`${parts} = [];`);
        for (const item of items) {
          if (within(item.kinds, S)) g.line(`${parts}.push(${item.code});`);
          else {
            g.line(`if (${item.code} !== undefined) {`);
            g.gate(item, S);
            g.line(`${parts}.push(${item.code});`);
            g.line('}');
          }
        }
        const sep = !separator
          ? "''"
          : within(separator.kinds, S)
            ? separator.code
            : `${separator.code} === undefined ? '' : ${separator.code}`;
        g.line(`${t} = ${parts}.join(${sep});`);
        return { code: t, kinds: S };
      }
      // a single value is joined as a one-member array: itself
      const value = g.value(first);
      const separator = second ? g.value(second) : undefined;
      g.gate(value, S | U);
      if (separator) g.gate(separator, S | U);
      g.line(`${t} = ${value.code};`);
      return { code: t, kinds: S | (value.kinds & U) };
    },
  },
};

/** Names of the jsonata functions the translation covers. */
export const translatedFunctions: readonly string[] = Object.keys(functions).map((name) => `$${name}`);

/** How `$name` is translated; undefined for a function the translation does not cover. */
export function functionSpec(name: string): FunctionSpec | undefined {
  return Object.prototype.hasOwnProperty.call(functions, name) ? functions[name] : undefined;
}

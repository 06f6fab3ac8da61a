/** Shared by the expression tests: outcomes of both evaluators, and generators of records and expressions. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExpressionRuntimeError, NEEDS_FALLBACK, type CompiledExpression, type Row } from '../../src/expr/index.js';

export type Outcome =
  { readonly kind: 'value'; readonly value: unknown } | { readonly kind: 'error'; readonly error: unknown } | { readonly kind: 'fallback' };

export function runTranslated(expr: CompiledExpression, row: Row): Outcome {
  try {
    const value = expr.evaluate(row);
    return value === NEEDS_FALLBACK ? { kind: 'fallback' } : { kind: 'value', value };
  } catch (error) {
    return { kind: 'error', error };
  }
}

export async function runReference(expr: CompiledExpression, row: Row): Promise<Outcome> {
  try {
    return { kind: 'value', value: await expr.evaluateAsync(row) };
  } catch (error) {
    return { kind: 'error', error };
  }
}

/** Plain arrays and objects (jsonata's sequences carry extra properties); -0 and NaN are kept. */
export function normalize(value: unknown): unknown {
  if (Array.isArray(value)) return Array.from(value, normalize);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = normalize((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** JSON.stringify as it behaves: undefined for a function or a symbol, which its lib type does not say. */
const stringify = JSON.stringify as (value: unknown, replacer: (key: string, value: unknown) => unknown) => string | undefined;

const show = (v: unknown): string =>
  typeof v === 'number' && Object.is(v, -0) ? '-0' : (stringify(v, (_k, x: unknown) => (x === undefined ? '<undefined>' : x)) ?? String(v));

/**
 * Asserts that the translated evaluation agrees with jsonata on `row`: same value (deep, strict),
 * or an ExpressionRuntimeError with jsonata's code and message, or NEEDS_FALLBACK.
 * Returns which of the three happened.
 */
export async function assertAgrees(expr: CompiledExpression, row: Row): Promise<Outcome['kind']> {
  const fast = runTranslated(expr, row);
  if (fast.kind === 'fallback') return 'fallback';
  const reference = await runReference(expr, row);
  const where = `expression ${JSON.stringify(expr.source)} on ${show(row)}`;
  if (fast.kind === 'error') {
    assert.ok(fast.error instanceof ExpressionRuntimeError, `${where}: translated threw ${String(fast.error)}`);
    assert.equal(
      reference.kind,
      'error',
      `${where}: translated threw ${fast.error.code}, jsonata returned ${show((reference as { value?: unknown }).value)}`,
    );
    const ref = (reference as { error: unknown }).error as ExpressionRuntimeError;
    assert.ok(ref instanceof ExpressionRuntimeError, `${where}: evaluateAsync threw ${String(ref)}`);
    assert.equal(fast.error.code, ref.code, `${where}: error codes differ`);
    assert.equal(fast.error.message, ref.message, `${where}: error messages differ`);
    return 'error';
  }
  if (reference.kind === 'error') {
    const e = reference.error as ExpressionRuntimeError;
    assert.fail(`${where}: translated returned ${show(fast.value)}, jsonata threw ${e.code}: ${e.message}`);
  }
  assert.deepStrictEqual(normalize(fast.value), normalize((reference as { value: unknown }).value), `${where}: values differ`);
  return 'value';
}

// ---- records ---------------------------------------------------------------------------------

export const FIELDS = ['a', 'b', 's', 'n', 'o', 'k 1'] as const;

const interestingStrings = fc.constantFrom(
  '',
  ' ',
  'US',
  'us',
  'CA',
  'unknown',
  '1',
  '0',
  '2.5',
  '-2.5e3',
  '0x1F',
  '1e999',
  ' 12',
  ' a \t b\n',
  'É',
  'ß',
  'İ',
  '𝄞x',
  'a,b',
  'true',
  'null',
);

export const scalarArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1000, max: 1000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1, 2, 2.5, 0.1, 0.5, -3, 1e21, 123456789.12345679, 0.1 + 0.2),
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'grapheme', maxLength: 4 }),
  fc.string({ unit: 'binary', maxLength: 3 }),
  interestingStrings,
  interestingStrings,
);

/** Values JSON cannot carry but computed fields can; the translation must fall back or agree. */
const exoticArb: fc.Arbitrary<unknown> = fc.constantFrom(NaN, Infinity, -Infinity, { _jsonata_function: true, x: 1 }, new Date(0));

export const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: scalarArb },
  { weight: 1, arbitrary: fc.array(scalarArb, { maxLength: 3 }) },
  {
    weight: 2,
    arbitrary: fc.record(
      { x: scalarArb, y: fc.oneof(scalarArb, fc.record({ z: scalarArb }, { requiredKeys: [] })), 'k 1': scalarArb },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: exoticArb },
);

/** Records over FIELDS; any field may be missing. */
export const rowArb: fc.Arbitrary<Row> = fc.record(
  Object.fromEntries(FIELDS.map((f) => [f, valueArb])) as Record<(typeof FIELDS)[number], fc.Arbitrary<unknown>>,
  { requiredKeys: [] },
);

// ---- expressions of the translated grammar ---------------------------------------------------

const paths = ['a', 'b', 's', 'n', 'o', 'o.x', 'o.y.z', '`k 1`', 'o.`k 1`', 'missing', 'a.b', 'constructor', 'o.toString'];
const stringLiteral = fc
  .oneof(interestingStrings, fc.string({ maxLength: 4 }), fc.string({ unit: 'grapheme', maxLength: 3 }))
  .map((s) => JSON.stringify(s));
const numberLiteral = fc
  .oneof(fc.constantFrom(0, 1, 2, 0.5, 2.5, 3.7, 10, 1000, 1e21, 0.1), fc.integer({ min: 0, max: 60 }))
  .map((n) => String(n));
const binaryOperators = ['+', '-', '*', '/', '%', '=', '!=', '<', '<=', '>', '>=', '&', 'and', 'or'];

export const expressionArb: fc.Arbitrary<string> = fc.letrec<{ expr: string; leaf: string; node: string }>((tie) => ({
  expr: fc.oneof({ maxDepth: 4, depthIdentifier: 'expr' }, tie('leaf'), tie('node'), tie('node')),
  leaf: fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...paths) },
    { weight: 2, arbitrary: stringLiteral },
    { weight: 2, arbitrary: numberLiteral },
    { weight: 1, arbitrary: fc.constantFrom('true', 'false', 'null') },
  ),
  node: fc.oneof(
    {
      weight: 8,
      arbitrary: fc.tuple(tie('expr'), fc.constantFrom(...binaryOperators), tie('expr')).map(([l, op, r]) => `(${l} ${op} ${r})`),
    },
    { weight: 1, arbitrary: tie('expr').map((e) => `-(${e})`) },
    {
      weight: 2,
      arbitrary: fc.tuple(tie('expr'), fc.array(tie('expr'), { maxLength: 3 })).map(([l, items]) => `(${l} in [${items.join(', ')}])`),
    },
    { weight: 1, arbitrary: fc.tuple(tie('expr'), tie('expr')).map(([l, r]) => `(${l} in ${r})`) },
    { weight: 2, arbitrary: fc.tuple(tie('expr'), tie('expr'), tie('expr')).map(([c, t, e]) => `(${c} ? ${t} : ${e})`) },
    { weight: 1, arbitrary: fc.tuple(tie('expr'), tie('expr')).map(([c, t]) => `(${c} ? ${t})`) },
    { weight: 1, arbitrary: fc.tuple(tie('expr'), tie('expr')).map(([l, r]) => `(${l} ?? ${r})`) },
    { weight: 1, arbitrary: fc.tuple(tie('expr'), tie('expr')).map(([l, r]) => `(${l} ?: ${r})`) },
    { weight: 1, arbitrary: fc.tuple(tie('expr'), tie('expr')).map(([l, r]) => `(${l}; ${r})`) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(
          fc.constantFrom(
            'lowercase',
            'uppercase',
            'string',
            'number',
            'length',
            'exists',
            'round',
            'floor',
            'ceil',
            'abs',
            'boolean',
            'not',
            'trim',
            'join',
          ),
          tie('expr'),
        )
        .map(([f, a]) => `$${f}(${a})`),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom('substring', 'contains', 'round', 'join'), tie('expr'), tie('expr'))
        .map(([f, a, b]) => `$${f}(${a}, ${b})`),
    },
    { weight: 1, arbitrary: fc.tuple(tie('expr'), tie('expr'), tie('expr')).map(([a, b, c]) => `$substring(${a}, ${b}, ${c})`) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(tie('expr'), { maxLength: 3 }), tie('expr'))
        .map(([items, sep]) => `$join([${items.join(', ')}], ${sep})`),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(tie('expr'), fc.constantFrom('$lowercase()', '$string()', '$exists()', '$substring(1)'))
        .map(([l, f]) => `(${l} ~> ${f})`),
    },
  ),
})).expr;

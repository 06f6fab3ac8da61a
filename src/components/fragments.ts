import {
  Type,
  type Static,
  type TArray,
  type TBoolean,
  type TInteger,
  type TNumber,
  type TObject,
  type TProperties,
  type TSchema,
  type TString,
  type TUnsafe,
} from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/**
 * Schema fragments shared by component declarations, so every duration or expression reads the
 * same. Each one is at once the published JSON Schema (TypeBox builds plain JSON Schema) and the
 * TypeScript type of the value (`Static<typeof schema>`), so a config is declared once: no
 * interface beside the schema, no `??` default beside the documented one.
 */

export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$';

/**
 * A field that may be left out and then takes its default: optional in the published schema,
 * always present in the type, because `applyDefaults` fills in every default before a component
 * (or the compiler) reads the value.
 */
export type Defaulted<T extends TSchema> = TUnsafe<Static<T>>;

/** A field's type: defaulted when its options give a default, required otherwise (wrap it in `Type.Optional` to make it optional). */
export type Field<T extends TSchema, Options> = Options extends { default: unknown } ? Defaulted<T> : T;

function field<T extends TSchema, Options extends object>(schema: T, options: Options): Field<T, Options> {
  return ('default' in options ? Type.Unsafe<Static<T>>(Type.Optional(schema)) : schema) as Field<T, Options>;
}

/** The value with every default its schema declares filled in (on a copy); the one place defaults are applied. */
export function applyDefaults<S extends TSchema>(schema: S, value: unknown): Static<S> {
  return Value.Default(schema, structuredClone(value));
}

interface Examples<T> {
  examples?: T[];
}

export function duration<O extends { default?: string }>(description: string, options: O = {} as O): Field<TString, O> {
  return field(Type.String({ pattern: DURATION_PATTERN, description, ...options, examples: ['500ms', '10s', '1m', '1h', '1d'] }), options);
}

export function expression(description: string, options: Examples<string>): TString {
  return Type.String({ minLength: 1, description: `${description} (a JSONata expression)`, ...options });
}

export function text<O extends Examples<string> & { pattern?: string; default?: string }>(
  description: string,
  options: O = {} as O,
): Field<TString, O> {
  return field(Type.String({ minLength: 1, description, ...options }), options);
}

/** A field that holds a credential: `runner explain` and logs show it redacted. */
export function secret(description: string): TString {
  return Type.String({ description: `${description} Pass it with \${VAR}; it is never printed.`, writeOnly: true });
}

interface Bounds {
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

export function integer<O extends Bounds & Examples<number> & { default?: number }>(description: string, options: O): Field<TInteger, O> {
  return field(Type.Integer({ description, ...options }), options);
}

export function number<O extends Bounds & Examples<number> & { default?: number }>(description: string, options: O): Field<TNumber, O> {
  return field(Type.Number({ description, ...options }), options);
}

export function boolean<O extends { default?: boolean }>(description: string, options: O = {} as O): Field<TBoolean, O> {
  return field(Type.Boolean({ description, ...options }), options);
}

/** One of a fixed set of values, published as `enum`. */
export function choice<const V extends readonly (string | null)[], O extends { default?: V[number] }>(
  values: V,
  description: string,
  options: O = {} as O,
): Field<TUnsafe<V[number]>, O> {
  return field(Type.Unsafe<V[number]>({ enum: values, ...options, description }), options);
}

/** An object that takes only the properties declared; those not wrapped in `Type.Optional` (or defaulted) are required. */
export function strictObject<P extends TProperties>(description: string, properties: P): TObject<P> {
  return Type.Object(properties, { description, additionalProperties: false });
}

/** A strict object that may be left out, all of whose fields then take their defaults. */
export function defaultedObject<P extends TProperties>(description: string, properties: P): Defaulted<TObject<P>> {
  return field(Type.Object(properties, { description, additionalProperties: false, default: {} }), { default: {} });
}

export function stringOrList(description: string, options: Examples<unknown>): TUnsafe<string | string[]> {
  return Type.Unsafe<string | string[]>({
    type: ['string', 'array'],
    minLength: 1,
    items: { type: 'string', minLength: 1 },
    minItems: 1,
    description,
    ...options,
  });
}

export function durationList(description: string, options: Examples<string[]>): TArray<TString> {
  return Type.Array(Type.String({ pattern: DURATION_PATTERN, examples: ['1h', '1d'] }), { description, minItems: 1, ...options });
}

export const emitMode = choice(
  ['final', 'updates'],
  '`final`: one row per window and key once the window is final (the watermark passed its end plus the allowed lateness). `updates`: after each batch, the rows that changed.',
  { default: 'final' },
);

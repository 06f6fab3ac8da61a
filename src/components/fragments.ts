import type { JsonSchema } from '../json-schema.js';

/** Schema fragments shared by component declarations, so every duration or expression reads the same. */

export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$';

export function duration(description: string, defaultValue?: string): JsonSchema {
  return {
    type: 'string',
    pattern: DURATION_PATTERN,
    description,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
    examples: ['500ms', '10s', '1m', '1h', '1d'],
  };
}

export function expression(description: string, examples: string[]): JsonSchema {
  return { type: 'string', minLength: 1, description: `${description} (a JSONata expression)`, examples };
}

export function text(description: string, extra: JsonSchema = {}): JsonSchema {
  return { type: 'string', minLength: 1, description, ...extra };
}

/** A field that holds a credential: `runner explain` and logs show it redacted. */
export function secret(description: string): JsonSchema {
  return { type: 'string', description: `${description} Pass it with \${VAR}; it is never printed.`, writeOnly: true };
}

export function integer(description: string, minimum: number, defaultValue?: number, maximum?: number): JsonSchema {
  return {
    type: 'integer',
    minimum,
    ...(maximum === undefined ? {} : { maximum }),
    description,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  };
}

export function strictObject(
  description: string,
  properties: Record<string, JsonSchema>,
  required: string[] = [],
): JsonSchema {
  return {
    type: 'object',
    description,
    properties,
    ...(required.length > 0 ? { required } : {}),
    additionalProperties: false,
  };
}

export function stringOrList(description: string, examples: unknown[]): JsonSchema {
  return {
    type: ['string', 'array'],
    minLength: 1,
    items: { type: 'string', minLength: 1 },
    minItems: 1,
    description,
    examples,
  };
}

export const emitMode: JsonSchema = {
  enum: ['final', 'updates'],
  default: 'final',
  description:
    '`final`: one row per window and key once the window is final (the watermark passed its end plus the allowed lateness). `updates`: after each batch, the rows that changed.',
};

/**
 * Numeric option declarations of aggregation kinds. The same fragment is the published JSON
 * Schema and the check `create` runs, so a kind called directly (tests, the serving layer) gets
 * the same validation and defaults as a pipeline that passed the schema.
 */
import type { JsonSchema } from '../../json-schema.js';
import { AggregationError } from '../../engine/aggregation.js';

interface NumberDeclaration {
  description: string;
  default: number;
  minimum: number;
  maximum: number;
  examples: number[];
}

export type NumberOption = NumberDeclaration & JsonSchema & { type: 'number' | 'integer' };

export function numberOption(option: NumberDeclaration): NumberOption {
  return { type: 'number', ...option };
}

export function integerOption(option: NumberDeclaration): NumberOption {
  return { type: 'integer', ...option };
}

/**
 * The options with defaults filled in, checked against their declarations; an unknown name or a
 * value out of range is an `invalid-option` error naming the option and the allowed range.
 */
export function resolveOptions<Names extends string>(
  kind: string,
  declared: Record<Names, NumberOption>,
  given: object | undefined,
): Record<Names, number> {
  const values = {} as Record<Names, number>;
  const supplied = (given ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(supplied)) {
    if (!(name in declared)) {
      const known = Object.keys(declared);
      throw new AggregationError(
        'invalid-option',
        `${kind} has no option \`${name}\`${known.length ? `; its options are ${known.map((k) => `\`${k}\``).join(', ')}` : ''}`,
      );
    }
  }
  for (const name of Object.keys(declared) as Names[]) {
    const schema = declared[name];
    const value = supplied[name] ?? schema.default;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (schema.type === 'number' || Number.isInteger(value)) &&
      value >= schema.minimum &&
      value <= schema.maximum;
    if (!ok) {
      throw new AggregationError(
        'invalid-option',
        `${kind} option \`${name}\` must be ${schema.type === 'integer' ? 'an integer' : 'a number'} from ${schema.minimum} to ${schema.maximum}, got ${JSON.stringify(value)}`,
      );
    }
    values[name] = value;
  }
  return values;
}

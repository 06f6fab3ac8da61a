import type { JsonSchema } from '../schema/json-schema.js';

export const REDACTED = '***';

/** Replaces the password in a URL-like string (`scheme://user:password@host`). */
export function redactUrlCredentials(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@\s]*@/gi, `$1:${REDACTED}@`);
}

/**
 * A copy of a component's config fit for printing: fields the schema marks writeOnly (secrets)
 * are replaced, and credentials inside connection strings are masked.
 */
export function redactConfig(value: unknown, schema: JsonSchema | undefined): unknown {
  if (schema?.writeOnly === true && value !== undefined) return REDACTED;
  if (typeof value === 'string') return redactUrlCredentials(value);
  if (Array.isArray(value)) return value.map((item) => redactConfig(item, schema?.items as JsonSchema | undefined));
  if (value !== null && typeof value === 'object') {
    const properties = (schema?.properties ?? {}) as Record<string, JsonSchema>;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactConfig(v, properties[k])]));
  }
  return value;
}

import type { JsonSchema } from './json-schema.js';

export const REDACTED = '***';

/**
 * A password in a URL-like string: `scheme://user:password@host`. The password runs to the last
 * `@` before white space or a quote, so one with an unescaped `@` in it is masked whole.
 */
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s"]*):([^\s"]*)@/gi;

/** Replaces the password in a URL-like string (`scheme://user:password@host`). */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, `$1:${REDACTED}@`);
}

/** The passwords in the connection strings of a text, as written and percent-decoded. */
function urlPasswords(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(URL_CREDENTIALS)) {
    found.push(match[2]);
    try {
      found.push(decodeURIComponent(match[2]));
    } catch {
      // not percent-encoded text: the raw form is enough
    }
  }
  return found;
}

/**
 * Every credential in a component's config: values of fields the schema marks writeOnly, and
 * passwords inside connection strings. The logs scrub these from every line they print.
 */
export function secretValues(value: unknown, schema: JsonSchema | undefined): string[] {
  if (schema?.writeOnly === true && (typeof value === 'string' || typeof value === 'number')) return [String(value)];
  if (typeof value === 'string') return urlPasswords(value);
  if (Array.isArray(value)) return value.flatMap((item) => secretValues(item, schema?.items as JsonSchema | undefined));
  if (value !== null && typeof value === 'object') {
    const properties = (schema?.properties ?? {}) as Record<string, JsonSchema>;
    return Object.entries(value).flatMap(([k, v]) => secretValues(v, properties[k]));
  }
  return [];
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

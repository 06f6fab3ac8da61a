/**
 * JSON text of a value with object keys sorted, so two JSON values that are equal (objects being
 * unordered) give the same text: the identity `distinct` and `approxDistinct` use for objects and arrays.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + (value[i] === undefined ? 'null' : canonicalJson(value[i]));
    return out + ']';
  }
  if (typeof value === 'object' && value !== null) {
    // as JSON.stringify does: a Date (or anything with toJSON) is what toJSON returns
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonicalJson((value as { toJSON(): unknown }).toJSON());
    const record = value as Record<string, unknown>;
    let out = '{';
    for (const key of Object.keys(record).sort()) {
      if (record[key] === undefined) continue;
      out += (out.length > 1 ? ',' : '') + JSON.stringify(key) + ':' + canonicalJson(record[key]);
    }
    return out + '}';
  }
  return JSON.stringify(value);
}

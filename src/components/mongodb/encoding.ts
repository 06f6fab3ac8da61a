/**
 * The reversible encoding of StoredValues into BSON that every server accepts (see
 * store.ts): shared by the store that writes documents and the serving layer that reads them.
 */
import { Binary } from 'mongodb';

// ---------------------------------------------------------------------------------------------
// Reversible encoding of StoredValues into BSON every server accepts

const NUMBER_MARK = '%n';
const NESTED_ARRAY_MARK = '%a';
const NAME_ESCAPE = /[%.$\0]/g;
const NAME_ESCAPES: Record<string, string> = { '%': '%25', '.': '%2E', $: '%24', '\0': '%00' };
const NAME_UNESCAPE = /%(25|2E|24|00)/g;
const NAME_UNESCAPES: Record<string, string> = { '25': '%', '2E': '.', '24': '$', '00': '\0' };

export function encodeName(name: string): string {
  return /[%.$\0]/.test(name) ? name.replace(NAME_ESCAPE, (c) => NAME_ESCAPES[c]) : name;
}

export function decodeName(name: string): string {
  return name.includes('%') ? name.replace(NAME_UNESCAPE, (_, hex: string) => NAME_UNESCAPES[hex]) : name;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === Object.prototype || proto === null;
}

/** Returns the value itself when nothing needs encoding (the common case: no copies). */
export function encodeValue(value: unknown, insideArray = false): unknown {
  if (typeof value === 'number') {
    return Number.isFinite(value) && !Object.is(value, -0) ? value : { [NUMBER_MARK]: Object.is(value, -0) ? '-0' : String(value) };
  }
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const encoded = encodeValue(value[i], true);
      if (encoded !== value[i]) (out ??= value.slice())[i] = encoded;
    }
    const array = out ?? value;
    return insideArray ? { [NESTED_ARRAY_MARK]: array } : array;
  }
  if (!isPlainObject(value)) return value; // e.g. a Date inside a key: BSON stores it as is
  let changed = false;
  const entries: [string, unknown][] = [];
  for (const name in value) {
    const encodedName = encodeName(name);
    const encoded = encodeValue(value[name]);
    if (encodedName !== name || encoded !== value[name]) changed = true;
    entries.push([encodedName, encoded]);
  }
  return changed ? Object.fromEntries(entries) : value;
}

/** The inverse of encodeValue, in place where possible; BSON binary becomes a Uint8Array view (no copy). */
export function decodeValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) {
    return value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof Binary) return new Uint8Array(value.buffer.buffer, value.buffer.byteOffset, value.position);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decodeValue(value[i]);
    return value;
  }
  if (!isPlainObject(value)) return value;
  let renamed = false;
  let count = 0;
  for (const name in value) {
    count++;
    if (name.includes('%')) renamed = true;
  }
  if (count === 1 && NUMBER_MARK in value && typeof value[NUMBER_MARK] === 'string') {
    return value[NUMBER_MARK] === '-0' ? -0 : Number(value[NUMBER_MARK]);
  }
  if (count === 1 && NESTED_ARRAY_MARK in value && Array.isArray(value[NESTED_ARRAY_MARK])) {
    return decodeValue(value[NESTED_ARRAY_MARK]);
  }
  if (!renamed) {
    for (const name in value) value[name] = decodeValue(value[name]);
    return value;
  }
  return Object.fromEntries(Object.entries(value).map(([name, v]) => [decodeName(name), decodeValue(v)]));
}

/**
 * A document's offsets, grouped by what precedes the last '/' of a partition id (a Kafka topic,
 * a file's folder), so that a topic's name is stored once, not once per partition:
 * `{ "adnetwork-topic": { "0": 12, "1": 15 } }` for partitions "adnetwork-topic/0" and "/1". An id
 * without '/' keeps its number at its own name, and so did every id before grouping: a number
 * names a whole id, an object a group. Should a group's name equal such an id, the map is stored
 * ungrouped, so decoding stays exact.
 */
export function encodeOffsets(offsets: Record<string, number>): Record<string, number | Record<string, number>> {
  const encoded: Record<string, number | Record<string, number>> = {};
  const ungrouped = new Set<string>();
  for (const [partition, offset] of Object.entries(offsets)) {
    const slash = partition.lastIndexOf('/');
    if (slash < 0) {
      ungrouped.add(encodeName(partition));
      continue;
    }
    const group = (encoded[encodeName(partition.slice(0, slash))] ??= {}) as Record<string, number>;
    group[encodeName(partition.slice(slash + 1))] = offset;
  }
  if ([...ungrouped].some((name) => name in encoded)) {
    return Object.fromEntries(Object.entries(offsets).map(([partition, offset]) => [encodeName(partition), offset]));
  }
  for (const partition in offsets) if (!partition.includes('/')) encoded[encodeName(partition)] = offsets[partition];
  return encoded;
}

export function decodeOffsets(offsets: Record<string, unknown> | undefined): Record<string, number> {
  const decoded: Record<string, number> = {};
  for (const [name, value] of Object.entries(offsets ?? {})) {
    if (value === null || typeof value !== 'object') decoded[decodeName(name)] = Number(value);
    else for (const [partition, offset] of Object.entries(value)) decoded[`${decodeName(name)}/${decodeName(partition)}`] = Number(offset);
  }
  return decoded;
}

/**
 * Decodes a JSON line straight from its bytes into an object holding only the wanted top-level
 * fields. The whole line is still checked against JSON's grammar, so a line decodes here exactly
 * when JSON.parse would accept it, and a wanted field gets the value JSON.parse gives it. A codec:
 * it knows JSON and nothing of pipelines (src/engine/field-decoder.ts picks a plan's fields).
 *
 * It declines (returns undefined) whatever it does not reproduce itself; the caller then decodes
 * the line's text with JSON.parse, which also produces the errors. Declined: any grammar error, a
 * value that is not an object, a wanted value that is an object or an array, a wanted string or
 * any key with escapes, nesting deeper than `maxDepth` (the line's object itself being 1).
 */
export class JsonFieldScanner {
  /** Wanted names as UTF-8 bytes, one after the other: name f starts at keyStarts[f]. */
  private readonly keyBytes: Uint8Array;
  private readonly keyStarts: Int32Array;
  /** The first wanted name of each byte length (-1: none), and the next one of the same length. */
  private readonly byLength: Int32Array;
  private readonly sameLength: Int32Array;
  /** Results of the scanning helpers, which return a position. */
  private number = 0;
  private ascii = true;
  private escaped = false;
  /** The wanted values of the line being decoded; present[f] === generation when field f was seen. */
  private readonly values: unknown[];
  private readonly present: Int32Array;
  private generation = 0;
  private readonly strings: StringCache;
  /** Builds the row from `values` with constant property names (fast, stable shapes). */
  private readonly build: (values: unknown[], present: Int32Array, generation: number) => Record<string, unknown>;

  /** Nesting a skipped value may start at before the line is declined: maxDepth less the line's object and the value's own level. */
  private readonly maxSkipDepth: number;

  /** `maxDepth`: the deepest nesting decoded here, the line's object being 1; deeper lines are declined. */
  constructor(
    private readonly names: readonly string[],
    maxDepth: number,
  ) {
    this.maxSkipDepth = maxDepth - 1;
    if (names.includes('__proto__')) throw new Error('JsonFieldScanner: `__proto__` cannot be a plain field');
    const keys = names.map((name) => Buffer.from(name, 'utf8'));
    this.keyBytes = Buffer.concat(keys);
    this.keyStarts = new Int32Array(names.length);
    this.byLength = new Int32Array(Math.max(0, ...keys.map((k) => k.length)) + 1).fill(-1);
    this.sameLength = new Int32Array(names.length).fill(-1);
    for (let f = names.length - 1, at = this.keyBytes.length; f >= 0; f--) {
      this.keyStarts[f] = at -= keys[f].length;
      this.sameLength[f] = this.byLength[keys[f].length];
      this.byLength[keys[f].length] = f;
    }
    this.values = new Array(names.length).fill(undefined);
    this.present = new Int32Array(names.length);
    this.strings = new StringCache(names.length);
    const stores = names.map((name, f) => `if (p[${f}] === g) this[${JSON.stringify(name)}] = v[${f}];`);
    // A row builder compiled for these field names, from the names only (JSON.stringify'd), never
    // from data. Rows are made by a constructor of their own, not from `{}`: objects made from `{}`
    // share one tree of shapes with every object literal of the process, and once the modules
    // loaded at start had filled it, V8 sometimes gave these rows slow shapes (bench:engine ran at
    // 780,000 records/s in most runs instead of 1,100,000). Their prototype is still Object's.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from field names
    const builder = new Function(
      `function Row(v, p, g) {\n${stores.join('\n')}\n}\nRow.prototype = Object.prototype;\nreturn (v, p, g) => new Row(v, p, g);`,
    ) as () => JsonFieldScanner['build'];
    this.build = builder();
  }

  /** The object in bytes[start, end), projected on the wanted fields; undefined when declined. */
  decode(buffer: Buffer, start: number, end: number): Record<string, unknown> | undefined {
    const bytes = buffer as Bytes;
    let i = start;
    if (bytes[i] !== OPEN_OBJECT) i = skipSpace(bytes, i, end);
    if (i >= end || bytes[i] !== OPEN_OBJECT) return undefined;
    if (bytes[++i] !== QUOTE) {
      i = skipSpace(bytes, i, end);
      if (i < end && bytes[i] === CLOSE_OBJECT) return skipSpace(bytes, i + 1, end) === end ? {} : undefined;
    }
    const { values, present } = this;
    const generation = this.generation === 0x7fffffff ? this.restartGenerations() : ++this.generation;
    for (;;) {
      if (i >= end || bytes[i] !== QUOTE) return undefined;
      const keyEnd = this.scanString(bytes, i + 1, end);
      if (keyEnd < 0 || this.escaped) return undefined;
      const field = this.match(bytes, i + 1, keyEnd);
      i = keyEnd + 1;
      if (bytes[i] !== COLON) i = skipSpace(bytes, i, end);
      if (i >= end || bytes[i] !== COLON) return undefined;
      let b = bytes[++i];
      if (b === SPACE || b === TAB || b === RETURN || b === NEWLINE) b = bytes[(i = skipSpace(bytes, i, end))];
      if (i >= end) return undefined;
      if (b === QUOTE) {
        const close = this.scanString(bytes, i + 1, end);
        if (close < 0) return undefined;
        if (field >= 0) {
          // scanString just set it; TypeScript keeps the narrowing from the key's check across the call
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the call above
          if (this.escaped) return undefined;
          values[field] = this.ascii ? this.strings.get(bytes, i + 1, close, field) : bytes.utf8Slice(i + 1, close);
          present[field] = generation;
        }
        i = close + 1;
      } else if (b === MINUS || (b >= ZERO && b <= NINE)) {
        i = this.scanNumber(bytes, i, end, field >= 0);
        if (i < 0) return undefined;
        if (field >= 0) {
          values[field] = this.number;
          present[field] = generation;
        }
      } else if (field < 0) {
        i = this.skipValue(bytes, i, end, 0);
        if (i < 0) return undefined;
      } else {
        const literal = literalAt(bytes, i, end);
        if (literal === NOT_LITERAL) return undefined;
        values[field] = literal;
        present[field] = generation;
        i += literal === false ? 5 : 4;
      }
      b = bytes[i];
      if (b !== COMMA && b !== CLOSE_OBJECT) b = bytes[(i = skipSpace(bytes, i, end))];
      if (i >= end) return undefined;
      if (b === COMMA) {
        if (bytes[++i] !== QUOTE) i = skipSpace(bytes, i, end);
      } else if (b === CLOSE_OBJECT) {
        return i + 1 === end || skipSpace(bytes, i + 1, end) === end ? this.build(values, present, generation) : undefined;
      } else return undefined;
    }
  }

  private restartGenerations(): number {
    this.present.fill(0);
    return (this.generation = 1);
  }

  /** The index in `names` of the key in bytes[start, end) (no escapes), or -1. */
  private match(bytes: Bytes, start: number, end: number): number {
    const length = end - start;
    if (!this.ascii) return this.names.indexOf(bytes.utf8Slice(start, end));
    if (length >= this.byLength.length) return -1;
    const keyBytes = this.keyBytes;
    for (let f = this.byLength[length]; f >= 0; f = this.sameLength[f]) {
      const at = this.keyStarts[f];
      let j = 0;
      while (j < length && bytes[start + j] === keyBytes[at + j]) j++;
      if (j === length) return f;
    }
    return -1;
  }

  /**
   * From just after an opening quote: the position of the closing quote, or -1 when the string is
   * not valid JSON. Sets `ascii` (no byte >= 0x80) and `escaped` (has a backslash escape).
   */
  private scanString(bytes: Bytes, i: number, end: number): number {
    let ascii = true;
    let escaped = false;
    for (;;) {
      // the byte after the line (a newline, or past the buffer's end) also ends this loop
      let kind: number;
      while ((kind = STRING_BYTES[bytes[i]]) === PLAIN) i++;
      if (i >= end) return -1;
      if (kind === CLOSING) {
        this.ascii = ascii;
        this.escaped = escaped;
        return i;
      }
      if (kind === HIGH) {
        ascii = false;
        i++;
      } else if (kind === ESCAPE) {
        escaped = true;
        i = escapeEnd(bytes, i, end);
        if (i < 0) return -1;
      } else return -1;
    }
  }

  /**
   * A JSON number starting at i: the position after it, or -1. With `wanted`, its value goes to
   * `number`: computed exactly when it has at most 15 digits and a decimal exponent within 22
   * (both operands are then exact doubles and one division or product rounds correctly), else
   * by Number() on its text, which rounds as JSON.parse does.
   */
  private scanNumber(bytes: Bytes, i: number, end: number, wanted: boolean): number {
    const first = i;
    if (bytes[i] === MINUS) i++;
    if (i >= end) return -1;
    let b = bytes[i];
    let mantissa = 0;
    let digits = 0;
    if (b === ZERO) i++;
    else if (b > ZERO && b <= NINE) {
      for (; i < end && (b = bytes[i]) >= ZERO && b <= NINE; i++, digits++) mantissa = mantissa * 10 + (b - ZERO);
    } else return -1;
    let exponent = 0;
    if (i < end && bytes[i] === DOT) {
      const fraction = ++i;
      for (; i < end && (b = bytes[i]) >= ZERO && b <= NINE; i++, digits++) mantissa = mantissa * 10 + (b - ZERO);
      if (i === fraction) return -1;
      exponent = fraction - i;
    }
    if (i < end && (bytes[i] | 0x20) === 0x65) {
      // e or E
      if (++i < end && (bytes[i] === PLUS || bytes[i] === MINUS)) i++;
      const sign = bytes[i - 1] === MINUS ? -1 : 1;
      const digitsStart = i;
      let e = 0;
      for (; i < end && (b = bytes[i]) >= ZERO && b <= NINE; i++) if (e < 1e6) e = e * 10 + (b - ZERO);
      if (i === digitsStart) return -1;
      exponent += sign * e;
    }
    if (wanted) {
      if (digits <= 15 && exponent >= -22 && exponent <= 22) {
        const magnitude = exponent < 0 ? mantissa / POWERS_OF_TEN[-exponent] : mantissa * POWERS_OF_TEN[exponent];
        this.number = bytes[first] === MINUS ? -magnitude : magnitude;
      } else this.number = Number(bytes.latin1Slice(first, i));
    }
    return i;
  }

  /** Checks the value starting at i (not at the end) and returns the position after it, or -1. */
  private skipValue(bytes: Bytes, i: number, end: number, depth: number): number {
    const b = bytes[i];
    if (b === QUOTE) {
      const close = this.scanString(bytes, i + 1, end);
      return close < 0 ? -1 : close + 1;
    }
    if (b === MINUS || (b >= ZERO && b <= NINE)) return this.scanNumber(bytes, i, end, false);
    if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
      if (depth >= this.maxSkipDepth) return -1;
      const object = b === OPEN_OBJECT;
      const close = object ? CLOSE_OBJECT : CLOSE_ARRAY;
      i = skipSpace(bytes, i + 1, end);
      if (i < end && bytes[i] === close) return i + 1;
      for (;;) {
        if (i >= end) return -1;
        if (object) {
          if (bytes[i] !== QUOTE) return -1;
          const keyEnd = this.scanString(bytes, i + 1, end);
          if (keyEnd < 0) return -1;
          i = skipSpace(bytes, keyEnd + 1, end);
          if (i >= end || bytes[i] !== COLON) return -1;
          i = skipSpace(bytes, i + 1, end);
          if (i >= end) return -1;
        }
        i = this.skipValue(bytes, i, end, depth + 1);
        if (i < 0) return -1;
        i = skipSpace(bytes, i, end);
        if (i >= end) return -1;
        if (bytes[i] === close) return i + 1;
        if (bytes[i] !== COMMA) return -1;
        i = skipSpace(bytes, i + 1, end);
      }
    }
    const literal = literalAt(bytes, i, end);
    if (literal === NOT_LITERAL) return -1;
    return i + (literal === false ? 5 : 4);
  }
}

const fcc = String.fromCharCode;

/**
 * The string of ASCII bytes b[s, e). Short ones go through String.fromCharCode with the bytes as
 * arguments, which V8 compiles inline: several times faster than Buffer's latin1Slice.
 */
function asciiString(b: Bytes, s: number, e: number): string {
  switch (e - s) {
    case 0:
      return '';
    case 1:
      return fcc(b[s]);
    case 2:
      return fcc(b[s], b[s + 1]);
    case 3:
      return fcc(b[s], b[s + 1], b[s + 2]);
    case 4:
      return fcc(b[s], b[s + 1], b[s + 2], b[s + 3]);
    case 5:
      return fcc(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4]);
    case 6:
      return fcc(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5]);
    case 7:
      return fcc(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6]);
    case 8:
      return fcc(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7]);
    case 9:
      return fcc(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8]);
    case 10:
      return fcc(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9]);
    case 11:
      return fcc(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10]);
    case 12:
      return fcc(b[s], b[s + 1], b[s + 2], b[s + 3], b[s + 4], b[s + 5], b[s + 6], b[s + 7], b[s + 8], b[s + 9], b[s + 10], b[s + 11]);
    case 13:
      return fcc(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
      );
    case 14:
      return fcc(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
      );
    case 15:
      return fcc(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
      );
    case 16:
      return fcc(
        b[s],
        b[s + 1],
        b[s + 2],
        b[s + 3],
        b[s + 4],
        b[s + 5],
        b[s + 6],
        b[s + 7],
        b[s + 8],
        b[s + 9],
        b[s + 10],
        b[s + 11],
        b[s + 12],
        b[s + 13],
        b[s + 14],
        b[s + 15],
      );
    default:
      return b.latin1Slice(s, e);
  }
}

/** Strings up to this many bytes are cached. */
const MAX_CACHED = 32;
const SLOTS = 1024;
/** A field's strings are cached while at least 1 in 4 of its last CHECK_EVERY lookups hit; else not for its next PAUSE strings. */
const CHECK_EVERY = 256;
const PAUSE = 16384;

/**
 * ASCII strings made from bytes, by their bytes: a value seen recently (a publisher, a country)
 * is not made again, and, being the same string, its hash is already known to the Maps it keys.
 * Per field, caching stops for a while when it does not pay (unique ids).
 */
class StringCache {
  private readonly strings: string[] = new Array<string>(SLOTS).fill('');
  private readonly lengths = new Int32Array(SLOTS).fill(-1);
  private readonly bytes = new Uint8Array(SLOTS * MAX_CACHED);
  /** Per field: lookups and hits since the last check, or (lookups < 0) strings left to skip. */
  private readonly lookups: Int32Array;
  private readonly hits: Int32Array;

  constructor(fields: number) {
    this.lookups = new Int32Array(fields);
    this.hits = new Int32Array(fields);
  }

  get(source: Bytes, start: number, end: number, field: number): string {
    const length = end - start;
    const lookups = this.lookups[field]++;
    if (length > MAX_CACHED || lookups < 0) return asciiString(source, start, end);
    if (lookups === CHECK_EVERY) {
      const paying = this.hits[field] * 4 >= CHECK_EVERY;
      this.lookups[field] = paying ? 0 : -PAUSE;
      this.hits[field] = 0;
    }
    let hash = length;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ source[i], 0x01000193);
    const slot = (hash ^ (hash >>> 15)) & (SLOTS - 1);
    const at = slot * MAX_CACHED;
    const cached = this.bytes;
    if (this.lengths[slot] === length) {
      let j = 0;
      while (j < length && cached[at + j] === source[start + j]) j++;
      if (j === length) {
        this.hits[field]++;
        return this.strings[slot];
      }
    }
    const made = asciiString(source, start, end);
    this.strings[slot] = made;
    this.lengths[slot] = length;
    for (let j = 0; j < length; j++) cached[at + j] = source[start + j];
    return made;
  }
}

/** A Buffer with its (undocumented, stable since Node 0.x) slicing decoders: toString without the argument checks. */
type Bytes = Buffer & {
  latin1Slice(start: number, end: number): string;
  utf8Slice(start: number, end: number): string;
};

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

const NOT_LITERAL = Symbol('not a literal');

const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;
const RETURN = 0x0d;

/** What a byte inside a string is: most are PLAIN; control characters are not allowed. */
const PLAIN = 0;
const CLOSING = 1;
const ESCAPE = 2;
const HIGH = 3;
const CONTROL = 4;
const STRING_BYTES = new Uint8Array(256).map((_, b) =>
  b === QUOTE ? CLOSING : b === BACKSLASH ? ESCAPE : b < 0x20 ? CONTROL : b >= 0x80 ? HIGH : PLAIN,
);

/** The position after the escape sequence at i (a backslash), or -1 when it is not valid JSON. */
function escapeEnd(bytes: Bytes, i: number, end: number): number {
  const c = bytes[i + 1];
  if (c === 0x75) {
    // \uXXXX
    if (i + 5 >= end) return -1;
    for (let k = 2; k <= 5; k++) if (!isHex(bytes[i + k])) return -1;
    return i + 6;
  }
  const simple = c === QUOTE || c === BACKSLASH || c === 0x2f || c === 0x62 || c === 0x66 || c === 0x6e || c === 0x72 || c === 0x74;
  return simple && i + 1 < end ? i + 2 : -1;
}

/** JSON's whitespace: space, tab, line feed, carriage return. */
function skipSpace(bytes: Bytes, i: number, end: number): number {
  for (; i < end; i++) {
    const b = bytes[i];
    if (b !== SPACE && b !== TAB && b !== NEWLINE && b !== RETURN) return i;
  }
  return i;
}

function isHex(b: number): boolean {
  return (b >= ZERO && b <= NINE) || ((b | 0x20) >= 0x61 && (b | 0x20) <= 0x66);
}

/** `true`, `false` or `null` at i, else NOT_LITERAL. */
function literalAt(bytes: Bytes, i: number, end: number): boolean | null | typeof NOT_LITERAL {
  const b = bytes[i];
  if (b === 0x74 && i + 4 <= end && bytes[i + 1] === 0x72 && bytes[i + 2] === 0x75 && bytes[i + 3] === 0x65) return true;
  if (b === 0x6e && i + 4 <= end && bytes[i + 1] === 0x75 && bytes[i + 2] === 0x6c && bytes[i + 3] === 0x6c) return null;
  if (b === 0x66 && i + 5 <= end && bytes[i + 1] === 0x61 && bytes[i + 2] === 0x6c && bytes[i + 3] === 0x73 && bytes[i + 4] === 0x65) {
    return false;
  }
  return NOT_LITERAL;
}

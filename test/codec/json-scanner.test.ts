/** JsonFieldScanner against JSON.parse: for any bytes it declines, or gives exactly JSON.parse's values of the wanted fields. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JsonFieldScanner } from '../../src/codec/json-scanner.js';
import { DEFAULT_LIMITS } from '../../src/engine/plan.js';

const WANTED = ['geo', 'ts', 'n', 'é', 'constructor', '_jsonata_function'];
const decoder = new JsonFieldScanner(WANTED, DEFAULT_LIMITS.maxDepth);

/** What JSON.parse makes of the bytes, projected on the wanted fields; undefined when it is not an object. */
function reference(bytes: Buffer, fields: readonly string[]): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const projected: Record<string, unknown> = {};
  for (const field of fields) if (Object.hasOwn(value, field)) projected[field] = (value as Record<string, unknown>)[field];
  return projected;
}

/** Declined, or deep-strictly equal to the reference (so -0 is not 0, and the prototype is Object's). */
function check(bytes: Buffer, fields = WANTED, d = decoder): Record<string, unknown> | undefined {
  const decoded = d.decode(bytes, 0, bytes.length);
  if (decoded === undefined) return undefined;
  const expected = reference(bytes, fields);
  assert.ok(expected !== undefined, `decoded what JSON.parse rejects: ${JSON.stringify(bytes.toString('latin1'))}`);
  assert.deepStrictEqual(decoded, expected, bytes.toString('latin1'));
  return decoded;
}

const space = fc.constantFrom('', '', '', ' ', '\t', '\r\n', '  ', '\n');

/** A string's JSON text: as JSON.stringify writes it, or with some characters as \u escapes. */
const stringText = (value: string) =>
  fc
    .nat(3)
    .map((escape) =>
      escape === 0
        ? `"${[...value].map((c) => (c === '"' || c === '\\' || c < ' ' || c.charCodeAt(0) % 3 === 0 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)).join('')}"`
        : JSON.stringify(value),
    );

/** Numbers in every JSON form: signs, leading zero, fractions, exponents, up to 25 digits. */
const numberText = fc
  .tuple(
    fc.boolean(),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9][0-9]{0,24}$/)),
    fc.option(fc.stringMatching(/^[0-9]{1,25}$/)),
    fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.stringMatching(/^[0-9]{1,4}$/))),
  )
  .map(
    ([negative, int, fraction, exponent]) =>
      `${negative ? '-' : ''}${int}${fraction === null ? '' : `.${fraction}`}${exponent === null ? '' : exponent.join('')}`,
  );

const anyString = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const key = fc.oneof(fc.constantFrom(...WANTED, 'geo2', 'g', 'toString', '__proto__', 'timestamp'), anyString);

/** JSON text of any value, nested values included, with whitespace anywhere. */
const valueText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    anyString.chain(stringText),
    numberText,
    fc.constantFrom('true', 'false', 'null'),
    fc.array(fc.tuple(space, tie('value'), space), { maxLength: 3 }).map((items) => `[${items.map((i) => i.join('')).join(',')}]`),
    fc
      .array(fc.tuple(space, key.chain(stringText), space, tie('value'), space), { maxLength: 3 })
      .map((entries) => `{${entries.map(([a, k, b, v, c]) => `${a}${k}${b}:${v}${c}`).join(',')}}`),
  ),
})).value;

/** An object line: keys may repeat (JSON.parse keeps the last), any values, any whitespace. */
const objectLine = fc
  .tuple(space, fc.array(fc.tuple(space, key.chain(stringText), space, space, valueText, space), { maxLength: 8 }), space)
  .map(([before, entries, after]) => `${before}{${entries.map(([a, k, b, c, v, d]) => `${a}${k}${b}:${c}${v}${d}`).join(',')}}${after}`);

/** A byte string broken in one place: cut, a byte dropped, or an interesting byte inserted or overwritten. */
const broken = fc
  .tuple(
    objectLine,
    fc.nat(),
    fc.constantFrom('cut', 'drop', 'insert', 'replace'),
    fc.constantFrom(
      0x22,
      0x5c,
      0x2c,
      0x3a,
      0x7b,
      0x7d,
      0x5b,
      0x5d,
      0x20,
      0x00,
      0x1f,
      0x7f,
      0x80,
      0xc3,
      0xe2,
      0xff,
      0x65,
      0x2d,
      0x2e,
      0x30,
      0x6e,
      0x74,
    ),
  )
  .map(([line, at, how, byte]) => {
    const bytes = Buffer.from(line);
    const i = bytes.length === 0 ? 0 : at % bytes.length;
    if (how === 'cut') return bytes.subarray(0, i);
    if (how === 'drop') return Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
    if (how === 'insert') return Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
    const copy = Buffer.from(bytes);
    if (copy.length > 0) copy[i] = byte;
    return copy;
  });

test('any object line: declined, or the wanted fields exactly as JSON.parse gives them', () => {
  fc.assert(
    fc.property(objectLine, (line) => void check(Buffer.from(line))),
    { numRuns: 3000 },
  );
});

test('broken lines (cut, bytes dropped, inserted or overwritten, invalid UTF-8): never a value JSON.parse would not give', () => {
  fc.assert(
    fc.property(broken, (bytes) => void check(bytes)),
    { numRuns: 5000 },
  );
});

test('every JSON number form reads as JSON.parse reads it, and invalid ones are declined', () => {
  fc.assert(
    fc.property(numberText, space, (text, pad) => {
      const decoded = check(Buffer.from(`{"n":${pad}${text}${pad}}`));
      assert.ok(decoded !== undefined, text);
      assert.ok(Object.is(decoded.n, JSON.parse(text)), text);
    }),
    { numRuns: 5000 },
  );
  for (const text of ['01', '-01', '1.', '.5', '+1', '1e', '1e+', '-', '--1', '0x10', 'Infinity', 'NaN', '1_0', '１', '1.5.2', '-e1']) {
    assert.equal(decoder.decode(Buffer.from(`{"n":${text}}`), 0, 6 + text.length), undefined, text);
  }
  for (const text of [
    '-0',
    '-0.0',
    '0e5',
    '1e400',
    '-1e400',
    '1e-400',
    '5e-324',
    '9007199254740993',
    '0.1',
    '123456789012345678901234567890',
    '1.7976931348623157e308',
  ]) {
    assert.ok(Object.is(check(Buffer.from(`{"n":${text}}`))?.n, JSON.parse(text)), text);
  }
});

test('flat lines without escapes in keys and wanted strings are decoded, not declined', () => {
  // no character JSON escapes: a quote, a backslash or a control character (below U+0020)
  const plain = fc
    .string({ unit: 'grapheme', maxLength: 12 })
    .filter((s) => ![...s].some((c) => c === '"' || c === '\\' || c.charCodeAt(0) < 0x20));
  const flatValue = fc.oneof(
    plain.map((s) => JSON.stringify(s)),
    numberText,
    fc.constantFrom('true', 'false', 'null'),
  );
  const line = fc
    .array(fc.tuple(space, fc.oneof(fc.constantFrom(...WANTED), plain), space, space, flatValue, space), { maxLength: 8 })
    .map((entries) => `{${entries.map(([a, k, b, c, v, d]) => `${a}${JSON.stringify(k)}${b}:${c}${v}${d}`).join(',')}}`);
  fc.assert(
    fc.property(line, (text) => assert.ok(check(Buffer.from(text)) !== undefined, text)),
    { numRuns: 2000 },
  );
  // nested values of fields that are not wanted are checked and skipped
  assert.deepStrictEqual(check(Buffer.from('{"a":{"b":[1,{"c":"\\n"}]},"geo":"US","z":[[],{}]}')), { geo: 'US' });
});

test('only bytes[start, end) count: a line inside a larger buffer (Kafka values back to back) decodes as on its own', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        objectLine.map((l) => Buffer.from(l)),
        broken,
      ),
      fc.uint8Array({ maxLength: 6 }),
      fc.oneof(
        fc.uint8Array({ maxLength: 6 }),
        objectLine.map((l) => Buffer.from(l)),
        broken,
      ),
      (line, before, after) => {
        const buffer = Buffer.concat([before, line, after]);
        assert.deepStrictEqual(decoder.decode(buffer, before.length, before.length + line.length), decoder.decode(line, 0, line.length));
      },
    ),
    { numRuns: 3000 },
  );
  // a string left open at the end of the line is not closed by what follows it
  const buffer = Buffer.from('{"geo":"ab"}"}');
  assert.equal(decoder.decode(buffer, 0, 10), undefined);
});

test('declines what it leaves to JSON.parse, and accepts the small cases', () => {
  for (const text of [
    '',
    ' ',
    '[]',
    '{"geo":{}}',
    '{"geo":[1]}',
    '{"geo":"a\\"b"}',
    '{"g\\u0065o":"US"}',
    '"{}"',
    '{"a":1,}',
    '{,}',
    '{"a"}',
    '{"a":1 "b":2}',
    '{"a":tru}',
    '{"a":nul}',
    '{"a":1}x',
    '\uFEFF{}',
  ]) {
    assert.equal(decoder.decode(Buffer.from(text), 0, Buffer.byteLength(text)), undefined, text);
  }
  assert.deepStrictEqual(check(Buffer.from('{}')), {});
  assert.deepStrictEqual(check(Buffer.from(' { "geo" : "US" , "geo" : "DE" } ')), { geo: 'DE' });
  assert.deepStrictEqual(check(Buffer.from('{"é":"ü","n":true,"constructor":null,"_jsonata_function":false}')), {
    é: 'ü',
    n: true,
    constructor: null,
    _jsonata_function: false,
  });
  assert.throws(() => new JsonFieldScanner(['__proto__'], DEFAULT_LIMITS.maxDepth));
});

test('repeated values come back equal whether or not they are cached', () => {
  const ids = new JsonFieldScanner(['id'], DEFAULT_LIMITS.maxDepth);
  for (let i = 0; i < 5000; i++) {
    const id = i % 3 === 0 ? `id_${i}` : `group_${i % 7}`;
    assert.deepStrictEqual(ids.decode(Buffer.from(`{"id":"${id}"}`), 0, 9 + id.length), { id });
  }
});

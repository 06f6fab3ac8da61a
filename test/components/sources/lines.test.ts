/** Records as lines of bytes (the file and stdin sources) give exactly what the same records as text give. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LineSplitter } from '../../../src/components/sources/lines.js';
import { OversizedRecord, payloadAt, type Chunk } from '../../../src/engine/records.js';
import { canonical, compileText, runScripted } from '../../helpers/pipeline.js';

const T0 = Date.UTC(2026, 0, 1);

const pipeline = (filter: string) => `
name: lines
source: { stdin: {} }
batch: { maxRecords: 7 }
time: { field: ts, maxOutOfOrder: 1m, allowedLateness: 2m }
filter: ${filter}
fields: { big: "v * 2" }
window: { tumbling: 1m }
groupBy: [k, { upper: "$uppercase(g)" }]
aggregate:
  n: count
  s: { sum: big }
  u: { approxDistinct: c }
  f: { first: c }
sink: { console: {} }
`;
/** Every expression translated: lines go through the field decoder. */
const TRANSLATED = pipeline('kind != "skip"');
/** One expression only jsonata evaluates: every line is decoded whole. */
const FALLBACK = pipeline('$count(tags) >= 0');

const value = fc.oneof(
  fc.constantFrom('a', 'b', 'é', '"q"', 'x\\y', 0, -0, 1.5, 1e21, true, false, null),
  fc.string({ maxLength: 4 }),
  fc.integer({ min: -5, max: 5 }),
  fc.constantFrom([1, 2], { nested: 'x' }, []),
);
const record = fc.record(
  {
    ts: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 4 * 60_000 }).map((ms) => T0 + ms) }, fc.constantFrom('soon', null)),
    kind: fc.constantFrom('a', 'a', 'skip'),
    k: value,
    g: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('us', 'de') }, value),
    v: fc.oneof({ weight: 8, arbitrary: fc.double({ min: -1e3, max: 1e3, noNaN: true }) }, value),
    c: value,
    tags: fc.constantFrom([], ['t'], 'none'),
    other: value,
  },
  { requiredKeys: ['ts', 'kind', 'v'] },
);
/** A line as a producer may write it: JSON of a record (keys in any order, spaced out), or not a JSON object at all. */
const line = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.tuple(record, fc.boolean()).map(([r, spaced]) => JSON.stringify(r, null, spaced ? ' ' : undefined).replace(/\n/g, '')),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"ts":',
      '[1,2]',
      '42',
      'null',
      '"text"',
      '{"ts":1}x',
      '{"ts": 1e999}',
      '\uFEFF{}',
      '{"k":"\u00e9\u2028"}',
      '  ',
      '{"ts":"\\ud800"}',
    ),
  },
);

/** The bytes of the lines, LF or CRLF ended, some after a blank line; and the same lines as text, at their byte offsets. */
function encode(lines: { text: string; crlf: boolean; blank: boolean }[]): { bytes: Buffer; text: Chunk } {
  const parts: Buffer[] = [];
  const text: Chunk = { partition: 'in', offsets: [], payloads: [] };
  let offset = 0;
  for (const { text: t, crlf, blank } of lines) {
    if (blank) parts.push(Buffer.from(crlf ? '\r\n' : '\n'));
    offset += blank ? (crlf ? 2 : 1) : 0;
    text.offsets.push(offset);
    text.payloads.push(t);
    const bytes = Buffer.from(`${t}${crlf ? '\r\n' : '\n'}`);
    parts.push(bytes);
    offset += bytes.length;
  }
  return { bytes: Buffer.concat(parts), text };
}

/** The bytes pushed through a LineSplitter in pieces cut at the given points. */
function split(bytes: Buffer, cuts: number[]): Chunk[][] {
  const splitter = new LineSplitter('in');
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const steps: Chunk[][] = [];
  let from = 0;
  for (const to of [...points, bytes.length]) {
    steps.push(splitter.push(Buffer.from(bytes.subarray(from, to))));
    from = to;
  }
  steps.push(splitter.end());
  return steps;
}

for (const [name, yaml] of [
  ['translated expressions (field decoder)', TRANSLATED],
  ['an expression jsonata evaluates (whole records)', FALLBACK],
]) {
  test(`lines and text give the same rows and dead letters: ${name}`, async () => {
    const plan = compileText(yaml);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ text: line, crlf: fc.boolean(), blank: fc.boolean() }), { minLength: 1, maxLength: 60, size: 'max' }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (lines, cuts) => {
          const { bytes, text } = encode(lines);
          const fromText = await runScripted(plan, [[text]]);
          const fromLines = await runScripted(plan, split(bytes, cuts));
          assert.deepEqual(fromLines.deadLetters, fromText.deadLetters);
          assert.deepEqual(canonical(fromLines.rows), canonical(fromText.rows));
          assert.equal(fromLines.stats.records, text.offsets.length);
        },
      ),
      { numRuns: 150 },
    );
  });
}

test('a line without its newline at the end of the input is a record too, with its byte offset', () => {
  const splitter = new LineSplitter('in');
  const [first] = splitter.push(Buffer.from('{"a":1}\r\n\n{"b"'));
  assert.deepEqual(first.offsets, [0]);
  assert.equal(first.lines!.bytes.toString('utf8', 0, first.lines!.ends[0]), '{"a":1}');
  const [second] = splitter.push(Buffer.from(':2}\n{"c":3}\r'));
  assert.deepEqual(second.offsets, [10]);
  assert.equal(second.lines!.bytes.toString('utf8', second.lines!.starts[0], second.lines!.ends[0]), '{"b":2}');
  const [last, ...none] = splitter.end();
  assert.deepEqual(none, []);
  assert.deepEqual(last.offsets, [18]);
  assert.equal(payloadAt(last, 0), '{"c":3}');
  assert.deepEqual(splitter.end(), []);
});

test("an error from jsonata's own evaluator dead-letters the record (and the run goes on)", async () => {
  const plan = compileText(`
name: fallback
source: { stdin: {} }
filter: $sum(a) > 0
window: { tumbling: 1m }
aggregate: { n: count }
sink: { console: {} }
`);
  const { rows, deadLetters } = await runScripted(plan, [[{ partition: 'p', offsets: [0, 1], payloads: ['{"a":["x"]}', '{"a":[1]}'] }]]);
  assert.deepEqual(
    deadLetters.map((d) => [d.reason, d.offset]),
    [['expression-error', 0]],
  );
  assert.equal(rows.length, 1);
  assert.equal(rows[0].n, 1);
});

test('a line longer than the limit is kept as its size and first bytes, however many reads it spans', () => {
  const splitter = new LineSplitter('in', 10);
  const long = 'x'.repeat(3000);
  const pieces = [`{"a":1}\n{"b":"${long.slice(0, 5)}`, long.slice(5, 2000), `${long.slice(2000)}"}\r`, '\n{"c":3}\n{"d"'];
  const chunks = pieces.flatMap((p) => splitter.push(Buffer.from(p)));
  const records = chunks.flatMap((c) => c.offsets.map((offset, i) => [offset, payloadAt(c, i)] as const));
  const oversized = `{"b":"${long}"}`;
  assert.equal(records.length, 3);
  assert.deepEqual(records[0], [0, '{"a":1}']);
  assert.equal(records[1][0], 8);
  const record = records[1][1] as OversizedRecord;
  assert.ok(record instanceof OversizedRecord);
  assert.equal(record.size, Buffer.byteLength(oversized));
  assert.equal(record.head.toString('latin1', 0, 20), oversized.slice(0, 20));
  assert.deepEqual(records[2], [8 + oversized.length + 2, '{"c":3}']);
  // an unfinished line at the end is oversized too, without a newline
  const [end] = splitter.end();
  assert.deepEqual([end.offsets, payloadAt(end, 0)], [[8 + oversized.length + 2 + 8], '{"d"']);
  const tail = new LineSplitter('in', 4);
  assert.deepEqual(tail.push(Buffer.from('{"e":12345')), []);
  const [cut] = tail.end();
  assert.equal((cut.payloads[0] as OversizedRecord).size, 10);
});

/** The byte- and text-level checks of records, and the engine's handling of what they reject. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import { firstInvalidUtf8, nestsDeeperThan } from '../../src/engine/bad-input.js';
import { JsonFieldScanner } from '../../src/codec/json-scanner.js';
import type { Chunk } from '../../src/engine/records.js';
import { compileExpression } from '../../src/expr/index.js';
import { Progress } from '../../src/cli/progress.js';
import { silentLogger } from '../../src/log.js';
import type { RunStats } from '../../src/engine/pipeline-run.js';
import { compileText, runScripted } from '../helpers/pipeline.js';

const T0 = Date.UTC(2026, 0, 1);

test("firstInvalidUtf8 finds where bytes stop being UTF-8, as Node's own check sees it", () => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 24 }),
    fc.string({ unit: 'binary', maxLength: 8 }).map((s) => new Uint8Array(Buffer.from(s))),
    fc
      .tuple(fc.string({ unit: 'binary', maxLength: 6 }), fc.uint8Array({ minLength: 1, maxLength: 3 }))
      .map(([s, b]) => new Uint8Array(Buffer.concat([Buffer.from(s), b]))),
  );
  fc.assert(
    fc.property(bytes, (b) => {
      const at = firstInvalidUtf8(b);
      assert.equal(at === -1, isUtf8(b));
      if (at >= 0) assert.ok(isUtf8(b.subarray(0, at)));
    }),
    { numRuns: 3000 },
  );
  // overlong forms, surrogates and code points past U+10FFFF are not UTF-8
  for (const bad of [[0xc0, 0x80], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8], [0x80]]) {
    assert.equal(firstInvalidUtf8(Uint8Array.from([0x41, ...bad])), 1, String(bad));
  }
});

/** The nesting of a JSON value, objects and arrays counting one level each. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const members = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...members.map(depthOf));
}

test('nestsDeeperThan measures the nesting of JSON text; brackets inside strings do not count', () => {
  const text = fc.oneof(
    fc.json({ depthSize: 'large' }),
    fc.jsonValue({ depthSize: 'large' }).map((v) => JSON.stringify(v, null, 1)),
    fc.string({ maxLength: 6 }).map((s) => JSON.stringify({ a: `[[{${s}` })),
  );
  fc.assert(
    fc.property(text, fc.integer({ min: 1, max: 6 }), (json, maxDepth) => {
      assert.equal(nestsDeeperThan(json, maxDepth), depthOf(JSON.parse(json)) > maxDepth);
    }),
    { numRuns: 3000 },
  );
  assert.equal(nestsDeeperThan('['.repeat(1e6), 64), true);
});

test('the field decoder declines lines nested deeper than its maxDepth, and only those among valid ones', () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.constantFrom('geo', 'a', 'b'), fc.jsonValue({ maxDepth: 5 })),
      fc.integer({ min: 1, max: 6 }),
      (record, maxDepth) => {
        const line = Buffer.from(JSON.stringify(record));
        const decoded = new JsonFieldScanner(['geo'], maxDepth).decode(line, 0, line.length);
        const wantedIsFlat = !('geo' in record) || record.geo === null || typeof record.geo !== 'object';
        if (depthOf(record) > maxDepth) assert.equal(decoded, undefined);
        else if (wantedIsFlat && !/\\/.test(line.toString())) assert.notEqual(decoded, undefined);
      },
    ),
    { numRuns: 2000 },
  );
});

const PIPELINE = `
name: engine-bad-input
source: { stdin: {} }
time: { field: ts }
window: { tumbling: 1m }
groupBy: [geo]
aggregate: { n: count }
sink: { console: {} }
`;

test('with the default limits, a record nested 100,000 deep and one of 2 MiB are dead letters, and the run goes on', async () => {
  const plan = compileText(PIPELINE);
  const good = JSON.stringify({ ts: T0, geo: 'US' });
  const deep = `{"ts":${T0},"geo":"US","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  const large = JSON.stringify({ ts: T0, geo: 'US', pad: 'x'.repeat(2 * 1024 * 1024) });
  const payloads = [good, deep, large, good];
  const lines = Buffer.from(payloads.join('\n'));
  const ends: number[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (const p of payloads) {
    offsets.push(at);
    ends.push(at + p.length);
    at += p.length + 1;
  }
  for (const chunk of [
    { partition: 'text', offsets: [0, 1, 2, 3], payloads } satisfies Chunk,
    { partition: 'lines', offsets, payloads: [], lines: { bytes: lines, starts: offsets, ends } } satisfies Chunk,
  ]) {
    const { rows, deadLetters } = await runScripted(plan, [[chunk]]);
    assert.deepEqual(
      deadLetters.map((d) => [d.reason, d.offset, d.size, d.truncated, typeof d.payload === 'string' ? d.payload.length : -1]),
      [
        ['too-deep', chunk.offsets[1], undefined, undefined, deep.length],
        ['too-large', chunk.offsets[2], large.length, true, 1024],
      ],
    );
    assert.deepEqual(
      rows.map((r) => r.n),
      [2],
    );
  }
});

test('Kafka-style values back to back: two halves of one character are each not UTF-8', async () => {
  const plan = compileText(PIPELINE);
  const first = Buffer.concat([Buffer.from(`{"ts":${T0},"geo":"a`), Buffer.from([0xc3])]);
  const second = Buffer.concat([Buffer.from([0xa9]), Buffer.from(`{"ts":${T0},"geo":"b"}`)]);
  const third = Buffer.from(`{"ts":${T0},"geo":"\u00e9"}`);
  const bytes = Buffer.concat([first, second, third]);
  const ends = [first.length, first.length + second.length, bytes.length];
  const chunk: Chunk = {
    partition: 'k/0',
    offsets: [0, first.length, first.length + second.length],
    payloads: [],
    lines: { bytes, starts: [0, first.length, first.length + second.length], ends },
  };
  const { rows, deadLetters } = await runScripted(plan, [[chunk]]);
  assert.deepEqual(
    deadLetters.map((d) => [d.reason, d.offset, d.payloadEncoding, d.payload]),
    [
      ['invalid-utf8', 0, 'base64', first.toString('base64')],
      ['invalid-utf8', first.length, 'base64', second.toString('base64')],
    ],
  );
  assert.deepEqual(
    rows.map((r) => [r.geo, r.n]),
    [['\u00e9', 1]],
  );
});

test('an expression jsonata evaluates gets its time bound; $eval is not there to call', async () => {
  const loop = compileExpression('($f := function($n){ $n <= 0 ? 0 : $f($n - 1) }; $f(n))', { timeoutMs: 50 });
  assert.equal(await loop.evaluateAsync({ n: 10 }), 0);
  const started = Date.now();
  await assert.rejects(loop.evaluateAsync({ n: 1e12 }), { name: 'ExpressionRuntimeError', code: 'D1012' });
  assert.ok(Date.now() - started < 2000);
  await assert.rejects(compileExpression('$eval(rule)').evaluateAsync({ rule: '1 + 1' }), /never evaluated as expressions/);
});

test('the status line on a terminal shows the dead letters by reason', () => {
  let shown = '';
  const stream = { isTTY: true, write: (text: string) => ((shown += text), true) } as unknown as NodeJS.WriteStream;
  const stats: RunStats = {
    records: 120,
    batches: 3,
    deadLetters: { 'invalid-json': 2, 'too-large': 1, late: 5, 'expression-timeout': 1 },
    watermark: T0,
    startedAt: Date.now() - 1000,
    lastFlushMs: 1,
    lag: {},
  };
  new Progress(stream, silentLogger).update(stats);
  assert.match(shown, /dead-lettered 9 \(late 5, invalid-json 2, expression-timeout 1, too-large 1\)/);
});

test('each line of a chunk is judged UTF-8 or not exactly as on its own, back to back or newline-separated', async () => {
  const plan = compileText(PIPELINE);
  const piece = fc.oneof(
    fc.uint8Array({ maxLength: 5 }),
    fc.string({ unit: 'binary', maxLength: 4 }).map((s) => new Uint8Array(Buffer.from(s))),
    fc.constantFrom(Uint8Array.from([0xc3]), Uint8Array.from([0xa9]), Uint8Array.from([0xe2, 0x82]), Uint8Array.from([0xac])),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.array(piece, { minLength: 1, maxLength: 3 }).map((p) => Buffer.concat(p)),
        { minLength: 1, maxLength: 8 },
      ),
      fc.boolean(),
      async (values, separated) => {
        const parts: Buffer[] = [];
        const offsets: number[] = [];
        const ends: number[] = [];
        let at = 0;
        const kept = values.filter((v) => v.length > 0);
        for (const v of kept) {
          offsets.push(at);
          parts.push(v);
          at += v.length;
          ends.push(at);
          if (separated) {
            parts.push(Buffer.from('\n'));
            at += 1;
          }
        }
        const chunk: Chunk = { partition: 'p', offsets, payloads: [], lines: { bytes: Buffer.concat(parts), starts: offsets, ends } };
        const { deadLetters } = await runScripted(plan, [[chunk]]);
        const judged = deadLetters.filter((d) => d.reason === 'invalid-utf8').map((d) => d.offset);
        assert.deepEqual(
          judged,
          offsets.filter((_, i) => !isUtf8(kept[i])),
        );
      },
    ),
    { numRuns: 500 },
  );
});

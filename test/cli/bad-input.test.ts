/**
 * Every kind of bad record between good ones, through the CLI with the file and stdin sources:
 * each lands in the dead-letter file with its reason, partition, offset and payload, the run goes
 * on, and the good records' aggregates equal a reference computed here from those records alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
const T0 = Date.UTC(2026, 0, 1);
const LIMIT = 300;

type Expected = { good: true; record: Record<string, unknown>; spin?: boolean } | { reason: string; detail: RegExp; missingKey?: boolean };

interface Line {
  bytes: Buffer;
  expected: Expected;
}

const good = (record: Record<string, unknown>, text?: string): Line => ({
  bytes: Buffer.from(text ?? JSON.stringify(record)),
  expected: { good: true, record },
});
const bad = (text: string | Buffer, reason: string, detail: RegExp, missingKey = false): Line => ({
  bytes: typeof text === 'string' ? Buffer.from(text) : text,
  expected: { reason, detail, missingKey },
});
const imp = (ms: number, publisher: unknown, geo: unknown, bid: unknown, cookie: string, extra: Record<string, unknown> = {}) => ({
  ts: T0 + ms,
  publisher,
  geo,
  bid,
  cookie,
  ...extra,
});

const deep = (levels: number) =>
  `{"ts":${T0 + 9000},"publisher":"p1","geo":"US","bid":0.5,"cookie":"d","meta":${'{"a":'.repeat(levels - 1)}1${'}'.repeat(levels - 1)}}`;
const huge = `{"ts":${T0 + 9000},"publisher":"p1","geo":"US","bid":0.5,"pad":"${'é'.repeat(1_300_000)}"}`;

const LINES: Line[] = [
  good(imp(1000, 'p1', 'US', 0.5, 'c1')),
  bad(`{"ts": ${T0 + 1500}, "publisher": "p1" "geo": "US", "bid": 0.5}`, 'invalid-json', /Expected ',' or '}'/),
  good(imp(2000, 'p1', 'US', 0.25, 'c2')),
  bad(`{"ts": ${T0 + 2500}, "publisher": "p1", "ge`, 'invalid-json', /Unterminated string|Unexpected end/),
  bad(
    Buffer.from([0x00, 0x01, 0xff, 0xfe, 0x67, 0x61, 0x72, 0x62, 0x61, 0x67, 0x65, 0x80]),
    'invalid-utf8',
    /^not UTF-8 text: byte 0xFF at 2$/,
  ),
  bad('\u0007\u0008 not json at all', 'invalid-json', /Unexpected token|is not valid JSON/),
  bad(
    Buffer.concat([Buffer.from(`{"ts":${T0 + 2600},"publisher":"p1","geo":"Qu`), Buffer.from([0xe9]), Buffer.from('bec","bid":0.5}')]),
    'invalid-utf8',
    /^not UTF-8 text: byte 0xE9 at \d+$/,
  ),
  good(imp(3000, 'p\u00e9', '\u{1F1FA}\u{1F1F8}', 0.25, 'c\u0000x', { ключ: 'значение', '\u202eevil': '\u200d' })),
  bad(`[${JSON.stringify(imp(3100, 'p1', 'US', 0.5, 'c1'))}]`, 'not-an-object', /not an array/),
  bad('42', 'not-an-object', /not 42/),
  bad('"just text"', 'not-an-object', /not "just text"/),
  bad('null', 'not-an-object', /not null/),
  bad('   ', 'invalid-json', /Unexpected end/),
  bad(deep(9), 'too-deep', /nest deeper than limits.maxDepth \(8\)/),
  good(JSON.parse(deep(8)) as Record<string, unknown>, deep(8)),
  bad('['.repeat(140) + ']'.repeat(140), 'too-deep', /limits.maxDepth/),
  bad(
    `{"ts":${T0 + 4000},"publisher":"p1","geo":"US","bid":0.5,"pad":"${'x'.repeat(LIMIT)}"}`,
    'too-large',
    /^the record is 367 bytes, more than limits.maxRecordBytes \(300\)$/,
  ),
  bad(huge, 'too-large', /^the record is \d{7} bytes, more than limits.maxRecordBytes \(300\)$/),
  good(imp(5000, 'p2', 'DE', 0.125, 'c3')),
  bad(JSON.stringify(imp(5100, 'p2', 'DE', 'abc', 'c3')), 'invalid-value', /^total: bid is "abc", not a number$/),
  bad(JSON.stringify(imp(5200, 'p2', 'DE', true, 'c3')), 'invalid-value', /bid is true, not a number/),
  bad(JSON.stringify(imp(5300, 'p2', 'DE', { v: 1 }, 'c3')), 'invalid-value', /bid is \{"v":1\}, not a number/),
  bad(`{"ts":${T0 + 5400},"publisher":"p2","geo":"DE","bid":1e999}`, 'invalid-value', /bid is Infinity, not a number/),
  bad(
    JSON.stringify({ ...imp(0, 'p2', 'DE', 0.5, 'c3'), ts: 'yesterday' }),
    'invalid-time',
    /^`ts` is "yesterday", not a time \(format auto, years 1 to 9999\)$/,
  ),
  bad(JSON.stringify({ ...imp(0, 'p2', 'DE', 0.5, 'c3'), ts: true }), 'invalid-time', /`ts` is true/),
  bad(JSON.stringify({ ...imp(0, 'p2', 'DE', 0.5, 'c3'), ts: '2026-13-45T00:00:00Z' }), 'invalid-time', /2026-13-45/),
  bad(JSON.stringify({ ...imp(0, 'p2', 'DE', 0.5, 'c3'), ts: 1e20 }), 'invalid-time', /years 1 to 9999/),
  bad(
    JSON.stringify({ ...imp(0, 'p2', 'DE', 0.5, 'c3'), ts: '9000-01-01T00:00:00Z' }),
    'time-out-of-range',
    /^event time 9000-01-01T00:00:00.000Z is more than 1d ahead of the clock .*time.maxFuture$/,
  ),
  bad(
    JSON.stringify({ ...imp(0, 'p2', 'DE', 0.5, 'c3'), ts: 0 }),
    'time-out-of-range',
    /^event time 1970-01-01T00:00:00.000Z is more than 3650d behind the clock .*time.maxPast$/,
  ),
  bad(JSON.stringify({ publisher: 'p2', geo: 'DE', bid: 0.5, cookie: 'c3' }), 'missing-time', /no value at `ts`/),
  bad(JSON.stringify({ ...imp(0, 'p2', 'DE', 0.5, 'c3'), ts: null }), 'missing-time', /no value at `ts`/),
  bad(JSON.stringify(imp(6000, null, 'DE', 0.5, 'c4')), 'missing-key', /^group key `publisher` is null$/, true),
  bad(JSON.stringify({ ts: T0 + 6100, publisher: 'p2', bid: 0.5, cookie: 'c5' }), 'missing-key', /^group key `geo` is missing$/, true),
  {
    ...good(imp(7000, 'p1', 'US', 0.5, 'c9', { spin: 1e12 })),
    expected: { good: true, record: imp(7000, 'p1', 'US', 0.5, 'c9'), spin: true },
  },
  good(imp(8000, 'p1', 'US', 0.5, 'c10'), `{"ts":${T0 + 8000},"publisher":"p1","g\\u0065o":"US","bid":0.5,"cookie":"c10"}`),
  good(imp(8100, 'p1', '\ud800', 0.5, 'c11'), `{"ts":${T0 + 8100},"publisher":"p1","geo":"\\ud800","bid":0.5,"cookie":"c11"}`),
  good(imp(8200, 'p1', 'e\u0301', 0.5, 'c12')),
  good(imp(8300, 'p1', '\u00e9', 0.5, 'c13')),
  good(imp(70_000, 'p2', 'DE', 0.375, 'c3')),
  bad(JSON.stringify(imp(-20 * 60_000, 'p2', 'DE', 0.5, 'c3')), 'late', /is before its partition's watermark/),
  good(imp(71_000, 'p2', 'FR', 0.5, 'c6')),
];

function pipeline(dir: string, source: string, extra: string): string {
  const path = join(dir, 'p.yaml');
  writeFileSync(
    path,
    `name: bad-input
source: ${source}
batch: { interval: 200ms }
limits: { maxRecordBytes: ${LIMIT}, maxDepth: 8, expressionTimeout: 200ms }
time: { field: ts, maxOutOfOrder: 0s, allowedLateness: 10m, maxPast: 3650d }
window: { tumbling: 1m }
groupBy: [publisher, geo]
${extra}
aggregate:
  n: count
  total: { sum: bid }
  avgBid: { avg: bid }
  cookies: { distinct: cookie }
sink: { file: { path: ${join(dir, 'out.jsonl')} } }
deadLetter: { file: { path: ${join(dir, 'dead.jsonl')} } }
`,
  );
  return path;
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** The rows the good records give, computed directly from them. */
function reference(records: Record<string, unknown>[]): Record<string, unknown>[] {
  const groups = new Map<string, Record<string, unknown>[]>();
  for (const r of records) {
    const start = Math.floor((r.ts as number) / 60_000) * 60_000;
    const key = JSON.stringify([start, r.publisher ?? null, r.geo ?? null]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups].map(([key, members]) => {
    const [start, publisher, geo] = JSON.parse(key) as [number, unknown, unknown];
    const total = members.reduce((sum, r) => sum + (r.bid as number), 0);
    return {
      windowStart: new Date(start).toISOString(),
      windowEnd: new Date(start + 60_000).toISOString(),
      publisher,
      geo,
      n: members.length,
      total,
      avgBid: total / members.length,
      cookies: new Set(members.map((r) => r.cookie)).size,
    };
  });
}

const sorted = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).sort();

function offsets(lines: Line[]): number[] {
  let at = 0;
  return lines.map((l) => {
    const offset = at;
    at += l.bytes.length + 1;
    return offset;
  });
}

/** The dead letter each bad line must give, with its exact payload fields. */
function expectedDeadLetter(line: Line, partition: string, offset: number): Record<string, unknown> {
  const e = line.expected as Extract<Expected, { reason: string }>;
  const text = line.bytes.toString('utf8');
  const base = { reason: e.reason, partition, offset };
  if (e.reason === 'invalid-utf8') return { ...base, payload: line.bytes.toString('base64'), payloadEncoding: 'base64' };
  if (e.reason === 'too-large') {
    const size = line.bytes.length;
    // the first 1 KiB, cut at a character boundary
    let end = Math.min(1024, size);
    while (end < size && (line.bytes[end] & 0xc0) === 0x80) end--;
    return { ...base, payload: line.bytes.toString('utf8', 0, end), size, ...(size > 1024 ? { truncated: true } : {}) };
  }
  return { ...base, payload: text };
}

function checkDeadLetters(dead: Record<string, unknown>[], expected: { line: Line; offset: number }[], partition: string): void {
  assert.equal(dead.length, expected.length, JSON.stringify(dead.map((d) => [d.reason, d.offset])));
  dead.forEach((d, i) => {
    const { line, offset } = expected[i];
    const e = line.expected as Extract<Expected, { reason: string }>;
    const { detail, at, ...rest } = d;
    assert.deepEqual(rest, expectedDeadLetter(line, partition, offset), `dead letter ${i}`);
    assert.match(String(detail), e.detail, `dead letter ${i} (${e.reason})`);
    assert.ok(!Number.isNaN(Date.parse(String(at))));
  });
}

function countBy(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[item] = (out[item] ?? 0) + 1;
  return out;
}

test('file source: every kind of bad record is a dead letter with its reason, partition, offset and payload; the good ones are all counted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-bad-'));
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, Buffer.concat(LINES.flatMap((l) => [l.bytes, Buffer.from('\n')])));
  const r = spawnSync(process.execPath, [cli, 'run', pipeline(dir, `{ file: { path: ${input} } }`, 'missingKeys: deadLetter')], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr.slice(0, 2000));

  const at = offsets(LINES);
  const expectedDead = LINES.map((line, i) => ({ line, offset: at[i] })).filter(({ line }) => !('good' in line.expected));
  checkDeadLetters(jsonLines(readFileSync(join(dir, 'dead.jsonl'), 'utf8')), expectedDead, input);

  const goodRecords = LINES.flatMap((l) => ('good' in l.expected ? [l.expected.record] : []));
  assert.deepEqual(sorted(jsonLines(readFileSync(join(dir, 'out.jsonl'), 'utf8'))), sorted(reference(goodRecords)));

  // the counts by reason are in the logs: the first of each kind has a line, the final line has them all
  const logs = jsonLines(r.stderr);
  const byReason = countBy(expectedDead.map(({ line }) => (line.expected as { reason: string }).reason));
  const finished = logs.find((l) => l.msg === 'run finished')!;
  assert.equal(finished.records, LINES.length);
  assert.equal(finished.deadLetters, expectedDead.length);
  assert.deepEqual(finished.deadLettersByReason, byReason);
  const firsts = logs.filter((l) => String(l.msg).startsWith('first dead letter'));
  assert.deepEqual(firsts.map((l) => l.reason).sort(), Object.keys(byReason).sort());
});

test("stdin source, jsonata's evaluator and the default missingKeys: a runaway expression times out, missing keys group as null", () => {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-bad-'));
  // a tail-recursive loop as long as the record's `spin` says: a record with a huge one must not stall the run
  const filter = `filter: '($f := function($n){ $n <= 0 ? true : $f($n - 1) }; $f(spin ? spin : 0))'`;
  const started = Date.now();
  const r = spawnSync(process.execPath, [cli, 'run', pipeline(dir, '{ stdin: {} }', filter)], {
    input: Buffer.concat(LINES.flatMap((l) => [l.bytes, Buffer.from('\n')])),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr.slice(0, 2000));
  assert.ok(Date.now() - started < 20_000);

  const at = offsets(LINES);
  const dead = jsonLines(readFileSync(join(dir, 'dead.jsonl'), 'utf8'));
  const timedOut = LINES.findIndex((l) => 'spin' in l.expected && l.expected.spin);
  const timeout: Line = {
    bytes: LINES[timedOut].bytes,
    expected: { reason: 'expression-timeout', detail: /Evaluation timeout after 200 milliseconds/ },
  };
  // the timed-out record is a dead letter in its place among the others; missing keys are no dead letters
  const withTimeout = LINES.map((line, i) => ({ line: i === timedOut ? timeout : line, offset: at[i] })).filter(
    ({ line }) => !('good' in line.expected) && !line.expected.missingKey,
  );
  checkDeadLetters(dead, withTimeout, 'stdin');

  const counted = LINES.flatMap((l) => {
    if ('good' in l.expected) return l.expected.spin ? [] : [l.expected.record];
    return l.expected.missingKey ? [JSON.parse(l.bytes.toString()) as Record<string, unknown>] : [];
  });
  const rows = jsonLines(readFileSync(join(dir, 'out.jsonl'), 'utf8'));
  assert.deepEqual(sorted(rows), sorted(reference(counted)));
  assert.ok(rows.some((row) => row.publisher === null) && rows.some((row) => row.geo === null));
});

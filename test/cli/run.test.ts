import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { untilLogged } from '../helpers/child.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
const T0 = Date.UTC(2026, 0, 1);

function workDir(): string {
  return mkdtempSync(join(tmpdir(), 'runnel-run-'));
}

function pipeline(dir: string, source: string, sink: string, timeField = 'ts'): string {
  const path = join(dir, 'p.yaml');
  writeFileSync(
    path,
    `name: p
source: ${source}
batch: { interval: 200ms }
time: { field: ${timeField}, maxOutOfOrder: 0s }
filter: geo != "unknown"
window: { tumbling: 1m }
groupBy: [geo]
aggregate:
  n: count
  total: { sum: bid }
sink: ${sink}
deadLetter: { file: { path: ${join(dir, 'dead.jsonl')} } }
`,
  );
  return path;
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('file source to file sink: rows, and dead letters with their byte offsets', () => {
  const dir = workDir();
  const lines = [
    JSON.stringify({ ts: T0 + 1000, geo: 'US', bid: 0.5 }),
    '{"ts": broken',
    JSON.stringify({ ts: T0 + 2000, geo: 'US', bid: 0.25 }),
    JSON.stringify({ ts: T0 + 3000, geo: 'unknown', bid: 0.9 }),
    JSON.stringify({ ts: T0 + 61_000, geo: 'CA', bid: 1 }),
    '"just a string"',
  ];
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, lines.join('\n') + '\n');
  const out = join(dir, 'out.jsonl');
  const r = spawnSync(process.execPath, [cli, 'run', pipeline(dir, `{ file: { path: ${input} } }`, `{ file: { path: ${out} } }`)], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(jsonLines(readFileSync(out, 'utf8')), [
    { windowStart: '2026-01-01T00:00:00.000Z', windowEnd: '2026-01-01T00:01:00.000Z', geo: 'US', n: 2, total: 0.75 },
    { windowStart: '2026-01-01T00:01:00.000Z', windowEnd: '2026-01-01T00:02:00.000Z', geo: 'CA', n: 1, total: 1 },
  ]);
  const offsetOf = (i: number) => lines.slice(0, i).reduce((sum, l) => sum + Buffer.byteLength(l) + 1, 0);
  const dead = jsonLines(readFileSync(join(dir, 'dead.jsonl'), 'utf8'));
  assert.deepEqual(
    dead.map((d) => [d.reason, d.partition, d.offset, d.payload]),
    [
      ['invalid-json', input, offsetOf(1), lines[1]],
      ['not-an-object', input, offsetOf(5), lines[5]],
    ],
  );
  const finished = jsonLines(r.stderr).find((l) => l.msg === 'run finished')!;
  assert.equal(finished.records, 6);
  assert.deepEqual(finished.deadLettersByReason, { 'invalid-json': 1, 'not-an-object': 1 });
});

test('stdin source to the console sink (JSON lines when not a terminal)', () => {
  const dir = workDir();
  const input = [
    { ts: T0, geo: 'DE', bid: 0.125 },
    { ts: T0 + 5, geo: 'DE', bid: 0.125 },
  ]
    .map((r) => JSON.stringify(r))
    .join('\n');
  const r = spawnSync(process.execPath, [cli, pipeline(dir, '{ stdin: {} }', '{ console: {} }')], { input, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(jsonLines(r.stdout), [
    { windowStart: '2026-01-01T00:00:00.000Z', windowEnd: '2026-01-01T00:01:00.000Z', geo: 'DE', n: 2, total: 0.25 },
  ]);
});

test('follow: rows update as the file grows; SIGTERM finishes the batch and exits 0', async () => {
  const dir = workDir();
  const input = join(dir, 'growing.jsonl');
  writeFileSync(input, JSON.stringify({ ts: T0, geo: 'FR', bid: 0.5 }) + '\n');
  const out = join(dir, 'out.jsonl');
  const child = spawn(
    process.execPath,
    [cli, pipeline(dir, `{ file: { path: ${input}, follow: true } }`, `{ file: { path: ${out}, emit: updates } }`)],
    { stdio: 'ignore' },
  );
  const rows = () => {
    try {
      return jsonLines(readFileSync(out, 'utf8'));
    } catch {
      return [];
    }
  };
  const until = async (check: () => boolean) => {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      assert.ok(Date.now() < deadline, 'timed out');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  await until(() => rows().some((r) => r.n === 1));
  appendFileSync(input, JSON.stringify({ ts: T0 + 10, geo: 'FR', bid: 0.25 }) + '\n');
  await until(() => rows().some((r) => r.n === 2));
  child.kill('SIGTERM');
  const code = await new Promise((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 0);
  assert.deepEqual(rows().at(-1), {
    windowStart: '2026-01-01T00:00:00.000Z',
    windowEnd: '2026-01-01T00:01:00.000Z',
    geo: 'FR',
    n: 2,
    total: 0.75,
  });
});

test('SIGINT stops an endless generator cleanly and emits what it counted', async () => {
  const dir = workDir();
  const out = join(dir, 'out.jsonl');
  const child = spawn(
    process.execPath,
    [cli, pipeline(dir, '{ generator: { rate: 20000, startTime: now } }', `{ file: { path: ${out} } }`, 'timestamp')],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  await untilLogged(child, 'running');
  await new Promise((resolve) => setTimeout(resolve, 500));
  child.kill('SIGINT');
  const code = await new Promise((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 0, stderr);
  const finished = jsonLines(stderr).find((l) => l.msg === 'run finished')!;
  assert.equal(finished.ended, 'stopped');
  const counted = jsonLines(readFileSync(out, 'utf8')).reduce((sum, r) => sum + (r.n as number), 0);
  // every record read is counted, or filtered out as an unknown geo (about 5%)
  assert.ok(
    counted > 0.9 * (finished.records as number) && counted <= (finished.records as number),
    `${counted} of ${String(finished.records)}`,
  );
  assert.equal(finished.deadLetters, 0);
});

/**
 * Start-up against a bad environment: an unset variable, a broker or database that refuses
 * connections or accepts them and never answers. Each ends the run with a clear message within a
 * bounded time, a non-zero exit code, and no output written (an existing output file is untouched).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STOP_GRACE_MS } from '../../src/cli/run.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
/** The bound the issue sets for failing at start-up. */
const BOUND_MS = 30_000;

interface Outcome {
  code: number | null;
  stderr: string;
  ms: number;
}

function run(path: string, env: Record<string, string> = {}, input = ''): Promise<Outcome> {
  const started = Date.now();
  const child = spawn(process.execPath, [cli, 'run', path], { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  child.stdin.end(input);
  const killer = setTimeout(() => child.kill('SIGKILL'), BOUND_MS + 10_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr, ms: Date.now() - started });
    }),
  );
}

/** A server on loopback that accepts connections and never says a word. */
async function silentServer(): Promise<{ server: Server; address: string }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  return { server, address: `127.0.0.1:${(server.address() as { port: number }).port}` };
}

function setUp(source: string, sink: string): { dir: string; path: string; out: string; dead: string } {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-start-'));
  const out = join(dir, 'out.jsonl');
  const dead = join(dir, 'dead.jsonl');
  writeFileSync(out, 'rows of an earlier run\n');
  const path = join(dir, 'p.yaml');
  writeFileSync(
    path,
    `name: start\nsource: ${source}\nwindow: { tumbling: 1m }\naggregate: { n: count }\nsink: ${sink.replace('OUT', out)}\ndeadLetter: { file: { path: ${dead} } }\n`,
  );
  return { dir, path, out, dead };
}

function assertCleanFailure(outcome: Outcome, message: RegExp, files: { out: string; dead: string }): void {
  assert.notEqual(outcome.code, 0, outcome.stderr);
  assert.ok(outcome.ms < BOUND_MS, `took ${outcome.ms} ms`);
  const lines = outcome.stderr.trim().split('\n');
  // the reason is the last thing said, in one line
  assert.match(lines[lines.length - 1], message);
  assert.ok(!/^\s+at /m.test(outcome.stderr.replace(/"stack":"[^"]*"/g, '')), 'no stack trace for people');
  assert.equal(readFileSync(files.out, 'utf8'), 'rows of an earlier run\n');
  assert.equal(existsSync(files.dead), false);
}

const BAD_RECORD = '{not json\n';

test('an unset variable: located message, exit 1, nothing written', async () => {
  const files = setUp('{ kafka: { brokers: "${START_TEST_BROKERS}", topics: t, group: g } }', '{ file: { path: OUT } }');
  const outcome = await run(files.path);
  assertCleanFailure(outcome, /p\.yaml:2:\d+: error\[env-unset\]: environment variable START_TEST_BROKERS is not set/, files);
  assert.equal(outcome.code, 1);
});

test('a broker that refuses connections: message naming it, within the bound, nothing written', async () => {
  const files = setUp('{ kafka: { brokers: 127.0.0.1:1, topics: t, group: g, connectTimeout: 3s } }', '{ file: { path: OUT } }');
  assertCleanFailure(await run(files.path), /Kafka at 127\.0\.0\.1:1 .*ECONNREFUSED/, files);
});

test('a broker that accepts and never answers: message after connectTimeout, nothing written', async () => {
  const { server, address } = await silentServer();
  try {
    const files = setUp(`{ kafka: { brokers: "${address}", topics: t, group: g, connectTimeout: 3s } }`, '{ file: { path: OUT } }');
    const outcome = await run(files.path);
    assertCleanFailure(outcome, new RegExp(`Kafka at ${address} did not answer within 3 s`), files);
    assert.ok(outcome.ms < 10_000, `took ${outcome.ms} ms`);
  } finally {
    server.close();
  }
});

test('a database that refuses connections: message naming it, within the bound, no dead letters written', async () => {
  const files = setUp('{ stdin: {} }', '{ mongodb: { uri: "mongodb://127.0.0.1:1", database: d, collection: c, connectTimeout: 3s } }');
  assertCleanFailure(await run(files.path, {}, BAD_RECORD), /MongoDB d\.c at mongodb:\/\/127\.0\.0\.1:1 is not reachable/, files);
});

test('a database that accepts and never answers: message after connectTimeout', async () => {
  const { server, address } = await silentServer();
  try {
    const files = setUp('{ stdin: {} }', `{ mongodb: { uri: "mongodb://${address}", database: d, collection: c, connectTimeout: 3s } }`);
    const outcome = await run(files.path, {}, BAD_RECORD);
    assertCleanFailure(outcome, /MongoDB d\.c at mongodb:\/\/127\.0\.0\.1:\d+ is not reachable/, files);
    assert.ok(outcome.ms < 10_000, `took ${outcome.ms} ms`);
  } finally {
    server.close();
  }
});

test('a stop signal while start-up waits on a silent broker exits after the grace period, not the connect timeout', async () => {
  const { server, address } = await silentServer();
  try {
    const files = setUp(`{ kafka: { brokers: "${address}", topics: t, group: g, connectTimeout: 120s } }`, '{ file: { path: OUT } }');
    const started = Date.now();
    const child = spawn(process.execPath, [cli, 'run', files.path], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    assert.equal(code, 130, stderr);
    assert.match(stderr, /not stopped within 10 s: exiting now/);
    const ms = Date.now() - started;
    assert.ok(ms >= STOP_GRACE_MS && ms < STOP_GRACE_MS + 20_000, `took ${ms} ms`);
    assert.equal(readFileSync(files.out, 'utf8'), 'rows of an earlier run\n');
  } finally {
    server.close();
  }
});

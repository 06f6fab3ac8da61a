/**
 * Expressions that never finish: a run stops on its own with a located error after a few
 * timeouts in a row, honours a stop signal meanwhile, and keeps nothing of the batch it was in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_TIMEOUTS_IN_A_ROW } from '../../src/engine/processor.js';
import { RECURSION, runawayPipeline } from '../helpers/runaway.js';
import { untilLogged } from '../helpers/child.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
test('an expression that times out on record after record stops the run with its file:line:column, nothing stored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-runaway-'));
  const file = runawayPipeline(dir, '{ generator: { count: 1000 } }', '200ms');
  const started = Date.now();
  const r = spawnSync(process.execPath, [cli, 'run', file], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1, r.stderr);
  // the filter's value starts after `filter: '`
  const line =
    readFileSync(file, 'utf8')
      .split('\n')
      .findIndex((l) => l.startsWith('filter:')) + 1;
  const errors = r.stderr.split('\n').filter((l) => l.includes('"level":50'));
  assert.equal(errors.length, 1, r.stderr);
  const { msg } = JSON.parse(errors[0]) as { msg: string };
  assert.ok(
    msg.startsWith(
      `${file}:${line}:9: the expression \`${RECURSION}\` ran longer than limits.expressionTimeout (200ms) on ${MAX_TIMEOUTS_IN_A_ROW} records in a row`,
    ),
    msg,
  );
  assert.match(msg, /offsets 0, 1, 2\)/);
  assert.match(msg, /this batch stays uncommitted/);
  // the timeouts before the last belong to the batch that was not stored: no dead letter is written
  assert.equal(existsSync(join(dir, 'dead.jsonl')), false);
  assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
});

test('a stop signal ends a run whose every record runs out of time, storing what it had', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-runaway-'));
  // timeouts of 3 s: three in a row would take 9 s, so the signal comes first
  const file = runawayPipeline(dir, '{ generator: { count: 1000000 } }', '3s');
  const child = spawn(process.execPath, [cli, 'run', file], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // the first record's 3 s timeout runs from about here: the signal comes within it
  await untilLogged(child, 'running');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const signalled = Date.now();
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const tookMs = Date.now() - signalled;
  assert.equal(code, 0, stderr);
  assert.ok(tookMs < 30_000, `stopped ${tookMs} ms after SIGTERM`);
  assert.match(stderr, /"ended":"stopped"/);
  // the record in hand when the signal came was judged (a timeout) and its batch stored
  const dead = readFileSync(join(dir, 'dead.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { reason: string; offset: number });
  assert.deepEqual(
    dead.map((d) => [d.reason, d.offset]),
    [['expression-timeout', 0]],
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

function listening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      seen += text;
      const match = /serving the API, metrics and dashboard on (http:\/\/[0-9.:]+)/.exec(seen);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${seen}`)));
  });
}

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', resolve)));

test('runner serve: a folder of pipelines on 127.0.0.1, the dashboard, health and metrics; SIGTERM stops it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-serve-'));
  writeFileSync(
    join(dir, 'local.yaml'),
    'name: local\nsource: { generator: { count: 10 } }\nwindow: { tumbling: 1m, rollups: [1h] }\ngroupBy: [geo]\naggregate:\n  n: count\nsink: { console: {} }\n',
  );
  writeFileSync(join(dir, 'local.test.yaml'), 'not a pipeline: [');
  const child = spawn(process.execPath, [cli, 'serve', dir, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const url = await listening(child);
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const { pipelines } = (await (await fetch(`${url}/api/pipelines`)).json()) as {
    pipelines: { name: string; queryable: boolean; granularities: { label: string }[] }[];
  };
  assert.deepEqual(
    pipelines.map((p) => [p.name, p.queryable, p.granularities.map((g) => g.label)]),
    [['local', false, ['1m', '1h']]],
  );
  const page = await fetch(url);
  assert.match(await page.text(), /<title>Runnel dashboard<\/title>/);
  assert.match(await (await fetch(`${url}/vendor/uplot.js`)).text(), /uPlot/);
  assert.equal((await fetch(`${url}/healthz`)).status, 200);
  assert.match(await (await fetch(`${url}/metrics`)).text(), /# TYPE runnel_records_in_total counter/);
  child.kill('SIGTERM');
  assert.equal(await exitOf(child), 0);
});

test('runner serve: a pipeline that does not compile is reported, exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-serve-'));
  writeFileSync(
    join(dir, 'bad.yaml'),
    'name: bad\nsource: { generator: {} }\nwindow: { tumbling: 1m, rollups: [90s] }\naggregate: { n: count }\nsink: { console: {} }\n',
  );
  const child = spawn(process.execPath, [cli, 'serve', dir, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  assert.equal(await exitOf(child), 1);
  assert.match(stderr, /bad\.yaml:3:\d+: error\[invalid-value\]: rollup 90s is not a whole multiple of the window \(1m\)/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fingerprintOf } from '../../src/engine/meaning.js';
import { MAX_PIPELINE_BYTES } from '../../src/config/load.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

function runner(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'runnel-cli-')), name);
  writeFileSync(path, text);
  return path;
}

test('validate: exit 0 for valid files', () => {
  const r = runner(['validate', 'pipelines/impressions.yaml', 'pipelines/impressions-local.yaml']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, 'pipelines/impressions.yaml: valid\npipelines/impressions-local.yaml: valid\n');
});

test('validate: exit 1 and one located line per error', () => {
  const file = tempFile(
    'bad.yaml',
    'name: bad\nsource:\n  generator: {}\nwindow:\n  tumbling: 1m\nagregate:\n  n: count\nsink:\n  console: {}\n',
  );
  const r = runner(['validate', file]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stdout,
    `${file}:1:1: error[missing-key]: \`aggregate\` is missing at the top level (aggregate: Output name -> aggregation)\n` +
      `${file}:6:1: error[unknown-key]: unknown key \`agregate\` at the top level (did you mean \`aggregate\`?)\n` +
      `${file}: 2 errors\n`,
  );
});

test('validate --json reports files, validity and located diagnostics', () => {
  const file = tempFile(
    'bad.yaml',
    'name: bad\nsource:\n  generator: { count: many }\nwindow:\n  tumbling: 1m\naggregate:\n  n: count\nsink:\n  console: {}\n',
  );
  const r = runner(['validate', '--json', file, 'pipelines/impressions.yaml']);
  assert.equal(r.code, 1);
  const report = JSON.parse(r.stdout) as { file: string; valid: boolean; diagnostics: { code: string; line: number; col: number }[] }[];
  assert.deepEqual(
    report.map((f) => [f.file, f.valid, f.diagnostics.map((d) => [d.code, d.line, d.col])]),
    [
      [file, false, [['wrong-type', 3, 23]]],
      ['pipelines/impressions.yaml', true, []],
    ],
  );
});

test('validate: a missing file is an error, not a stack trace', () => {
  const r = runner(['validate', 'no/such/file.yaml']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, 'no/such/file.yaml: error[file-missing]: cannot read pipeline file: no such file\nno/such/file.yaml: 1 error\n');
  assert.equal(r.stderr, '');
});

test('validate: a file too large to be a pipeline, or nested too deeply to parse, is one located error', () => {
  const huge = tempFile('huge.yaml', `name: huge\ndescription: "${'x'.repeat(MAX_PIPELINE_BYTES)}"\n`);
  const big = runner(['validate', huge]);
  assert.equal(big.code, 1);
  assert.equal(
    big.stdout,
    `${huge}: error[file-too-large]: the pipeline file is ${MAX_PIPELINE_BYTES + 27} bytes, more than ${MAX_PIPELINE_BYTES} (1 MiB) (is this the pipeline, or a data file? records go in the source, not the pipeline)\n${huge}: 1 error\n`,
  );
  const deep = tempFile('deep.yaml', `name: deep\nx: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`);
  const nested = runner(['validate', deep]);
  assert.equal(nested.code, 1);
  assert.match(
    nested.stdout,
    /deep\.yaml:2:\d+: error\[yaml-syntax\]: YAML syntax: nested too deeply to read \(thousands of levels of brackets or indentation\)\n/,
  );
  assert.equal(nested.stderr, '');
});

test('usage errors exit 2', () => {
  assert.equal(runner(['validate']).code, 2);
  assert.equal(runner(['frobnicate', 'x', 'y']).code, 2);
  assert.equal(runner(['validate', '--bogus', 'x.yaml']).code, 2);
});

test('--help and --version', () => {
  const help = runner(['--help']);
  assert.equal(help.code, 0);
  for (const command of ['run', 'validate', 'explain']) assert.match(help.stdout, new RegExp(`\\n  ${command} `));
  const validateHelp = runner(['validate', '--help']);
  assert.equal(validateHelp.code, 0);
  assert.match(validateHelp.stdout, /--json/);
  const version = runner(['--version']);
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
});

test('explain prints every stage and never a secret', () => {
  const secret = 'hunter2-s3cr3t';
  const file = tempFile(
    'secret.yaml',
    [
      'name: secretive',
      'source:',
      '  kafka:',
      '    brokers: 127.0.0.1:9092',
      '    topics: t',
      '    group: g',
      '    sasl: { mechanism: plain, username: bob, password: "${KAFKA_PASSWORD}" }',
      'window:',
      '  tumbling: 1m',
      'groupBy: [geo]',
      'aggregate:',
      '  n: count',
      'sink:',
      '  mongodb: { uri: "mongodb://admin:${MONGO_PASSWORD}@db:27017", database: d, collection: c }',
    ].join('\n'),
  );
  const env = { KAFKA_PASSWORD: secret, MONGO_PASSWORD: secret };
  const text = runner(['explain', file], env);
  assert.equal(text.code, 0, text.stderr);
  const json = runner(['explain', '--json', file], env);
  assert.equal(json.code, 0, json.stderr);
  for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) assert.ok(!output.includes(secret), output);
  const stages = (
    JSON.parse(json.stdout) as { stages: { stage: string; details: { config: { sasl: { password: string }; uri: string } } }[] }
  ).stages;
  assert.deepEqual(
    stages.map((s) => s.stage),
    ['source', 'batch', 'decode', 'event time', 'window', 'keys', 'aggregates', 'sink', 'dead letters', 'meaning'],
  );
  assert.equal(stages[0].details.config.sasl.password, '***');
  assert.equal(stages[7].details.config.uri, 'mongodb://admin:***@db:27017');
});

test('explain of the canonical pipeline names the state each aggregate keeps', () => {
  const r = runner(['explain', '--json', 'pipelines/impressions.yaml']);
  assert.equal(r.code, 0, r.stderr);
  const stages = (JSON.parse(r.stdout) as { stages: { stage: string; details: Record<string, { state: string }> }[] }).stages;
  const aggregates = stages.find((s) => s.stage === 'aggregates')!.details;
  assert.deepEqual(Object.keys(aggregates), ['imps', 'uniques', 'avgBid']);
  assert.match(aggregates.uniques.state, /HyperLogLog/);
  const filter = stages.find((s) => s.stage === 'filter')!.details;
  assert.deepEqual(filter, { expression: 'geo != "unknown"', evaluation: 'compiled to JavaScript' });
});

test('explain shows the fingerprint of what stored states mean, in text and as a --json field', () => {
  const json = runner(['explain', '--json', 'pipelines/impressions.yaml']);
  assert.equal(json.code, 0, json.stderr);
  const plan = JSON.parse(json.stdout) as { fingerprint: string; stages: { stage: string; details: Record<string, string> }[] };
  const meaning = plan.stages.find((s) => s.stage === 'meaning')!.details;
  assert.equal(plan.fingerprint, fingerprintOf(meaning));
  // the facets themselves are test/engine/meaning.test.ts's business; here, that explain carries them all
  assert.deepEqual(Object.keys(meaning), [
    'window',
    'rollups',
    'time',
    'filter',
    'fields',
    'groupBy',
    'missingKeys',
    'aggregate.imps',
    'aggregate.uniques',
    'aggregate.avgBid',
  ]);
  assert.equal(meaning.window, 'tumbling 1m');
  const text = runner(['explain', 'pipelines/impressions.yaml']);
  assert.match(text.stdout, new RegExp(`meaning: fingerprint ${plan.fingerprint}: `));
});

test('logs: JSON lines when stderr is no terminal; pino-pretty lines with --log-format pretty or RUNNEL_LOG_FORMAT', () => {
  const file = tempFile(
    'logs.yaml',
    // event time, not the time of reading: three runs either side of a minute's end still give the same rows
    'name: logs\nsource: { generator: { count: 10 } }\ntime: { field: timestamp, format: epochMillis }\nwindow: { tumbling: 1m }\naggregate: { n: count }\nsink: { console: {} }\n',
  );
  const json = runner(['run', file]);
  assert.equal(json.code, 0, json.stderr);
  const records = json.stderr
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { msg: string; pipeline: string });
  assert.ok(records.some((r) => r.msg === 'running' && r.pipeline === 'logs'));
  for (const pretty of [runner(['--log-format', 'pretty', 'run', file]), runner(['run', file], { RUNNEL_LOG_FORMAT: 'pretty' })]) {
    assert.equal(pretty.code, 0, pretty.stderr);
    const lines = pretty.stderr.trim().split('\n');
    for (const line of lines) assert.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR): \S/);
    assert.ok(
      lines.some((line) => / INFO: running \{"pipeline":"logs",/.test(line)),
      pretty.stderr,
    );
    assert.equal(pretty.stdout, json.stdout, 'the rows are the same');
  }
  const wrong = runner(['--log-format', 'fancy', 'run', file]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /--log-format.*Allowed choices are auto, json, pretty/);
});

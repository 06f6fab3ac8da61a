/**
 * Credentials come only through environment interpolation and are never printed: a known secret
 * in the environment (a Kafka SASL password, a MongoDB password) is looked for in every output of
 * validate, explain, run and test, with debug logging on. Nothing listens except on loopback.
 * Record values are data, never code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileText, runScripted } from '../helpers/pipeline.js';
import { isLoopback, listeningAddresses } from '../helpers/listening.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

/** Secrets with characters that JSON escapes and URLs encode, so every printed form is looked for. */
const KAFKA_SECRET = 'Kafka"Secret\\w1th-@/%';
const MONGO_SECRET = 'Mongo@Secret/42';
const MONGO_SECRET_ENCODED = encodeURIComponent(MONGO_SECRET);
const FORMS = [
  KAFKA_SECRET,
  JSON.stringify(KAFKA_SECRET).slice(1, -1),
  MONGO_SECRET,
  MONGO_SECRET_ENCODED,
  JSON.stringify(MONGO_SECRET_ENCODED).slice(1, -1),
];
const ENV = {
  KAFKA_PASSWORD: KAFKA_SECRET,
  MONGO_PASSWORD: MONGO_SECRET_ENCODED,
  NUMERIC_PASSWORD: '8675309123',
  RUNNEL_LOG_LEVEL: 'debug',
};

function runner(args: string[], cwd: string, input?: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...ENV }, input, timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function assertNoSecret(output: string, what: string): void {
  for (const form of [...FORMS, ENV.NUMERIC_PASSWORD])
    assert.ok(!output.includes(form), `${what} printed a secret (${form}):\n${output.slice(0, 3000)}`);
}

const kafkaSource = (broker: string) => `
  kafka:
    brokers: ${broker}
    topics: t
    group: g
    connectTimeout: 2s
    sasl:
      mechanism: plain
      username: bob
      password: "\${KAFKA_PASSWORD}"`;
const mongoSink = `
  mongodb:
    uri: "mongodb://admin:\${MONGO_PASSWORD}@127.0.0.1:1/?authSource=admin"
    database: d
    collection: c
    connectTimeout: 2s`;

function pipeline(dir: string, name: string, source: string, sink: string, extra = ''): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    `name: ${name}\nsource:${source}\ntime: { field: ts }\nwindow: { tumbling: 1m }\ngroupBy: [geo]\naggregate: { n: count }\nsink:${sink}\ndeadLetter: { file: { path: ${join(dir, `${name}-dead.jsonl`)} } }\n${extra}`,
  );
  return path;
}

test('a known secret appears in no output of validate, explain, run or test, nor in logs or dead letters', () => {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-secret-'));
  const both = pipeline(dir, 'both', kafkaSource('127.0.0.1:1'), mongoSink);
  const kafkaOnly = pipeline(dir, 'kafka', kafkaSource('127.0.0.1:1'), '\n  console: {}');
  const mongoOnly = pipeline(dir, 'mongo', '\n  stdin: {}', mongoSink);
  const bad = join(dir, 'bad.yaml');
  // a numeric secret, unquoted, becomes a number: the type error must not show it
  writeFileSync(
    bad,
    readFileSync(kafkaOnly, 'utf8').replace('"${KAFKA_PASSWORD}"', '${NUMERIC_PASSWORD}').replace('topics: t', 'topics: 7'),
  );
  const testFile = join(dir, 'mongo.test.yaml');
  writeFileSync(
    testFile,
    'pipeline: mongo.yaml\ntests:\n  - name: t\n    input: ["{bad", { ts: 1767225600000, geo: US }]\n    expect: [{ geo: US, n: 2 }]\n',
  );

  for (const args of [
    ['validate', both, bad],
    ['validate', '--json', both, bad],
    ['explain', both],
    ['explain', '--json', both],
    ['explain', bad],
  ]) {
    const r = runner(args, dir);
    assertNoSecret(r.out, args.join(' '));
  }
  const badRun = runner(['run', bad], dir);
  assert.equal(badRun.code, 1);
  assert.match(badRun.out, /sasl\.password` should be a string, not the secret value \(not shown\)/);
  assertNoSecret(badRun.out, 'run (invalid)');

  const kafkaRun = runner(['run', kafkaOnly], dir);
  assert.notEqual(kafkaRun.code, 0);
  assert.match(kafkaRun.out, /Kafka at 127\.0\.0\.1:1/);
  assertNoSecret(kafkaRun.out, 'run kafka');
  const prettyRun = runner(['--log-format', 'pretty', 'run', kafkaOnly], dir);
  assert.match(prettyRun.out, /\] (ERROR|FATAL): .*Kafka at 127\.0\.0\.1:1/);
  assertNoSecret(prettyRun.out, 'run kafka, pretty logs');

  const mongoRun = runner(['run', mongoOnly], dir, '{"ts": 1767225600000, "geo": "US"}\n{broken\n');
  assert.notEqual(mongoRun.code, 0);
  assert.match(mongoRun.out, /mongodb:\/\/admin:\*\*\*@127\.0\.0\.1:1/);
  assertNoSecret(mongoRun.out, 'run mongodb');

  const testRun = runner(['test', testFile], dir);
  assertNoSecret(testRun.out, 'test');

  // whatever the runs wrote beside the pipelines (dead letters, outputs)
  for (const file of readdirSync(dir)) assertNoSecret(readFileSync(join(dir, file), 'utf8').replace(/\$\{[A-Z_]+\}/g, ''), file);
});

test('a running pipeline listens on nothing but loopback', { skip: !existsSync('/proc/self/net/tcp') && 'needs /proc' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-listen-'));
  const input = join(dir, 'in.jsonl');
  writeFileSync(input, '{"ts": 1767225600000, "geo": "US"}\n');
  const path = pipeline(dir, 'follow', `\n  file: { path: ${input}, follow: true }`, '\n  console: {}');
  const child = spawn(process.execPath, [cli, 'run', path], { stdio: 'ignore', env: { ...process.env, ...ENV } });
  try {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(child.exitCode, null, 'the pipeline should still be running');
    const addresses = listeningAddresses(child.pid!)!;
    assert.deepEqual(
      addresses.filter((a) => !isLoopback(a)),
      [],
      `listens beyond loopback: ${addresses.join(', ')}`,
    );
  } finally {
    child.kill('SIGKILL');
  }
});

test(
  'the listening check sees a socket bound to every interface',
  { skip: !existsSync('/proc/self/net/tcp') && 'needs /proc' },
  async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
    const loopback = createServer();
    await new Promise<void>((resolve) => loopback.listen(0, '127.0.0.1', resolve));
    try {
      const addresses = listeningAddresses(process.pid)!;
      const port = (server.address() as { port: number }).port;
      assert.ok(addresses.includes(`0.0.0.0:${port}`), addresses.join(', '));
      assert.ok(!isLoopback(`0.0.0.0:${port}`));
      assert.ok(isLoopback(`127.0.0.1:${(loopback.address() as { port: number }).port}`));
    } finally {
      server.close();
      loopback.close();
    }
  },
);

test('record values are data: code, expressions and __proto__ in records are grouped and counted as text', async () => {
  const plan = compileText(`
name: values
source: { stdin: {} }
filter: $exists(geo)
window: { tumbling: 1m }
groupBy: [geo, { upper: "$uppercase(geo)" }]
aggregate: { n: count, kinds: { distinct: kind } }
sink: { console: {} }
`);
  const hostile = [
    '$eval("1+1")',
    '"); process.exit(3); ("',
    '${HOME}',
    "geo != 'x'",
    '`rm -rf /`',
    '{{constructor.constructor("return process")()}}',
  ];
  const payloads = [
    ...hostile.map((geo) => JSON.stringify({ geo, kind: geo })),
    '{"geo": "proto", "__proto__": {"polluted": true}, "kind": {"__proto__": {"polluted": true}}}',
    '{"geo": "constructor", "constructor": {"prototype": {"polluted": true}}, "kind": "c"}',
  ];
  const { rows, deadLetters } = await runScripted(plan, [[{ partition: 'p', offsets: payloads.map((_, i) => i), payloads }]]);
  assert.deepEqual(deadLetters, []);
  assert.deepEqual(rows.map((r) => r.geo).sort(), [...hostile, 'proto', 'constructor'].sort());
  assert.ok(rows.every((r) => r.n === 1 && r.kinds === 1 && r.upper === String(r.geo).toUpperCase()));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
});

test('against the real servers (when the stack runs): what they answer to these credentials prints no secret', async (t) => {
  const { kafkaAvailable, kafkaBrokers, mongoAvailable, mongoUri } = await import('../helpers/stack.js');
  const [kafka, mongo] = await Promise.all([kafkaAvailable(), mongoAvailable()]);
  if (!kafka && !mongo) return t.skip('the stack is not running (scripts/stack up)');
  const dir = mkdtempSync(join(tmpdir(), 'runnel-secret-real-'));
  if (kafka) {
    // the broker speaks no SASL: the handshake fails with the broker's own words
    const path = pipeline(
      dir,
      'kafka-real',
      kafkaSource(kafkaBrokers()[0]).replace('connectTimeout: 2s', 'connectTimeout: 20s'),
      '\n  console: {}',
    );
    const r = runner(['run', path], dir);
    assert.notEqual(r.code, 0);
    assertNoSecret(r.out, 'run against Kafka');
  }
  if (mongo) {
    const host = new URL(mongoUri()).host;
    const sink = mongoSink
      .replace('127.0.0.1:1', host)
      .replace('database: d', 'database: runnel_secret_test')
      .replace('connectTimeout: 2s', 'connectTimeout: 10s');
    const path = pipeline(dir, 'mongo-real', '\n  stdin: {}', sink);
    const r = runner(['run', path], dir, '{"ts": 1767225600000, "geo": "US"}\n');
    assertNoSecret(r.out, 'run against MongoDB');
  }
  for (const file of readdirSync(dir)) assertNoSecret(readFileSync(join(dir, file), 'utf8').replace(/\$\{[A-Z_]+\}/g, ''), file);
});

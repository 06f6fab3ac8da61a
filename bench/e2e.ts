/**
 * `npm run bench:e2e`: N impressions (default 5,000,000) on a 6-partition Kafka topic, consumed by
 * the canonical pipeline (pipelines/impressions.yaml) into FerretDB, on the local stack
 * (scripts/stack up). Three runs, each with a fresh consumer group and database, report:
 * records/s until caught up, the runner's peak RSS, and the latency from a record produced after
 * the load to its window's document being visible in MongoDB. Medians are printed last.
 * BENCH_PROFILE=1 also writes a CPU profile of each runner to /tmp/runnel-e2e-prof; BENCH_PIPELINE runs
 * another pipeline file on the same topic (to compare settings).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';

const root = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
const count = Number(process.env.BENCH_RECORDS ?? 5_000_000);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const mongoUri = process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017';
const topic = `runnel-bench-${count}`;
const pipeline = process.env.BENCH_PIPELINE ?? 'pipelines/impressions.yaml';

function sh(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const result = spawnSync(command, args, { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed`);
  return result.stdout;
}

function peakRssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024);
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

sh('scripts/stack', ['up']);
const kafka = new Kafka({ clientId: 'runnel-bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const ends = async () => (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
if (!(await admin.listTopics()).includes(topic) || (await ends()) < count) {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  process.stdout.write(`producing ${count} impressions to ${topic} (6 partitions)\n`);
  // event time advances as fast as a busy ad network's: each batch touches one or two minutes of documents
  process.stdout.write(
    sh(
      process.execPath,
      [cli, 'produce', '--topic', topic, '--count', String(count), '--partitions', '6', '--events-per-second', '400000'],
      { ...process.env, KAFKA_BROKERS: brokers },
    ),
  );
}
const loaded = await ends();
const producer = kafka.producer();
await producer.connect();
const mongo = await new MongoClient(mongoUri).connect();

const results: { recordsPerSecond: number; peakRssMB: number; latencyMs: number }[] = [];
for (let run = 1; run <= runs; run++) {
  const id = `${Date.now().toString(36)}-${run}`;
  const group = `bench-${id}`;
  const database = `runnel_bench_${id.replace(/-/g, '_')}`;
  const env = {
    ...process.env,
    KAFKA_BROKERS: brokers,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP: group,
    MONGODB_URI: mongoUri,
    MONGODB_DATABASE: database,
    DEAD_LETTER_FILE: `/tmp/runnel-bench-dead-${id}.jsonl`,
    RUNNEL_LOG_LEVEL: 'warn',
  };
  // --cpu-prof is refused in NODE_OPTIONS: it goes on the command line
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/runnel-e2e-prof'] : [];
  const started = Date.now();
  const runner = spawn(process.execPath, [...profile, cli, 'run', pipeline], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  let peak = 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    if (runner.exitCode !== null) throw new Error(`the runner exited with code ${runner.exitCode} before catching up`);
    peak = Math.max(peak, peakRssMB(runner.pid!));
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const committed = offsets.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    if (committed >= loaded) break;
  }
  const seconds = (Date.now() - started) / 1000;

  process.stdout.write(`run ${run}: caught up with ${loaded} records in ${seconds.toFixed(1)} s\n`);
  // Latency: one more record, with a publisher of its own (its own document; event time now, within
  // time.maxFuture), from produce to its document in MongoDB.
  const marker = `bench-marker-${id}`;
  const producedAt = Date.now();
  await producer.send({
    topic,
    messages: [
      {
        value: JSON.stringify({
          timestamp: Date.now(),
          publisher: marker,
          advertiser: 'a',
          website: 'w',
          geo: 'US',
          bid: 0.5,
          cookie: 'c',
        }),
      },
    ],
  });
  const collection = mongo.db(database).collection('impsPerPubGeo');
  while (!(await collection.findOne({ publisher: marker }))) await new Promise((resolve) => setTimeout(resolve, 20));
  const latencyMs = Date.now() - producedAt;
  peak = Math.max(peak, peakRssMB(runner.pid!));
  runner.kill('SIGTERM');
  await new Promise((resolve) => runner.once('exit', resolve));
  await mongo.db(database).dropDatabase();

  const result = { recordsPerSecond: Math.round(loaded / seconds), peakRssMB: peak, latencyMs };
  results.push(result);
  process.stdout.write(
    `run ${run}: ${loaded} records in ${seconds.toFixed(1)} s = ${result.recordsPerSecond} records/s, peak RSS ${peak} MB, last record to MongoDB ${latencyMs} ms\n`,
  );
}
await producer.disconnect();
await admin.disconnect();
await mongo.close();
process.stdout.write(
  `median of ${runs}: ${median(results.map((r) => r.recordsPerSecond)).toLocaleString('en-US')} records/s, peak RSS ${median(results.map((r) => r.peakRssMB))} MB, ` +
    `latency ${median(results.map((r) => r.latencyMs))} ms (${loaded.toLocaleString('en-US')} records, 6 partitions, broker and database on this machine)\n`,
);

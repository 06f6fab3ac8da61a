/**
 * One run of bench:e2e's pipeline: a runner consumes a topic with a fresh consumer group into a
 * database until it has committed every record (or the time limit passes), measured as it goes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Admin, Producer } from 'kafkajs';
import type { Db, MongoClient } from 'mongodb';
import { bytesPerDoc, databasePids, peakRssMB, treeCpuSeconds, type DocSize } from './measure.js';
import { topicName, type TopicShape } from './shapes.js';
import { stateDocId } from '../../src/engine/store.js';

const MINUTE = 60_000;

export const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

/** The settings and connections every run shares. */
export interface Bench {
  count: number;
  brokers: string;
  mongoUri: string;
  pipeline: string;
  /** A run still catching up after this long is stopped and reported with what it committed. */
  timeoutMs: number;
  admin: Admin;
  producer: Producer;
  mongo: MongoClient;
}

/** What one run measured; records is absent where no records are read (`raw`). */
export interface RunResult {
  records?: number;
  seconds: number;
  /** Documents written, every level. */
  docs: number;
  dbCpuS: number;
  runnerCpuS: number;
  /** Absent for a run into preloaded collections, whose documents of earlier days would be most of it. */
  size?: DocSize;
  peakRssMB?: number;
  latencyMs?: number;
  /** Document writes over documents, every level (each write raises a document's version by one); absent for preloaded collections. */
  writesPerDoc?: number;
  /** Each batch's store time and the documents it wrote, in order (the runner's `batch stored` lines). */
  flushes?: Flush[];
  /** Set when the time limit stopped the run: what it says of the run. */
  timedOut?: string;
}

export function sh(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const result = spawnSync(command, args, { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed`);
  return result.stdout;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function topicEnds(admin: Admin, topic: string): Promise<number> {
  return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
}

/** The topic of `shape` with `count` records (6 partitions), produced unless it exists whole; returns its name and record count. */
export async function ensureTopic(
  bench: Bench,
  shape: TopicShape,
  count = bench.count,
  extra: string[] = [],
): Promise<{ topic: string; loaded: number }> {
  const topic = topicName(shape, count);
  if (!(await bench.admin.listTopics()).includes(topic) || (await topicEnds(bench.admin, topic)) < count) {
    await bench.admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    process.stdout.write(`producing ${count} impressions to ${topic} (6 partitions)\n`);
    const args = [cli, 'produce', '--topic', topic, '--count', String(count), '--partitions', '6', ...shape.produce, ...extra];
    process.stdout.write(sh(process.execPath, args, { ...process.env, KAFKA_BROKERS: bench.brokers }));
  }
  return { topic, loaded: await topicEnds(bench.admin, topic) };
}

/** The collections of a database that hold a sink's documents: the base collection and its levels, not the `.runnel_*` bookkeeping. */
export async function dataCollections(db: Db): Promise<string[]> {
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  // the base collection first: every level's name starts with it
  return names.filter((n) => !n.includes('.runnel_')).sort((a, b) => a.length - b.length || a.localeCompare(b));
}

export async function countDocs(db: Db): Promise<number> {
  let total = 0;
  for (const name of await dataCollections(db)) total += await db.collection(name).countDocuments({});
  return total;
}

/**
 * Documents and document writes in a database's data collections (a document's version counts its
 * writes), in one read of each: FerretDB reads a whole collection to count it anyway.
 */
async function countDocsAndWrites(db: Db): Promise<{ docs: number; writes: number }> {
  let docs = 0;
  let writes = 0;
  for (const name of await dataCollections(db)) {
    const versions = db.collection<{ _runnel?: { v?: number } }>(name).find({}, { projection: { '_runnel.v': 1 } });
    for await (const doc of versions) {
      docs++;
      writes += doc._runnel?.v ?? 0;
    }
  }
  return { docs, writes };
}

export interface Flush {
  ms: number;
  documents: number;
}

/**
 * The runner's log lines go on to stderr, but for its `batch stored` lines (debug), whose store
 * times and documents are collected into `flushes`.
 */
function collectFlushes(runner: ChildProcess, flushes: Flush[]): void {
  createInterface({ input: runner.stderr! }).on('line', (line) => {
    if (line.includes('"batch stored"')) {
      const entry = JSON.parse(line) as { flushMs?: number; documents?: number };
      if (typeof entry.flushMs === 'number' && typeof entry.documents === 'number')
        flushes.push({ ms: entry.flushMs, documents: entry.documents });
      return;
    }
    process.stderr.write(`${line}\n`);
  });
}

/** Waits (up to 5 minutes) until the database servers use under 5% of a core for two seconds in a row. */
async function databaseIdle(pids: readonly number[]): Promise<void> {
  for (let quiet = 0, waited = 0, last = treeCpuSeconds(pids); quiet < 2 && waited < 300; waited++) {
    await sleep(1000);
    const now = treeCpuSeconds(pids);
    quiet = now - last < 0.05 ? quiet + 1 : 0;
    last = now;
  }
}

async function committedRecords(admin: Admin, group: string, topic: string): Promise<number> {
  const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return offsets.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/**
 * Runs the pipeline over `topic` into `database` until it has committed `loaded` records or the
 * time limit passes; then, when it caught up, the latency of one more record (with a publisher
 * of its own, event time now) from produce to its document (found by its `_id`: a query on any
 * other field reads the whole collection on FerretDB). The documents written are counted, and
 * their size sampled, unless the database was `preloaded` (counting would read all of it: the
 * caller counts what it deletes after the run). The database is left as the run left it.
 */
export async function runPipeline(
  bench: Bench,
  run: { id: string; topic: string; loaded: number; database: string; preloaded?: boolean },
): Promise<RunResult> {
  const group = `bench-${run.id}`;
  const env = {
    ...process.env,
    KAFKA_BROKERS: bench.brokers,
    KAFKA_TOPIC: run.topic,
    KAFKA_GROUP: group,
    MONGODB_URI: bench.mongoUri,
    MONGODB_DATABASE: run.database,
    DEAD_LETTER_FILE: `/tmp/runnel-bench-dead-${run.id}.jsonl`,
    // debug for the `batch stored` lines (see collectFlushTimes); the runner logs little else at debug
    RUNNEL_LOG_LEVEL: 'debug',
    RUNNEL_LOG_FORMAT: 'json',
  };
  // --cpu-prof is refused in NODE_OPTIONS: it goes on the command line
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=/tmp/runnel-e2e-prof'] : [];
  const dbPids = databasePids();
  const dbCpuBefore = treeCpuSeconds(dbPids);
  const started = Date.now();
  const runner = spawn(process.execPath, [...profile, cli, 'run', bench.pipeline], {
    cwd: root,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const flushes: Flush[] = [];
  collectFlushes(runner, flushes);
  let peak = 0;
  let committed: number;
  let timedOut: string | undefined;
  for (;;) {
    await sleep(200);
    if (runner.exitCode !== null) throw new Error(`the runner exited with code ${runner.exitCode} before catching up`);
    peak = Math.max(peak, peakRssMB(runner.pid!));
    committed = await committedRecords(bench.admin, group, run.topic);
    if (committed >= run.loaded) break;
    if (Date.now() - started > bench.timeoutMs) {
      timedOut = `stopped after ${bench.timeoutMs / 1000} s with ${committed} of ${run.loaded} records committed`;
      break;
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const dbCpuS = treeCpuSeconds(dbPids) - dbCpuBefore;
  const runnerCpuS = treeCpuSeconds([runner.pid!]);
  peak = Math.max(peak, peakRssMB(runner.pid!));
  const stop = async () => {
    runner.kill('SIGTERM');
    await new Promise((resolve) => runner.once('exit', resolve));
  };
  if (timedOut) {
    // A runner stopped mid-store leaves commands running in FerretDB: dropping the database under
    // them crashed it (SIGBUS in SQLite's WAL), so wait until they are done.
    await stop();
    await databaseIdle(dbPids);
  }
  const db = bench.mongo.db(run.database);
  const base = (await dataCollections(db)).at(0);
  const counted = run.preloaded ? { docs: 0, writes: 0 } : await countDocsAndWrites(db);
  const docs = counted.docs;
  const writesPerDoc = docs === 0 ? undefined : counted.writes / docs;
  const size = run.preloaded ? undefined : base === undefined ? { bytesPerDoc: 0, claimBytesPerDoc: 0 } : await bytesPerDoc(db, base);
  process.stdout.write(
    `  ${timedOut ?? `caught up with ${run.loaded} records`} in ${seconds.toFixed(1)} s${run.preloaded ? '' : `, ${docs} documents written`}\n`,
  );

  // the store times of the run, not of the latency marker's batch after it (the line of the last
  // batch may follow its commit by a moment)
  await sleep(500);
  const storeTimes = flushes.slice();
  let latencyMs: number | undefined;
  if (!timedOut) {
    const marker = `bench-marker-${run.id}`;
    const producedAt = Date.now();
    const record = { timestamp: producedAt, publisher: marker, advertiser: 'a', website: 'w', geo: 'US', bid: 0.5, cookie: 'c' };
    await bench.producer.send({ topic: run.topic, messages: [{ value: JSON.stringify(record) }] });
    const collection = db.collection<{ _id: string }>(base ?? 'impsPerPubGeo');
    const _id = stateDocId(Math.floor(producedAt / MINUTE) * MINUTE, [marker, 'US']);
    while (!(await collection.findOne({ _id }))) await sleep(20);
    latencyMs = Date.now() - producedAt;
    peak = Math.max(peak, peakRssMB(runner.pid!));
    await stop();
  }
  const measured = { docs, dbCpuS, runnerCpuS, size, peakRssMB: peak, latencyMs, writesPerDoc, flushes: storeTimes };
  return { records: committed, seconds, ...measured, timedOut };
}

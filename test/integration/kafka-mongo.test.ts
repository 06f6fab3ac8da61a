/**
 * End to end against the real local stack (scripts/stack up): impressions produced to a
 * multi-partition Kafka topic, the canonical pipeline run as a separate process, and every
 * MongoDB document compared with a reference computed here from the same records.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Db } from 'mongodb';
import type { Admin } from 'kafkajs';
import { getAggregationKind } from '../../src/components/aggregations/index.js';
import { ImpressionGenerator, impressionDefaults, type Impression } from '../../src/components/sources/impressions.js';
import { kafkaBrokers, mongoUri, requireStack } from '../helpers/stack.js';
import { testKafka, waitForCaughtUp, waitForMember } from '../helpers/kafka.js';
import { groupBy } from '../helpers/reference.js';
import { decodeValue } from '../../src/components/sinks/mongodb-encoding.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
const RECORDS = 30_000;
const PARTITIONS = 3;
const SEED = 11;
const START = '2026-03-01T00:00:00Z';
const EVENTS_PER_SECOND = 100; // 300 s of event time: 6 one-minute windows
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const run = `${process.pid}-${Date.now().toString(36)}`;
const topic = `runnel-e2e-${run}`;
const database = `runnel_e2e_${run.replace(/-/g, '_')}`;
const workDir = mkdtempSync(join(tmpdir(), 'runnel-e2e-'));

function runnerEnv(group: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KAFKA_BROKERS: kafkaBrokers().join(','),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP: group,
    MONGODB_URI: mongoUri(),
    MONGODB_DATABASE: database,
    DEAD_LETTER_FILE: join(workDir, `${group}.dead.jsonl`),
    RUNNEL_LOG_LEVEL: 'warn',
    // small batches, so that a kill lands in the middle of the run
    BATCH_MAX_RECORDS: '2000',
  };
}

function startRunner(group: string): ChildProcess {
  const child = spawn(process.execPath, [cli, 'run', 'pipelines/impressions.yaml'], { cwd: root, env: runnerEnv(group), stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => process.stderr.write(`[runner ${group}] ${text}`));
  return child;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function expectedRecords(): Impression[] {
  const generator = new ImpressionGenerator({ ...impressionDefaults, seed: SEED, startTime: Date.parse(START), eventsPerSecond: EVENTS_PER_SECOND, jitterMs: 2000 });
  return Array.from({ length: RECORDS }, () => generator.next());
}

/** Every stored document equals the reference: exact counts, avgBid to 1e-9, uniques equal to an HLL of the same cookies. */
async function assertMatchesReference(db: Db, records: Impression[]): Promise<void> {
  const kept = records.filter((r) => r.geo !== 'unknown');
  const expected = groupBy(kept, (r) => `${Math.floor(r.timestamp / MINUTE) * MINUTE}|${r.publisher}|${r.geo}`);
  const docs = await db.collection('impsPerPubGeo').find().toArray();
  assert.equal(docs.length, expected.size, 'one document per minute, publisher and geo');
  const hll = getAggregationKind('approxDistinct')!;
  for (const doc of docs) {
    const id = `${(doc.date as Date).getTime()}|${doc.publisher}|${doc.geo}`;
    const group = expected.get(id);
    assert.ok(group, `unexpected document ${id}`);
    assert.equal(doc.imps, group.length, id);
    const avg = group.reduce((s, r) => s + r.bid, 0) / group.length;
    assert.ok(Math.abs((doc.avgBid as number) - avg) <= 1e-9, `${id}: avgBid ${doc.avgBid} vs ${avg}`);
    const direct = hll.create({});
    for (const r of group) direct.add(r.cookie, r.timestamp);
    assert.equal(doc.uniques, direct.result(), id);
  }
  // the rollup levels: unique cookies per hour and day are HLL merges, equal to an HLL of the whole period
  for (const [collection, size] of [['impsPerPubGeo_1h', HOUR], ['impsPerPubGeo_1d', DAY]] as const) {
    const periods = groupBy(kept, (r) => `${Math.floor(r.timestamp / size) * size}|${r.publisher}|${r.geo}`);
    const rolled = await db.collection(collection).find().toArray();
    assert.equal(rolled.length, periods.size, `${collection}: one document per period, publisher and geo`);
    for (const doc of rolled) {
      const id = `${(doc.date as Date).getTime()}|${doc.publisher}|${doc.geo}`;
      const group = periods.get(id);
      assert.ok(group, `${collection}: unexpected document ${id}`);
      assert.equal(doc.imps, group.length, `${collection} ${id}`);
      const avg = group.reduce((s, r) => s + r.bid, 0) / group.length;
      assert.ok(Math.abs((doc.avgBid as number) - avg) <= 1e-9, `${collection} ${id}: avgBid ${doc.avgBid} vs ${avg}`);
      const direct = hll.create({});
      for (const r of group) direct.add(r.cookie, r.timestamp);
      assert.equal(doc.uniques, direct.result(), `${collection} ${id}`);
      const stored = hll.deserialize(decodeValue(doc._runnel.states.uniques) as Uint8Array, {});
      assert.deepEqual(stored.serialize(), direct.serialize(), `${collection} ${id}: stored registers equal an HLL of the whole period`);
    }
  }
}

async function storedImpressions(db: Db): Promise<number> {
  const docs = await db.collection('impsPerPubGeo').find({}, { projection: { imps: 1 } }).toArray();
  return docs.reduce((sum, d) => sum + ((d.imps as number) ?? 0), 0);
}

const stack = await requireStack('kafka', 'mongodb');

describe('canonical pipeline: Kafka in, MongoDB out', stack, () => {
  let mongo: MongoClient;
  let db: Db;
  let admin: Admin;
  const records = expectedRecords();
  const kept = records.filter((r) => r.geo !== 'unknown').length;

  before(async () => {
    mongo = await new MongoClient(mongoUri()).connect();
    db = mongo.db(database);
    admin = testKafka().admin();
    await admin.connect();
    const produced = spawnSync(
      process.execPath,
      [cli, 'produce', '--topic', topic, '--count', String(RECORDS), '--partitions', String(PARTITIONS), '--seed', String(SEED), '--start-time', START, '--events-per-second', String(EVENTS_PER_SECOND), '--jitter', '2s'],
      { cwd: root, env: runnerEnv('producer'), encoding: 'utf8' },
    );
    assert.equal(produced.status, 0, produced.stderr);
    assert.match(produced.stdout, new RegExp(`produced ${RECORDS} records to ${topic}`));
  });

  after(async () => {
    await db?.dropDatabase().catch(() => undefined);
    await mongo?.close();
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
  });

  test('every document equals the reference, through a kill -9 and a restart', async () => {
    const group = `g1-${run}`;
    const first = startRunner(group);
    const deadline = Date.now() + 60_000;
    while ((await storedImpressions(db)) < kept / 4) {
      assert.ok(Date.now() < deadline, 'the runner stored nothing within 60 s');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    first.kill('SIGKILL');
    await exitOf(first);

    const stored = await storedImpressions(db);
    assert.ok(stored < kept, `the kill came after everything was stored (${stored} of ${kept}); it proves nothing`);
    const second = startRunner(group);
    await waitForMember(admin, group, 60_000);
    await waitForCaughtUp(admin, group, topic, 120_000);
    second.kill('SIGTERM');
    assert.equal(await exitOf(second), 0, 'SIGTERM stops the runner cleanly');
    assert.equal(await storedImpressions(db), kept);
    await assertMatchesReference(db, records);
  });

  test('a replay from earliest with a new consumer group counts nothing twice', async () => {
    const group = `g2-${run}`;
    const replay = startRunner(group);
    await waitForMember(admin, group, 60_000);
    await waitForCaughtUp(admin, group, topic, 120_000);
    replay.kill('SIGTERM');
    assert.equal(await exitOf(replay), 0);
    assert.equal(await storedImpressions(db), kept);
    await assertMatchesReference(db, records);
  });
});

/**
 * End to end against the real local stack (scripts/stack up): impressions produced to a
 * multi-partition Kafka topic, the canonical pipeline run as a separate process, and every
 * MongoDB document compared with a reference computed here from the same records.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import type { Admin } from 'kafkajs';
import { mongoUri, requireStack } from '../helpers/stack.js';
import { testKafka, waitForCaughtUp, waitForMember } from '../helpers/kafka.js';
import { E2eRun, referenceDifferences, storedImpressions, waitForStored } from '../helpers/e2e.js';

// 300 s of event time: 6 one-minute windows
const e2e = new E2eRun('e2e', { records: 30_000, seed: 11, start: '2026-03-01T00:00:00Z', eventsPerSecond: 100, partitions: 3 });

const stack = await requireStack('kafka', 'mongodb');

describe('canonical pipeline: Kafka in, MongoDB out', stack, () => {
  let db: Db;
  // undefined until before() sets them: after() cleans up what there is
  let mongo: MongoClient | undefined;
  let admin: Admin | undefined;
  const records = e2e.records();
  const kept = records.filter((r) => r.geo !== 'unknown').length;

  before(async () => {
    mongo = await new MongoClient(mongoUri()).connect();
    db = mongo.db(e2e.database);
    admin = testKafka().admin();
    await admin.connect();
    e2e.produceAll();
  });

  after(async () => {
    await mongo
      ?.db(e2e.database)
      .dropDatabase()
      .catch(() => undefined);
    await mongo?.close();
    await admin?.deleteTopics({ topics: [e2e.topic] }).catch(() => undefined);
    await admin?.disconnect();
  });

  test('every document equals the reference, through a kill -9 and a restart', async () => {
    const group = `g1-${e2e.topic}`;
    const first = e2e.startRunner(group);
    await waitForStored(db, kept / 4, 60_000);
    first.signal('SIGKILL');
    await first.exited();

    const stored = await storedImpressions(db);
    assert.ok(stored < kept, `the kill came after everything was stored (${stored} of ${kept}); it proves nothing`);
    const second = e2e.startRunner(group);
    await waitForMember(admin!, group, 60_000);
    await waitForCaughtUp(admin!, group, e2e.topic, 120_000);
    await second.stop();
    assert.equal(await storedImpressions(db), kept);
    assert.deepEqual(await referenceDifferences(db, records), []);
  });

  test('a replay from earliest with a new consumer group counts nothing twice', async () => {
    const group = `g2-${e2e.topic}`;
    const replay = e2e.startRunner(group);
    await waitForMember(admin!, group, 60_000);
    await waitForCaughtUp(admin!, group, e2e.topic, 120_000);
    await replay.stop();
    assert.equal(await storedImpressions(db), kept);
    assert.deepEqual(await referenceDifferences(db, records), []);
  });
});

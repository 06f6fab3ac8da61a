/**
 * A pipeline that changes under existing state, against the real stack: records A are stored by
 * one version of a pipeline, then records B are read by a changed version on the same consumer
 * group and collection. An added or renamed aggregate proceeds and marks what documents hold in
 * part; a changed group key or window size refuses to start, touching nothing.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Db, type Document } from 'mongodb';
import type { Admin } from 'kafkajs';
import { kafkaBrokers, mongoUri, requireStack } from '../helpers/stack.js';
import { testKafka, waitForCaughtUp } from '../helpers/kafka.js';
import { groupBy } from '../helpers/reference.js';
import { runnelOf } from '../helpers/stored.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const PUBLISHERS = ['p1', 'p2'];
const GEOS = ['US', 'CA', 'FR'];

interface Record {
  ts: number;
  publisher: string;
  geo: string;
  website: string;
  bid: number;
}

/** `count` records over the minutes [fromMinute, toMinute), bids chosen so that max and avg tell A from B. */
function records(count: number, fromMinute: number, toMinute: number, bidBase: number): Record[] {
  const span = (toMinute - fromMinute) * MINUTE;
  return Array.from({ length: count }, (_, i) => ({
    ts: T0 + fromMinute * MINUTE + Math.floor((i * span) / count),
    publisher: PUBLISHERS[i % PUBLISHERS.length],
    geo: GEOS[Math.floor(i / 2) % GEOS.length],
    website: `site${i % 4}`,
    bid: bidBase + (i % 7) / 10,
  }));
}

/** A (minutes 0-3) is read by the first version; B (minutes 2-5: two minutes old, two new) by the second. */
const A = records(600, 0, 4, 1);
const B = records(600, 2, 6, 5);

const stack = await requireStack('kafka', 'mongodb');

describe('a pipeline that changes under existing state (integration)', stack, () => {
  // undefined until before() sets them: after() cleans up what there is
  let mongo: MongoClient | undefined;
  let admin: Admin | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'runnel-changes-'));
  const unique = `${process.pid}-${Date.now().toString(36)}`;
  const topicA = `runnel-changes-a-${unique}`;
  const topicB = `runnel-changes-b-${unique}`;
  const databases: string[] = [];

  before(async () => {
    mongo = await new MongoClient(mongoUri()).connect();
    admin = testKafka().admin();
    await admin.connect();
    // one topic per half, so each version's run ends when its group has caught up on its topic
    produce(topicA, A);
    produce(topicB, B);
  });

  after(async () => {
    for (const database of databases)
      await mongo!
        .db(database)
        .dropDatabase()
        .catch(() => undefined);
    await mongo?.close();
    await admin?.deleteTopics({ topics: [topicA, topicB] }).catch(() => undefined);
    await admin?.disconnect();
  });

  function produce(topic: string, data: Record[]): void {
    const file = join(dir, `${topic}.jsonl`);
    writeFileSync(file, data.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const produced = spawnSync(process.execPath, [cli, 'produce', '--topic', topic, '--file', file, '--partitions', '2'], {
      env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(','), RUNNEL_LOG_LEVEL: 'warn' },
      encoding: 'utf8',
    });
    assert.equal(produced.status, 0, produced.stderr);
  }

  /** The pipeline, with `change` applied to its text; topics A and B are both subscribed, B empty for the first version. */
  function pipeline(database: string, group: string, topic: string, change: (text: string) => string = (t) => t): string {
    const text = `name: changes
source:
  kafka: { brokers: ${kafkaBrokers().join(',')}, topics: ${topic}, group: ${group}, start: earliest }
batch: { interval: 300ms }
time: { field: ts, maxOutOfOrder: 1s, allowedLateness: 1d }
window:
  tumbling: 1m
  rollups: [1h]
groupBy: [publisher, geo]
aggregate:
  imps: count
  avgBid: { avg: bid }
sink:
  mongodb: { uri: "${mongoUri()}", database: ${database}, collection: bids }
deadLetter: { file: { path: ${join(dir, 'dead.jsonl')} } }
`;
    const file = join(dir, `${group}-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, change(text));
    return file;
  }

  /** Runs a pipeline until its group has read all of `topic`, then stops it; returns its log. */
  async function runToEnd(file: string, group: string, topic: string): Promise<string> {
    const child = spawn(process.execPath, [cli, 'run', file], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, RUNNEL_LOG_LEVEL: 'info' },
    });
    let log = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (log += t));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await Promise.race([
      waitForCaughtUp(admin!, group, topic, 90_000),
      exited.then((code) => assert.fail(`runner exited with ${code} before catching up: ${log}`)),
    ]);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, log);
    return log;
  }

  /** Runs a pipeline expected to refuse to start; returns its log. */
  function refused(file: string): string {
    const run = spawnSync(process.execPath, [cli, 'run', file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 1, run.stderr);
    return run.stderr;
  }

  async function documents(db: Db, collection = 'bids'): Promise<Map<string, Document>> {
    const docs = await db.collection(collection).find().toArray();
    return new Map(docs.map((d) => [`${(d.windowStart as Date).getTime()}|${d.publisher}|${d.geo}`, d]));
  }

  /** Version 1 over A, into a fresh database; returns the database and the documents it stored. */
  async function storeA(name: string): Promise<{ db: Db; database: string; group: string; first: Map<string, Document> }> {
    const database = `runnel_changes_${name}_${unique.replace(/-/g, '_')}`;
    databases.push(database);
    const group = `changes-${name}-${unique}`;
    await runToEnd(pipeline(database, group, topicA), group, topicA);
    const db = mongo!.db(database);
    const first = await documents(db);
    assert.equal(first.size, 4 * PUBLISHERS.length * GEOS.length);
    return { db, database, group, first };
  }

  const windowOf = (r: Record, periodMs = MINUTE) => `${Math.floor(r.ts / periodMs) * periodMs}|${r.publisher}|${r.geo}`;

  test('an added aggregate proceeds with one warning; documents written before say from which offsets they hold it', async () => {
    const { db, database, group, first } = await storeA('added');
    const v2 = pipeline(database, group, topicB, (t) =>
      t.replace('  avgBid: { avg: bid }', '  avgBid: { avg: bid }\n  maxBid: { max: bid }'),
    );
    const log = await runToEnd(v2, group, topicB);
    const warnings = log.split('\n').filter((l) => l.includes('is new to'));
    assert.equal(warnings.length, 1, log);
    assert.match(
      warnings[0],
      /aggregate `maxBid` is new to runnel_changes_added_\S+\.bids: documents written before hold it only for the records merged from now on/,
    );

    const counts = groupBy([...A, ...B], (r) => windowOf(r));
    const fromB = groupBy(B, (r) => windowOf(r));
    const docs = await documents(db);
    assert.equal(docs.size, counts.size);
    for (const [id, doc] of docs) {
      assert.equal(doc.imps, counts.get(id)!.length, id);
      const inB = fromB.get(id);
      const before = first.get(id);
      if (!inB) {
        // never rewritten: as version 1 left it
        assert.deepEqual(doc, before, id);
        continue;
      }
      assert.equal(doc.maxBid, Math.max(...inB.map((r) => r.bid)), id);
      if (before)
        assert.deepEqual(runnelOf(doc).partial, { maxBid: runnelOf(before).offsets }, `${id}: holds maxBid after the offsets it held then`);
      else assert.equal(runnelOf(doc).partial, undefined, `${id}: a window B opened holds maxBid whole`);
    }
    // the hour holds all of A and B, maxBid of B only, and says so
    const [hour] = await db.collection('bids_1h').find({ publisher: 'p1', geo: 'US' }).toArray();
    const hourRecords = [...A, ...B].filter((r) => r.publisher === 'p1' && r.geo === 'US');
    assert.equal(hour.imps, hourRecords.length);
    assert.equal(hour.maxBid, Math.max(...B.filter((r) => r.publisher === 'p1' && r.geo === 'US').map((r) => r.bid)));
    assert.deepEqual(Object.keys(runnelOf(hour).partial!), ['maxBid']);
  });

  test('a renamed aggregate proceeds, named a rename: the old state is dropped where documents are rewritten, the new one marked partial', async () => {
    const { db, database, group, first } = await storeA('renamed');
    const log = await runToEnd(
      pipeline(database, group, topicB, (t) => t.replace('avgBid:', 'meanBid:')),
      group,
      topicB,
    );
    assert.match(
      log,
      /`avgBid` -> `meanBid` looks like a rename: to keep the history, keep the aggregate's name and store it under the new field with sink\.document \(`meanBid: avgBid`\)/,
    );
    assert.match(log, /aggregate `avgBid` is no longer computed/);
    const fromB = groupBy(B, (r) => windowOf(r));
    for (const [id, doc] of await documents(db)) {
      const inB = fromB.get(id);
      if (!inB) continue;
      assert.equal(runnelOf(doc).states.avgBid, undefined, id);
      const mean = inB.reduce((sum, r) => sum + r.bid, 0) / inB.length;
      assert.ok(Math.abs(doc.meanBid - mean) < 1e-9, `${id}: meanBid ${doc.meanBid}, expected ${mean}`);
      assert.deepEqual(runnelOf(doc).partial, first.has(id) ? { meanBid: runnelOf(first.get(id)!).offsets } : undefined, id);
    }
  });

  for (const [what, change, expected] of [
    [
      'a changed group key',
      (t: string) => t.replace('groupBy: [publisher, geo]', 'groupBy: [publisher, website]'),
      /groupBy: publisher, geo -> publisher, website/,
    ],
    [
      'a changed window size',
      (t: string) => t.replace('tumbling: 1m', 'tumbling: 5m').replace('rollups: [1h]', 'rollups: [1h]'),
      /window: tumbling 1m -> tumbling 5m/,
    ],
  ] as const) {
    test(`${what} refuses to start, says what changed and the ways out, and touches nothing`, async () => {
      const { db, database, group, first } = await storeA(what.split(' ').pop()!);
      const log = refused(pipeline(database, group, topicB, change));
      assert.match(log, expected);
      assert.match(log, /merging into them would mix the two/);
      assert.match(log, /Ways out: write to a new collection \(sink\.mongodb\.collection\) with a new consumer group/);
      assert.deepEqual(await documents(db), first);
      const [committed] = await admin!.fetchOffsets({ groupId: group, topics: [topicB] });
      assert.deepEqual(
        committed.partitions.map((p) => p.offset),
        ['-1', '-1'],
        'nothing of B committed',
      );
      // the first way out: a new collection and a new group take the changed pipeline, from the topic's start
      const fresh = `${group}-v2`;
      await runToEnd(
        pipeline(database, fresh, topicB, (t) => change(t).replace('collection: bids', 'collection: bids_v2')),
        fresh,
        topicB,
      );
      const v2 = await db.collection('bids_v2').find().toArray();
      assert.equal(
        v2.reduce((sum, d) => sum + (d.imps as number), 0),
        B.length,
      );
    });
  }
});

/**
 * Fault injection against the real local stack: the canonical pipeline runs as separate runner
 * processes while records are produced; each test injects one kind of fault (kill -9, scale-out
 * and scale-in, a stale runner, a database outage, a broker restart, SIGTERM mid-batch), lets the
 * runners catch up, and compares every MongoDB document with the reference computed from the
 * produced records. The difference must be exactly zero.
 *
 * The database-outage and broker-restart tests stop and start servers through scripts/stack, on
 * the stack the other tests use; `npm test` runs test files one at a time, so no other test sees it.
 */
import { describe, test, before, after, afterEach, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient, type Db, type Document } from 'mongodb';
import type { Admin } from 'kafkajs';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImpressionGenerator, type Impression } from '../../src/components/sources/impressions.js';
import { impressionDefaults } from '../../src/components/sources/generator.js';
import { mongoUri, requireStack, START_HINT } from '../helpers/stack.js';
import { RowTopicReader, testKafka, waitForCaughtUp, waitForMember } from '../helpers/kafka.js';
import { seededRandom } from '../helpers/reference.js';
import {
  ctrDifferences,
  ctrRowDifferences,
  CtrReference,
  differencesOf,
  E2eRun,
  referenceDifferences,
  root,
  stack,
  stackManaged,
  storedDocuments,
  type DataSet,
  type Runner,
} from '../helpers/e2e.js';

const START = '2026-03-02T00:00:00Z';
/** 400 records per second of event time: a data set spans a minute or two, so runners share every document. */
const data = (records: number, partitions: number, seed: number): DataSet => ({
  records,
  seed,
  start: START,
  eventsPerSecond: 400,
  partitions,
});
const CATCH_UP_MS = 180_000;

const available = await requireStack('kafka', 'mongodb');
const managed = available.skip === false && (await stackManaged());
// Stopping servers needs the stack started by scripts/stack; under CI=true it always is (.ci/run).
const serverFaults =
  managed || process.env.CI === 'true' ? available : { skip: `the servers are not managed by scripts/stack; ${START_HINT}` };

// undefined until before() sets them: after() cleans up what there is
let mongo: MongoClient | undefined;
let admin: Admin | undefined;
const runs: E2eRun[] = [];

function newRun(name: string, dataSet: DataSet): { run: E2eRun; db: Db } {
  const run = new E2eRun(name, dataSet);
  runs.push(run);
  return { run, db: mongo!.db(run.database) };
}

const start = (run: E2eRun, group: string, extra: NodeJS.ProcessEnv = {}): Runner => run.startRunner(group, extra);

/** What a fault test runs, and how its outcome is compared with the reference. */
interface Shape {
  /** Starts one runner of the pipeline in consumer group `group`. */
  start(run: E2eRun, group: string, extra?: NodeJS.ProcessEnv): Runner;
  /** The groups and the topics each must have committed to the end. */
  consumed(run: E2eRun, group: string): [string, string][];
  /** What is stored (and sent) against the reference, once the runners have stopped. */
  differences(run: E2eRun, db: Db): Promise<{ differences: string[]; counted: string }>;
}

/** The canonical pipeline: one topic into MongoDB. */
const IMPRESSIONS: Shape = {
  start,
  consumed: (run, group) => [[group, run.topic]],
  differences: async (run, db) => ({ differences: await referenceDifferences(db, run.records()), counted: `${run.data.records}` }),
};

/**
 * pipelines/ctr.yaml: impressions and their clicks (produced up front) from two topics read by one
 * consumer group, into MongoDB and a Kafka topic; both are compared with the reference.
 */
const CTR: Shape = {
  start: (run, group, extra = {}) =>
    run.startRunner(group, { KAFKA_CLICKS_TOPIC: run.clicksTopic, KAFKA_CTR_TOPIC: run.rowTopic, ...extra }, 'pipelines/ctr.yaml'),
  consumed: (run, group) => [
    [group, run.topic],
    [group, run.clicksTopic],
  ],
  async differences(run, db) {
    const clicks = run.clicks();
    const stored = await ctrDifferences(db, run.records(), clicks);
    const { differences: sent, messages } = await rowTopicDifferences(run.rowTopic, new CtrReference(run.records(), clicks, 60_000));
    return { differences: [...stored, ...sent], counted: `${run.data.records} + ${clicks.length} clicks; ${messages} row messages` };
  },
};

/**
 * The row topic as a read_committed reader sees it: the latest version of each row equals the
 * reference, and no row ever shown counts a record twice (every version is at most the
 * reference). A killed runner's open transaction holds such readers back until the broker aborts
 * it (transactionTimeout), so this waits up to a minute for the rows to settle.
 */
async function rowTopicDifferences(topic: string, minutes: CtrReference): Promise<{ differences: string[]; messages: number }> {
  const reader = await RowTopicReader.start(topic);
  try {
    const deadline = Date.now() + 60_000;
    let differences: string[];
    do {
      await sleep(1000);
      differences = ctrRowDifferences('topic', reader.latest(), minutes);
    } while (differences.length > 0 && Date.now() < deadline);
    for (const { row, version } of reader.messages) {
      const id = minutes.idOf(row);
      const [imps, clicked] = [minutes.imps.get(id)?.length ?? 0, minutes.clicks.get(id)?.length ?? 0];
      if ((row.imps as number) > imps || (row.clicks as number) > clicked)
        differences.push(
          `topic ${id} version ${version}: ${String(row.imps)} imps, ${String(row.clicks)} clicks, over ${imps}, ${clicked}`,
        );
    }
    return { differences, messages: reader.messages.length };
  } finally {
    await reader.stop();
  }
}

/** Starts producing at `rate` records per second and waits until the topic exists. */
async function produceAtRate(run: E2eRun, rate: number): Promise<{ done: Promise<void> }> {
  const done = run.produceAtRate(rate);
  done.catch(() => undefined); // awaited by the test; a failure before that must not go unhandled
  await waitUntil(`topic ${run.topic} created`, 30_000, async () => {
    try {
      return (await admin!.fetchTopicOffsets(run.topic)).length === run.data.partitions;
    } catch {
      return false;
    }
  });
  return { done };
}

/** The sum over partitions of the group's committed offsets: how many records it has stored and committed. */
async function committed(group: string, topic: string): Promise<number> {
  const offsets = (await admin!.fetchOffsets({ groupId: group, topics: [topic] })).at(0);
  return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

async function committedByPartition(group: string, topic: string): Promise<Map<number, number>> {
  const offsets = (await admin!.fetchOffsets({ groupId: group, topics: [topic] })).at(0);
  return new Map((offsets?.partitions ?? []).map((p) => [p.partition, Math.max(0, Number(p.offset))]));
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(250);
  }
}

const waitForCommitted = (group: string, topic: string, atLeast: number, timeoutMs = 90_000) =>
  waitUntil(`group ${group} committing ${atLeast} records`, timeoutMs, async () => (await committed(group, topic)) >= atLeast);

const waitForMembers = (group: string, count: number, timeoutMs = 60_000) =>
  waitUntil(`group ${group} stable with ${count} members`, timeoutMs, async () => {
    const described = (await admin!.describeGroups([group])).groups.at(0);
    return described?.state === 'Stable' && described.members.length === count;
  });

/**
 * Starts a runner, then `kills` times kills it with SIGKILL somewhere in the batch after the
 * group's next commit (reading, merging, claiming, settling or committing) and starts another;
 * returns the last one.
 */
async function killRepeatedly(run: E2eRun, group: string, kills: number, random: () => number, startRunner: () => Runner): Promise<Runner> {
  let runner = startRunner();
  for (let kill = 1; kill <= kills; kill++) {
    const before = await committed(group, run.topic);
    assert.ok(before < run.data.records, `kill ${kill} would come after everything was stored`);
    await waitForCommitted(group, run.topic, before + 1);
    await sleep(random() * 2500);
    runner.signal('SIGKILL');
    await runner.exited();
    runner = startRunner();
  }
  return runner;
}

/** Lets the runners finish the topic, stops them with SIGTERM and compares every document with the reference. */
async function finish(
  t: TestContext,
  run: E2eRun,
  db: Db,
  group: string,
  active: Runner[],
  fault: string,
  injections: number,
  shape = IMPRESSIONS,
): Promise<void> {
  for (const [g, topic] of shape.consumed(run, group)) {
    await waitForCaughtUp(admin!, g, topic, CATCH_UP_MS).catch((error: Error) => {
      throw new Error(`${error.message} (runner logs: ${active.map((r) => r.logFile).join(', ')})`);
    });
  }
  for (const runner of active) await runner.stop();
  const { differences, counted } = await shape.differences(run, db);
  t.diagnostic(`fault: ${fault}; injected ${injections}x; records produced ${counted}; difference ${differences.length}`);
  assert.deepEqual(differences, [], `${differences.length} documents or rows differ from the reference`);
}

describe('fault injection: every document equals the reference after', available, () => {
  before(async () => {
    mongo = await new MongoClient(mongoUri()).connect();
    admin = testKafka().admin();
    await admin.connect();
  });

  // a failed test leaves no process behind to slow down the next ones
  afterEach(() => runs.at(-1)?.killAll());

  after(async () => {
    if (managed)
      await stack('start', 'ferretdb')
        .then(() => stack('start', 'kafka'))
        .catch(() => undefined); // left running, whatever happened
    for (const run of runs) {
      await mongo
        ?.db(run.database)
        .dropDatabase()
        .catch(() => undefined);
      // one call each: a run without clicks has no clicks topic, and one unknown topic fails the call
      for (const topic of [run.topic, run.clicksTopic, run.rowTopic]) await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    }
    await admin?.disconnect();
    await mongo?.close();
  });

  test('kill -9 at random moments, ten times, while records keep arriving', async (t) => {
    const { run, db } = newRun('crash', data(20_000, 3, 21));
    const group = `crash-${run.topic}`;
    const random = seededRandom(5);
    // a kill costs the group its 10 s session timeout: the records arrive over the ten kills
    const producing = await produceAtRate(run, 150);
    const KILLS = 10;
    const runner = await killRepeatedly(run, group, KILLS, random, () => start(run, group, { BATCH_MAX_RECORDS: '1000' }));
    await producing.done;
    const stored = await committed(group, run.topic);
    assert.ok(stored < run.data.records, 'the last kill came before everything was committed');
    await waitForMember(admin!, group, 60_000);
    await finish(t, run, db, group, [runner], 'kill -9 and restart', KILLS);
  });

  test('two topics into two sinks (pipelines/ctr.yaml: MongoDB and a Kafka topic): kill -9 at random moments, three times', async (t) => {
    const { run, db } = newRun('ctr', data(12_000, 3, 31));
    run.produceClicks();
    const group = `ctr-${run.topic}`;
    const random = seededRandom(9);
    const producing = await produceAtRate(run, 150);
    const KILLS = 3;
    const runner = await killRepeatedly(run, group, KILLS, random, () => CTR.start(run, group, { BATCH_MAX_RECORDS: '1000' }));
    await producing.done;
    await finish(t, run, db, group, [runner], 'kill -9 and restart, two topics, two sinks', KILLS, CTR);
  });

  test('scale-out, two topics into two sinks: three runners on six partitions, one killed, a fourth started, all mid-run', async (t) => {
    const { run, db } = newRun('scale', data(24_000, 6, 22));
    run.produceClicks();
    const group = `scale-${run.topic}`;
    const producing = await produceAtRate(run, 400);
    const active = [0, 1, 2].map(() => CTR.start(run, group));
    await waitForMembers(group, 3);
    await waitForCommitted(group, run.topic, 4000);
    const killed = active.shift()!;
    killed.signal('SIGKILL');
    await killed.exited();
    // its partitions move to the other two once its session expires
    await waitForMembers(group, 2);
    const afterKill = await committed(group, run.topic);
    await waitForCommitted(group, run.topic, afterKill + 2000);
    active.push(CTR.start(run, group));
    await waitForMembers(group, 3);
    await producing.done;
    await finish(t, run, db, group, active, 'scale-out, two topics, two sinks (kill one of three, start a fourth)', 2, CTR);
  });

  test('a stale runner, two topics into two sinks: stopped until the group moves its partitions, then continued', async (t) => {
    const { run, db } = newRun('stale', data(24_000, 6, 23));
    run.produceClicks();
    const group = `stale-${run.topic}`;
    const producing = await produceAtRate(run, 400);
    const active = [0, 1, 2].map(() => CTR.start(run, group, { RUNNEL_LOG_LEVEL: 'info' }));
    await waitForMembers(group, 3);
    await waitForCommitted(group, run.topic, 4000);
    const [stale] = active;
    // in the middle of a batch: records arrive all the time and batches last up to 2 s
    await sleep(700);
    stale.signal('SIGSTOP');
    const from = stale.lines.length;
    await waitForMembers(group, 2);
    // the others write what it had in hand meanwhile
    const moved = await committed(group, run.topic);
    await waitForCommitted(group, run.topic, moved + 2000);
    stale.signal('SIGCONT');
    await waitForMembers(group, 3);
    await producing.done;
    const evidence = stale.logged(/offset commit refused|another writer stored|joined the consumer group/, from).length;
    t.diagnostic(`the stale runner logged ${evidence} commit refusals, overlaps or rejoins after SIGCONT`);
    await finish(t, run, db, group, active, 'stale runner, two topics, two sinks (SIGSTOP until its partitions moved, SIGCONT)', 1, CTR);
  });

  test('graceful stop: SIGTERM mid-batch stores and commits exactly what it read, three times', async (t) => {
    const { run, db } = newRun('sigterm', data(16_000, 3, 24));
    const group = `sigterm-${run.topic}`;
    const producing = await produceAtRate(run, 400);
    const random = seededRandom(6);
    const STOPS = 3;
    const snapshots: { offsets: Map<number, number>; docs: Document[] }[] = [];
    let runner = start(run, group, { BATCH_MAX_RECORDS: '1000' });
    for (let stop = 1; stop <= STOPS; stop++) {
      const before = await committed(group, run.topic);
      assert.ok(before < run.data.records, `SIGTERM ${stop} would come after everything was stored`);
      await waitForCommitted(group, run.topic, before + 1);
      await sleep(random() * 1500);
      await runner.stop();
      snapshots.push({ offsets: await committedByPartition(group, run.topic), docs: await storedDocuments(db) });
      runner = start(run, group, { BATCH_MAX_RECORDS: '1000' });
    }
    await producing.done;
    // after each stop the documents held exactly the records below the committed offsets:
    // nothing read before SIGTERM was lost, nothing past the commit was stored
    const records = run.records();
    const byPosition = await positions(run.topic, records);
    for (const [i, { offsets, docs }] of snapshots.entries()) {
      const upTo = records.filter((r) => byPosition.get(r)!.offset < (offsets.get(byPosition.get(r)!.partition) ?? 0));
      assert.deepEqual(differencesOf(docs, upTo), [], `after SIGTERM ${i + 1}, the documents hold exactly the committed records`);
    }
    await finish(t, run, db, group, [runner], 'SIGTERM mid-batch and restart', STOPS);
  });

  test(
    'a database outage of 20 s mid-run, two topics into two sinks: retries, commits nothing unwritten, catches up',
    serverFaults,
    async (t) => {
      const { run, db } = newRun('dbdown', data(16_000, 3, 25));
      run.produceClicks();
      const group = `dbdown-${run.topic}`;
      const producing = await produceAtRate(run, 400);
      const runner = CTR.start(run, group);
      await waitForCommitted(group, run.topic, 3000);
      await stack('stop', 'ferretdb');
      try {
        await sleep(3000); // a batch written just before the stop may still commit
        const during = await committed(group, run.topic);
        await sleep(17_000);
        assert.equal(await committed(group, run.topic), during, 'no offsets committed while the database is down');
      } finally {
        await stack('start', 'ferretdb');
      }
      assert.ok(runner.logged(/transient error; retrying/).length > 0, 'the runner retried');
      await producing.done;
      await finish(t, run, db, group, [runner], 'database stopped for 20 s, two topics, two sinks', 1, CTR);
    },
  );

  test('a broker restart mid-run, two topics into two sinks: the runner reconnects and catches up', serverFaults, async (t) => {
    const { run, db } = newRun('kafkadown', data(40_000, 3, 26));
    const group = `kafkadown-${run.topic}`;
    run.produceAll();
    run.produceClicks();
    // small batches: the run lasts long enough for the restart to land in its middle
    // info: a failure's log then shows the group joins and the consumer's restarts
    const runner = CTR.start(run, group, { BATCH_MAX_RECORDS: '500', RUNNEL_LOG_LEVEL: 'info' });
    await waitForCommitted(group, run.topic, 3000);
    await stack('stop', 'kafka');
    try {
      await sleep(5000);
    } finally {
      await stack('start', 'kafka');
    }
    assert.ok((await committed(group, run.topic)) < run.data.records, 'the restart came before the end');
    await finish(t, run, db, group, [runner], 'Kafka broker restarted, two topics, two sinks', 1, CTR);
  });

  // Determinism: a replay shaped as `runner produce --file` fills a topic (every partition spans
  // the whole event time) gives the rows and the dead letters a per-partition reference gives,
  // whether one runner reads it or several with kill -9, scale-out or a stale runner.

  test('determinism, one runner: a replay whose partitions each span 100 minutes gives the reference rows and dead letters', async (t) => {
    await replay(t, 'det-one', 41, 'one runner', async (begin) => [begin()]);
  });

  test('determinism, kill -9: two runners, one killed four times at random moments (the first half a second after it joined)', async (t) => {
    const random = seededRandom(42);
    await replay(t, 'det-kill', 42, 'two runners, one killed with kill -9 four times', async (begin, run, group) => {
      const stays = begin();
      let killed = begin();
      await waitForMembers(group, 2);
      await sleep(500);
      let kills = 0;
      for (; kills < 4 && (await committed(group, run.topic)) < run.data.records; kills++) {
        killed.signal('SIGKILL');
        await killed.exited();
        killed = begin();
        await sleep(1000 + random() * 4000);
      }
      t.diagnostic(`killed ${kills} times before the group had committed every record`);
      assert.ok(kills >= 2, 'the kills came mid-run');
      return [stays, killed];
    });
  });

  test('determinism, scale-out: three runners, one killed, a fourth started, all mid-run', async (t) => {
    await replay(t, 'det-scale', 43, 'three runners, one killed, a fourth started', async (begin, run, group) => {
      const active = [begin(), begin(), begin()];
      await waitForMembers(group, 3);
      await waitForCommitted(group, run.topic, 3000);
      const killed = active.shift()!;
      killed.signal('SIGKILL');
      await killed.exited();
      active.push(begin());
      return active;
    });
  });

  test('determinism, a stale runner: stopped until the group moves its partitions, then continued', async (t) => {
    await replay(
      t,
      'det-stale',
      44,
      'three runners, one stopped (SIGSTOP) until its partitions moved, then continued',
      async (begin, run, group) => {
        const active = [begin(), begin(), begin()];
        await waitForMembers(group, 3);
        await waitForCommitted(group, run.topic, 3000);
        active[0].signal('SIGSTOP');
        await waitForMembers(group, 2);
        await sleep(2000);
        active[0].signal('SIGCONT');
        // back in the group, it has dropped what it fetched for the partitions it lost
        await waitForMembers(group, 3);
        return active;
      },
    );
  });
});

/** The replay of the determinism tests: 12,000 impressions over 100 minutes, a few of them minutes late. */
const REPLAY_RECORDS = 12_000;
const REPLAY_SPAN_MS = 100 * 60_000;
/** maxOutOfOrder plus allowedLateness of the replay's pipeline. */
const REPLAY_BOUND_MS = 2 * 60_000;

let replayData: { path: string; pipeline: string; records: Impression[] } | undefined;

/**
 * The replay's JSONL file and pipeline (pipelines/impressions.yaml with `maxOutOfOrder: 1m`): event
 * times up to 40 s out of order, and about one record in a hundred 3 to 10 minutes behind its
 * neighbours, late for any reader.
 */
function replayInput(): { path: string; pipeline: string; records: Impression[] } {
  if (replayData) return replayData;
  const dir = mkdtempSync(join(tmpdir(), 'runnel-replay-'));
  const random = seededRandom(40);
  const generator = new ImpressionGenerator({
    ...impressionDefaults,
    seed: 40,
    startTime: Date.parse(START),
    eventsPerSecond: REPLAY_RECORDS / (REPLAY_SPAN_MS / 1000),
    publishers: 8,
    geos: 5,
    jitterMs: 40_000,
  });
  const records = Array.from({ length: REPLAY_RECORDS }, () => {
    const record = generator.next();
    return random() < 0.01 ? { ...record, timestamp: record.timestamp - Math.floor(3 * 60_000 + random() * 7 * 60_000) } : record;
  });
  const path = join(dir, 'replay.jsonl');
  writeFileSync(path, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const pipeline = join(dir, 'replay.yaml');
  const canonical = readFileSync(join(root, 'pipelines/impressions.yaml'), 'utf8');
  assert.match(canonical, /maxOutOfOrder: 5s\n {2}allowedLateness: 1m\n/);
  writeFileSync(pipeline, canonical.replace('maxOutOfOrder: 5s', 'maxOutOfOrder: 1m'));
  return (replayData = { path, pipeline, records });
}

/**
 * Produces the replay into a topic of six partitions as `runner produce --file` does, runs the
 * runners `fault` starts (and returns, those still running) to the end, and compares the stored
 * documents of every level and the dead letters with the per-partition reference: each partition
 * read in offset order, a record late when it lies more than maxOutOfOrder + allowedLateness behind
 * the highest time counted before it in its partition.
 */
async function replay(
  t: TestContext,
  name: string,
  seed: number,
  fault: string,
  startRunners: (begin: () => Runner, run: E2eRun, group: string) => Promise<Runner[]>,
): Promise<void> {
  const input = replayInput();
  const { run, db } = newRun(name, { records: REPLAY_RECORDS, seed, start: START, eventsPerSecond: 0, partitions: 6 });
  run.produceFile(input.path);
  const group = `${name}-${run.topic}`;
  // info: a failure's log shows the joins and what each runner was handed
  // batches past maxRecords while a store runs, up to the pipeline's default: a replay's own shape
  const begin = () =>
    run.startRunner(group, { BATCH_MAX_RECORDS: '1000', BATCH_MAX_HELD_RECORDS: '10000000', RUNNEL_LOG_LEVEL: 'info' }, input.pipeline);
  const active = await startRunners(begin, run, group);
  await waitForCaughtUp(admin!, group, run.topic, CATCH_UP_MS).catch((error: Error) => {
    throw new Error(`${error.message} (runner logs: ${active.map((r) => r.logFile).join(', ')})`);
  });
  for (const runner of active) await runner.stop();

  const byPosition = await positions(run.topic, input.records);
  const byPartition = new Map<number, { record: Impression; offset: number }[]>();
  for (const [record, { partition, offset }] of byPosition) {
    const list = byPartition.get(partition) ?? [];
    byPartition.set(partition, list);
    list.push({ record, offset });
  }
  const late = new Set<string>();
  const counted: Impression[] = [];
  for (const [partition, list] of byPartition) {
    assert.ok(list.length > 1000, 'every partition holds records');
    let highest = -Infinity;
    for (const { record, offset } of list.sort((a, b) => a.offset - b.offset)) {
      if (record.geo === 'unknown') continue; // the pipeline's filter comes first
      if (record.timestamp < highest - REPLAY_BOUND_MS) late.add(`${run.topic}/${partition}@${offset}`);
      else {
        highest = Math.max(highest, record.timestamp);
        counted.push(record);
      }
    }
  }
  const spans = [...byPartition.values()].map(
    (list) => Math.max(...list.map((r) => r.record.timestamp)) - Math.min(...list.map((r) => r.record.timestamp)),
  );
  assert.ok(Math.min(...spans) > 0.95 * REPLAY_SPAN_MS, 'every partition spans the whole event time');
  assert.ok(late.size > 50, `the replay holds records late for any reader (${late.size})`);

  const written = existsSync(run.deadLetterFile(group)) ? readFileSync(run.deadLetterFile(group), 'utf8').split('\n').filter(Boolean) : [];
  const deadLetters = written.map((line) => JSON.parse(line) as { reason: string; partition: string; offset: number });
  assert.deepEqual(
    [...new Set(deadLetters.map((d) => d.reason))].filter((r) => r !== 'late'),
    [],
    'dead letters of other reasons',
  );
  const dead = [...new Set(deadLetters.map((d) => `${d.partition}@${d.offset}`))].sort();
  const differences = await referenceDifferences(db, counted);
  t.diagnostic(
    `fault: ${fault}; ${REPLAY_RECORDS} records over 100 minutes in 6 partitions; late by the reference ${late.size}; ` +
      `dead letters ${deadLetters.length} (${dead.length} records); documents differing ${differences.length}`,
  );
  assert.deepEqual(differences, [], `${differences.length} documents differ from the reference`);
  const missing = [...late].filter((id) => !dead.includes(id));
  const extra = dead.filter((id) => !late.has(id));
  assert.deepEqual(
    { missing: missing.slice(0, 10), extra: extra.slice(0, 10) },
    { missing: [], extra: [] },
    `${missing.length} late records not dead-lettered, ${extra.length} dead letters of records the reference counts`,
  );
}

/** Where each record landed in the topic, read back with a consumer of its own. */
async function positions(topic: string, records: readonly Impression[]): Promise<Map<Impression, { partition: number; offset: number }>> {
  const byText = new Map(records.map((r) => [JSON.stringify(r), r]));
  const found = new Map<Impression, { partition: number; offset: number }>();
  const consumer = testKafka().consumer({ groupId: `positions-${topic}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const done = new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachBatch: ({ batch }) => {
          for (const message of batch.messages) {
            const record = byText.get(message.value!.toString('utf8'));
            assert.ok(record, 'every message is one of the produced records');
            found.set(record, { partition: batch.partition, offset: Number(message.offset) });
          }
          if (found.size === records.length) resolve();
          return Promise.resolve();
        },
      })
      .catch(reject);
  });
  await Promise.race([
    done,
    sleep(60_000, undefined, { ref: false }).then(() => Promise.reject(new Error(`read back ${found.size} of ${records.length} records`))),
  ]);
  await consumer.disconnect();
  await admin!.deleteGroups([`positions-${topic}`]).catch(() => undefined);
  return found;
}

/**
 * End-to-end runs of the canonical pipeline against the local stack: generated impressions
 * produced to a Kafka topic by `runner produce`, runners started as separate processes, and every
 * stored MongoDB document compared with a reference computed here from the same records.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Db, Document } from 'mongodb';
import { getAggregationKind } from '../../src/components/aggregations/index.js';
import { ClickPicker, ImpressionGenerator, type Click, type Impression } from '../../src/components/sources/impressions.js';
import { generatorDefaults, impressionDefaults } from '../../src/components/sources/generator.js';
import { groupBy } from './reference.js';
import { decodeValue } from '../../src/components/mongodb/encoding.js';
import { kafkaBrokers, mongoUri } from './stack.js';
import { runnelOf } from './stored.js';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
const MINUTE = 60_000;

/** What `runner produce` generates: the same seed gives the same records here. */
export interface DataSet {
  records: number;
  seed: number;
  start: string;
  eventsPerSecond: number;
  partitions: number;
}

/** One topic and one database of its own, so tests never see each other's data. */
export class E2eRun {
  readonly topic: string;
  readonly database: string;
  private readonly workDir = mkdtempSync(join(tmpdir(), 'runnel-e2e-'));
  /** Every process started, so that a failed test leaves none behind (see killAll). */
  private readonly children: ChildProcess[] = [];

  /** The topic of the clicks on the impressions (pipelines/ctr.yaml), when a test produces it. */
  readonly clicksTopic: string;
  /** Where pipelines/ctr.yaml's Kafka sink sends its rows (KAFKA_CTR_TOPIC). */
  readonly rowTopic: string;

  constructor(
    name: string,
    readonly data: DataSet,
  ) {
    const run = `${name}-${process.pid}-${Date.now().toString(36)}`;
    this.topic = `runnel-${run}`;
    this.clicksTopic = `${this.topic}-clicks`;
    this.rowTopic = `${this.topic}-ctr`;
    this.database = `runnel_${run.replace(/-/g, '_')}`;
  }

  /** Where the runners of consumer group `group` write their dead letters. */
  deadLetterFile(group: string): string {
    return join(this.workDir, `${group}.dead.jsonl`);
  }

  /** Produces a JSONL file's lines, as `runner produce --file` spreads them over the topic's partitions. */
  produceFile(path: string): void {
    const args = [cli, 'produce', '--topic', this.topic, '--file', path, '--partitions', String(this.data.partitions)];
    const produced = spawnSync(process.execPath, args, { cwd: root, env: this.env('producer'), encoding: 'utf8' });
    assert.equal(produced.status, 0, produced.stderr);
    assert.match(produced.stdout, new RegExp(`produced ${this.data.records} records to ${this.topic}`));
  }

  env(group: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_BROKERS: kafkaBrokers().join(','),
      KAFKA_TOPIC: this.topic,
      KAFKA_GROUP: group,
      MONGODB_URI: mongoUri(),
      MONGODB_DATABASE: this.database,
      DEAD_LETTER_FILE: this.deadLetterFile(group),
      RUNNEL_LOG_LEVEL: 'warn',
      // small batches, so that a fault lands in the middle of the run
      BATCH_MAX_RECORDS: '2000',
      ...extra,
    };
    // and small while a store runs too, unless a test says otherwise
    env.BATCH_MAX_HELD_RECORDS ??= env.BATCH_MAX_RECORDS;
    return env;
  }

  private produceArgs(rate?: number): string[] {
    const { records, seed, start, eventsPerSecond, partitions } = this.data;
    const args = [cli, 'produce', '--topic', this.topic, '--count', String(records), '--partitions', String(partitions)];
    args.push('--seed', String(seed), '--start-time', start, '--events-per-second', String(eventsPerSecond), '--jitter', '2s');
    if (rate !== undefined) args.push('--rate', String(rate), '--batch-size', String(Math.max(1, Math.round(rate / 10))));
    return args;
  }

  /** Produces all the records at once, creating the topic. */
  produceAll(): void {
    const produced = spawnSync(process.execPath, this.produceArgs(), { cwd: root, env: this.env('producer'), encoding: 'utf8' });
    assert.equal(produced.status, 0, produced.stderr);
    assert.match(produced.stdout, new RegExp(`produced ${this.data.records} records to ${this.topic}`));
  }

  /** Produces the clicks on the records (`runner produce --stream clicks`) to clicksTopic, at once. */
  produceClicks(): void {
    const args = this.produceArgs().map((arg) => (arg === this.topic ? this.clicksTopic : arg));
    const produced = spawnSync(process.execPath, [...args, '--stream', 'clicks'], {
      cwd: root,
      env: this.env('producer'),
      encoding: 'utf8',
    });
    assert.equal(produced.status, 0, produced.stderr);
    assert.match(produced.stdout, new RegExp(`produced ${this.clicks().length} records to ${this.clicksTopic}`));
  }

  /** The clicks on the records, as `runner produce --stream clicks` makes them. */
  clicks(): Click[] {
    const picker = new ClickPicker(this.data.seed, generatorDefaults.clickRatio);
    return this.records().flatMap((impression) => picker.clickOn(impression) ?? []);
  }

  /** Produces all the records at `rate` per second in the background, creating the topic; resolves when done. */
  produceAtRate(rate: number): Promise<void> {
    const child = spawn(process.execPath, this.produceArgs(rate), {
      cwd: root,
      env: this.env('producer'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.push(child);
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
    return new Promise((resolve, reject) => {
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`runner produce exited with ${code}: ${output.slice(-2000)}`)),
      );
    });
  }

  /** The records produced, in the order the generator makes them. */
  records(): Impression[] {
    const { seed, start, eventsPerSecond, records } = this.data;
    const generator = new ImpressionGenerator({
      ...impressionDefaults,
      seed,
      startTime: Date.parse(start),
      eventsPerSecond,
      jitterMs: 2000,
    });
    return Array.from({ length: records }, () => generator.next());
  }

  startRunner(group: string, extra: NodeJS.ProcessEnv = {}, pipeline = 'pipelines/impressions.yaml'): Runner {
    const child = spawn(process.execPath, [cli, 'run', pipeline], {
      cwd: root,
      env: this.env(group, extra),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.children.push(child);
    const logFile = join(this.workDir, `runner-${this.children.length}-${child.pid}.log`);
    child.stderr.pipe(createWriteStream(logFile));
    return new Runner(child, group, logFile);
  }

  /** Kills every process of this run that is still running (also a stopped one). */
  killAll(): void {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

/** A runner process; its log lines are kept, its errors are echoed to the test's stderr. */
export class Runner {
  readonly lines: string[] = [];
  private readonly exit: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
    /** Everything the runner logged, for a failed test. */
    readonly logFile: string,
  ) {
    this.exit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    let partial = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        this.lines.push(line);
        // the runner's own errors; kafkajs logs every refused heartbeat of a rebalance as an error
        if ((/"level":(50|60)/.test(line) && !line.includes('"logger":"kafkajs"')) || !line.startsWith('{'))
          process.stderr.write(`[runner ${name}] ${line}\n`);
      }
    });
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  exited(): Promise<number | null> {
    return this.exit;
  }

  /** Stops the runner gracefully and asserts that it exits 0. */
  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    assert.equal(await this.exited(), 0, `runner ${this.name} stops cleanly on SIGTERM (log: ${this.logFile})`);
  }

  /** Log lines at or after index `from` whose message matches. */
  logged(message: RegExp, from = 0): string[] {
    return this.lines.slice(from).filter((line) => message.test(line));
  }
}

/** The impressions counted in the stored documents. */
export async function storedImpressions(db: Db): Promise<number> {
  const docs = await db
    .collection('impsPerPubGeo')
    .find({}, { projection: { imps: 1 } })
    .toArray();
  return docs.reduce((sum, d) => sum + ((d.imps as number | undefined) ?? 0), 0);
}

/** Polls until at least `count` impressions are stored. */
export async function waitForStored(db: Db, count: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stored = await storedImpressions(db);
    if (stored >= count) return stored;
    if (Date.now() > deadline) throw new Error(`only ${stored} of ${count} impressions stored after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The canonical pipeline's collections: minutes, and the hour and day rollups merged from them. */
const LEVELS = [
  { collection: 'impsPerPubGeo', periodMs: MINUTE },
  { collection: 'impsPerPubGeo_1h', periodMs: 60 * MINUTE },
  { collection: 'impsPerPubGeo_1d', periodMs: 24 * 60 * MINUTE },
] as const;

/**
 * Every way the stored documents of every level differ from the reference, one line each (none
 * when they are equal): a document missing or extra, imps not exactly the count, uniques not
 * exactly what an HLL built directly from the same cookies says (and its stored registers not
 * equal to that HLL's: an hour is the merge of its minutes, never a sum), avgBid off by more than 1e-9.
 */
export async function referenceDifferences(db: Db, records: readonly Impression[]): Promise<string[]> {
  const differences: string[] = [];
  for (const { collection, periodMs } of LEVELS) {
    const docs = await db.collection(collection).find().toArray();
    differences.push(...differencesOf(docs, records, periodMs).map((d) => `${collection} ${d}`));
  }
  return differences;
}

export function storedDocuments(db: Db): Promise<Document[]> {
  return db.collection('impsPerPubGeo').find().toArray();
}

/** How the documents of one level (periods of `periodMs`) differ from the reference; see referenceDifferences. */
export function differencesOf(docs: readonly Document[], records: readonly Impression[], periodMs = MINUTE): string[] {
  const kept = records.filter((r) => r.geo !== 'unknown');
  const expected = groupBy(kept, (r) => `${Math.floor(r.timestamp / periodMs) * periodMs}|${r.publisher}|${r.geo}`);
  const hll = getAggregationKind('approxDistinct')!;
  const differences: string[] = [];
  const seen = new Set<string>();
  for (const doc of docs) {
    const id = `${(doc.date as Date).getTime()}|${doc.publisher}|${doc.geo}`;
    seen.add(id);
    const group = expected.get(id);
    if (!group) {
      differences.push(`unexpected document ${id}`);
      continue;
    }
    if (doc.imps !== group.length) differences.push(`${id}: imps ${doc.imps}, expected ${group.length}`);
    const avg = group.reduce((s, r) => s + r.bid, 0) / group.length;
    if (!(Math.abs((doc.avgBid as number) - avg) <= 1e-9)) differences.push(`${id}: avgBid ${doc.avgBid}, expected ${avg}`);
    const direct = hll.create({});
    for (const r of group) direct.add(r.cookie, r.timestamp);
    if (doc.uniques !== direct.result()) differences.push(`${id}: uniques ${doc.uniques}, expected ${String(direct.result())}`);
    const stored = hll.deserialize(decodeValue(runnelOf(doc).states.uniques) as Uint8Array, {});
    if (!Buffer.from(stored.serialize() as Uint8Array).equals(Buffer.from(direct.serialize() as Uint8Array)))
      differences.push(`${id}: stored HLL registers differ from an HLL of the same cookies`);
  }
  for (const id of expected.keys()) if (!seen.has(id)) differences.push(`missing document ${id}`);
  return differences;
}

/**
 * How the documents of pipelines/ctr.yaml differ from the reference, every level: impressions and
 * clicks exactly their counts (unresolved geos dropped), ctr within 1e-12 of clicks over
 * impressions (null without impressions), uniques what an HLL of the impressions' cookies says.
 */
export async function ctrDifferences(db: Db, impressions: readonly Impression[], clicks: readonly Click[]): Promise<string[]> {
  const differences: string[] = [];
  for (const [collection, periodMs] of [
    ['ctrPerPubGeo', MINUTE],
    ['ctrPerPubGeo_1h', 60 * MINUTE],
    ['ctrPerPubGeo_1d', 24 * 60 * MINUTE],
  ] as const) {
    const docs = await db.collection(collection).find().toArray();
    differences.push(...ctrRowDifferences(collection, docs, new CtrReference(impressions, clicks, periodMs)));
  }
  return differences;
}

/** Impressions and clicks per window, publisher and geo, counted here from the produced records. */
export class CtrReference {
  readonly imps: Map<string, Impression[]>;
  readonly clicks: Map<string, Click[]>;
  readonly keys: Set<string>;

  constructor(
    impressions: readonly Impression[],
    clicks: readonly Click[],
    private readonly periodMs: number,
  ) {
    this.imps = groupBy(
      impressions.filter((r) => r.geo !== 'unknown'),
      (r) => this.key(r.timestamp, r.publisher, r.geo),
    );
    this.clicks = groupBy(
      clicks.filter((c) => c.geo !== 'unknown'),
      (c) => this.key(c.timestamp, c.publisher, c.geo),
    );
    this.keys = new Set([...this.imps.keys(), ...this.clicks.keys()]);
  }

  key(time: number, publisher: string, geo: string): string {
    return `${Math.floor(time / this.periodMs) * this.periodMs}|${publisher}|${geo}`;
  }

  /** The reference row of a stored or sent one (its date a Date or an ISO string), or undefined when none should exist. */
  idOf(row: Document): string {
    return this.key(new Date(row.date as Date | string).getTime(), row.publisher as string, row.geo as string);
  }
}

/**
 * Rows (documents, or messages of the row topic) against the reference: imps and clicks exact,
 * ctr to 1e-12, uniques (where the rows carry it) equal to a HyperLogLog of the same cookies.
 */
export function ctrRowDifferences(label: string, rows: readonly Document[], reference: CtrReference): string[] {
  const hll = getAggregationKind('approxDistinct')!;
  const differences: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const id = reference.idOf(row);
    seen.add(id);
    if (!reference.keys.has(id)) {
      differences.push(`${label} unexpected row ${id}`);
      continue;
    }
    const shown = reference.imps.get(id) ?? [];
    const c = reference.clicks.get(id)?.length ?? 0;
    if (row.imps !== shown.length) differences.push(`${label} ${id}: imps ${row.imps}, expected ${shown.length}`);
    if (row.clicks !== c) differences.push(`${label} ${id}: clicks ${row.clicks}, expected ${c}`);
    const ctr = shown.length === 0 ? null : c / shown.length;
    if (ctr === null ? row.ctr !== null : !(Math.abs((row.ctr as number) - ctr) <= 1e-12))
      differences.push(`${label} ${id}: ctr ${row.ctr}, expected ${ctr}`);
    if (!('uniques' in row)) continue;
    const direct = hll.create({});
    for (const r of shown) direct.add(r.cookie, r.timestamp);
    if (row.uniques !== direct.result()) differences.push(`${label} ${id}: uniques ${row.uniques}, expected ${String(direct.result())}`);
  }
  for (const id of reference.keys) if (!seen.has(id)) differences.push(`${label} missing row ${id}`);
  return differences;
}

const execFileAsync = promisify(execFile);

export async function stack(...args: string[]): Promise<void> {
  const kafkaPort = kafkaBrokers()[0]?.split(':').pop() ?? '9092';
  const mongoPort = new URL(mongoUri()).port || '27017';
  await execFileAsync(join(root, 'scripts/stack'), args, {
    env: { ...process.env, RUNNEL_KAFKA_PORT: kafkaPort, RUNNEL_MONGO_PORT: mongoPort },
    timeout: 180_000,
  });
}

/** Whether scripts/stack manages the servers the tests use, so that a test may stop and start them. */
export async function stackManaged(): Promise<boolean> {
  try {
    await stack('status');
    return true;
  } catch {
    return false;
  }
}

/**
 * The database of the `grown` shape: collections that already hold 1,000,000 documents of
 * earlier days, loaded once into `runnel_bench_grown_base` and reused by every run.
 *
 * Running the pipeline over 1,000,000 documents' worth of records would take hours on today's
 * store (FerretDB scans a collection for each statement). The documents are instead templated
 * from real ones: the pipeline itself writes 10 minutes of an earlier day (72 keys: 720 minute
 * documents, 72 hourly, 72 daily) into a template database, and each of those, per level and
 * key, is copied to every window of the days before the steady topic's event time, with its
 * `_id`, `date` and window bounds moved there and everything else (states, offsets, version,
 * and the claim the store keeps beside each document) as the runner wrote it. The base is what
 * a collection looks like after some ten days of the steady load.
 *
 * A run of steady writes only windows from EVENT_TIME_START on (and its latency marker, at the
 * time of the run), never the earlier days: after each run, `clear` deletes whatever lies at or
 * after EVENT_TIME_START, with its claims, and the fences and status the run left.
 */
import type { Db, Document } from 'mongodb';
import { EVENT_TIME_START, shapes } from './shapes.js';
import { countDocs, dataCollections, ensureTopic, runPipeline, type Bench } from './runs.js';

const BASE_DATABASE = 'runnel_bench_grown_base';
const TEMPLATE_DATABASE = 'runnel_bench_grown_template';
const TEMPLATE_RECORDS = 20_000;
const DAY = 86_400_000;
const INSERT_BATCH = 1000;
const LOADED_MARK = 'runnel_bench.loaded';

export interface GrownBase {
  database: string;
  docs: number;
  /** Deletes what a run wrote, keeping the earlier days; returns how many documents (every level) that was. */
  clear(): Promise<number>;
}

export async function grownBase(bench: Bench, docs: number): Promise<GrownBase> {
  const db = bench.mongo.db(BASE_DATABASE);
  const mark = await db.collection<{ _id: string; docs: number }>(LOADED_MARK).findOne({ _id: 'base' });
  if (mark?.docs !== docs) {
    await db.dropDatabase();
    await load(bench, db, docs);
    await db.collection<{ _id: string; docs: number }>(LOADED_MARK).insertOne({ _id: 'base', docs });
  }
  await clear(db); // what an interrupted run left
  // counted when loaded: counting again would read the whole collection on FerretDB
  const base = { database: BASE_DATABASE, docs, clear: () => clear(db) };
  process.stdout.write(`${BASE_DATABASE} holds ${base.docs} documents of earlier days\n`);
  return base;
}

async function clear(db: Db): Promise<number> {
  const later = { $gte: new Date(EVENT_TIME_START) };
  let deleted = 0;
  for (const name of await dataCollections(db)) {
    deleted += (await db.collection(name).deleteMany({ '_runnel.start': later })).deletedCount;
    await db.collection(`${name}.runnel_claims`).deleteMany({ 'doc._runnel.start': later });
    await db.collection(`${name}.runnel_fences`).deleteMany({});
    await db.collection(`${name}.runnel_status`).deleteMany({});
  }
  return deleted;
}

/** Real documents of each level, one per key, and the meaning record beside them. */
interface Template {
  levels: Map<string, { doc: Document; claimed: boolean }[]>;
  meaning: { collection: string; docs: Document[] };
}

/** The pipeline's own output over 10 minutes of the day before EVENT_TIME_START. */
async function template(bench: Bench): Promise<Template> {
  const db = bench.mongo.db(TEMPLATE_DATABASE);
  if ((await countDocs(db)) === 0) {
    const start = new Date(EVENT_TIME_START - DAY).toISOString();
    const shape = { tag: 'template-', produce: [...shapes.steady.topic!.produce, '--start-time', start, '--span', '10m'] };
    const { topic, loaded } = await ensureTopic(bench, shape, TEMPLATE_RECORDS);
    process.stdout.write(`writing the template documents into ${TEMPLATE_DATABASE}\n`);
    const id = `template-${Date.now().toString(36)}`;
    await runPipeline({ ...bench, timeoutMs: Infinity }, { id, topic, loaded, database: TEMPLATE_DATABASE });
  }
  const levels: Template['levels'] = new Map();
  for (const name of await dataCollections(db)) {
    // the latency marker's document has a key of its own and no place in earlier days
    const docs = await db
      .collection<{ _id: string; _runnel: { v: number } }>(name)
      .find({ _id: { $not: /bench-marker/ } })
      .toArray();
    const claims = new Set((await db.collection<{ _id: string }>(`${name}.runnel_claims`).find({}).toArray()).map((c) => c._id));
    const perKey = new Map<string, { doc: Document; claimed: boolean }>();
    for (const doc of docs) {
      const claimed = claims.has(`${doc._id}@${doc._runnel.v}`);
      if (!perKey.has(keyPart(doc._id))) perKey.set(keyPart(doc._id), { doc, claimed });
    }
    levels.set(name, [...perKey.values()]);
  }
  const collection = `${[...levels.keys()][0]}.runnel_meaning`;
  return { levels, meaning: { collection, docs: await db.collection(collection).find({}).toArray() } };
}

/** The key part of a document id `<window start>|<key JSON>`. */
const keyPart = (id: string): string => id.slice(id.indexOf('|'));

/** Inserts documents in batches as they come. */
class Inserter {
  private readonly pending = new Map<string, Document[]>();
  constructor(private readonly db: Db) {}

  async add(collection: string, doc: Document): Promise<void> {
    const batch = this.pending.get(collection) ?? [];
    this.pending.set(collection, batch);
    batch.push(doc);
    if (batch.length >= INSERT_BATCH) await this.flush(collection);
  }

  async flush(collection?: string): Promise<void> {
    for (const name of collection === undefined ? [...this.pending.keys()] : [collection]) {
      const batch = this.pending.get(name) ?? [];
      this.pending.set(name, []);
      if (batch.length > 0) await this.db.collection(name).insertMany(batch, { ordered: false });
    }
  }
}

/**
 * `docs` documents of the days before EVENT_TIME_START, newest day first, every level of a day
 * (its minutes, hours and the day itself, for each key), with the claim the store keeps beside
 * each document where the template's has one.
 */
async function load(bench: Bench, db: Db, docs: number): Promise<void> {
  const { levels, meaning } = await template(bench);
  const started = Date.now();
  await db.collection(meaning.collection).insertMany(meaning.docs);
  const inserter = new Inserter(db);
  let written = 0;
  for (let day = EVENT_TIME_START - DAY; written < docs; day -= DAY) {
    for (const [name, keyed] of levels) {
      for (const { doc, claimed } of keyed) {
        const { _id, ...body } = doc as { _id: string; _runnel: { start: Date; end: Date; v: number } };
        const size = body._runnel.end.getTime() - body._runnel.start.getTime();
        for (let start = day; start < day + DAY && written < docs; start += size, written++) {
          const id = `${start}${keyPart(_id)}`;
          const moved = {
            ...body,
            date: new Date(start),
            _runnel: { ...body._runnel, start: new Date(start), end: new Date(start + size) },
          };
          await inserter.add(name, { _id: id, ...moved });
          if (claimed)
            await inserter.add(`${name}.runnel_claims`, { _id: `${id}@${body._runnel.v}`, d: id, v: body._runnel.v, doc: moved });
        }
      }
    }
    process.stdout.write(`  ${written} of ${docs} documents of earlier days loaded (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
  }
  await inserter.flush();
}

/**
 * `npm run bench:db-ops`: what one database operation of Runnel's store costs as the collection grows.
 *
 * Against BENCH_MONGODB_URI (else MONGODB_URI, else mongodb://127.0.0.1:27017/), in a scratch database
 * (BENCH_DATABASE, dropped before and after), the collection is grown to each size in BENCH_SIZES
 * (default 1000,10000,100000,1000000) with documents shaped like the impressions pipeline's minute
 * documents (about 2.5 KB of BSON: rendered fields beside `_runnel` with a 2 KB HyperLogLog register
 * Binary, sums, offsets and a version). At each size every operation below runs one at a time, from one
 * client, BENCH_REPS times (default 30) or until BENCH_OP_SECONDS (default 15) are spent, at least
 * once; the table gives median and p95 latency and operations per second (1000 / mean ms). An operation
 * whose median, grown in proportion to the collection, would exceed BENCH_OP_CAP_SECONDS (default 120)
 * at the next size is not run there: it is marked "skipped" (it scans, and one run would take minutes):
 *
 *   find _id          find({_id: x})                                       one random existing document
 *   find $in 100      find({_id: {$in: [100 ids]}})                        100 random existing documents
 *   insertMany 50     insertMany of 50 new documents
 *   upsert 100        bulkWrite of replaceOne({_id}, doc, {upsert})        100 random existing documents, in 10
 *                                                                          commands of 10 as the store sends them
 *   updateOne v       updateOne({_id, '_runnel.v': n}, {$set: v n+1 ...})  the store's versioned write
 *   deleteMany 50     deleteMany({_id: {$in: [50 ids]}})                   the 50 inserted just before
 *
 * so the collection keeps its size while measured. Then, at the sizes in BENCH_READ_SIZES (default
 * 10000,100000), the ways the store could read BENCH_READ_IDS (default 1000) random existing documents
 * by `_id`, each timed as a whole:
 *
 *   read N: $in                 one find({_id: {$in: [N ids]}})
 *   read N: concurrent, pool P  N find({_id}) at once (Promise.all), over a client with maxPoolSize P for
 *                               each P in BENCH_READ_POOLS (default 20,50), its connections opened first
 *   read N: sequential          N find({_id}), one after another
 *
 * and BENCH_STATEMENT_RUNS (default 1000) consecutive find({_id}) on one client, summarized over the
 * last half (median, p99): FerretDB's PostgreSQL backend sends each query as a prepared statement
 * (pgx's statement cache), and PostgreSQL may switch such a statement to a generic plan after 5
 * executions; the key in FerretDB's `_jsonb->$1 @> $2` is then a parameter, which no expression
 * index matches, so a late slowdown would show here (skipped where its find _id would exceed the cap).
 * Loading is timed too (unordered insertMany of 1000,
 * two in flight); a size whose load takes longer than BENCH_LOAD_LIMIT_SECONDS (default 600) stops the
 * run there, reported as such. BENCH_LABEL names the backend in the output.
 *
 * Why 10 per update command: FerretDB 1.24 holds one pooled backend connection per statement of an
 * update command until the command ends (internal/handler/msg_update.go defers each statement's
 * iterator close), so one command of 100 replaceOne waits forever on SQLite (pool of 100) and on
 * PostgreSQL with FerretDB's default pool of 50; src/components/mongodb/store.ts sends 10.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Binary, MongoClient, type AnyBulkWriteOperation, type Collection } from 'mongodb';

const uri = process.env.BENCH_MONGODB_URI ?? process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017/';
const dbName = process.env.BENCH_DATABASE ?? 'runnel_bench_db_ops';
const label = process.env.BENCH_LABEL ?? uri;
const sizes = (process.env.BENCH_SIZES ?? '1000,10000,100000,1000000').split(',').map(Number);
const reps = Number(process.env.BENCH_REPS ?? 30);
const opSeconds = Number(process.env.BENCH_OP_SECONDS ?? 15);
const loadLimitSeconds = Number(process.env.BENCH_LOAD_LIMIT_SECONDS ?? 600);
const opCapSeconds = Number(process.env.BENCH_OP_CAP_SECONDS ?? 120);
const readSizes = (process.env.BENCH_READ_SIZES ?? '10000,100000').split(',').map(Number);
const readIds = Number(process.env.BENCH_READ_IDS ?? 1000);
const readPools = (process.env.BENCH_READ_POOLS ?? '20,50').split(',').map(Number);
const statementRuns = Number(process.env.BENCH_STATEMENT_RUNS ?? 1000);
const LOAD_BATCH = 1000;
const LOAD_IN_FLIGHT = 2;
/** Statements per update command, as the store sends them (FERRETDB_MAX_UPDATE_BATCH). */
const UPDATE_BATCH = 10;
/** Documents inserted by the insertMany operation are numbered from here, beyond any loaded one. */
const NEW_BASE = 50_000_000;

interface MinuteDoc {
  _id: string;
  date: Date;
  publisher: string;
  geo: string;
  imps: number;
  uniques: number;
  avgBid: number;
  _runnel: {
    v: number;
    start: Date;
    end: Date;
    key: string[];
    states: { uniques: Binary; imps: { sum: number }; bids: { sum: number; count: number } };
    offsets: Record<string, number>;
  };
}

const GEOS = ['US', 'GB', 'DE', 'FR', 'JP', 'BR', 'IN', 'CA', 'AU', 'ES'];
const PUBLISHERS = 20;
const T0 = Date.UTC(2026, 11, 1);
/** A pool of register bytes; each document takes its 2 KB at its own offset. */
const REGISTERS = randomBytes(64 * 1024);

/** Document number i: one minute holds PUBLISHERS x GEOS documents, so every i has its own _id. */
function minuteDoc(i: number, v = 1): MinuteDoc {
  const perMinute = PUBLISHERS * GEOS.length;
  const start = new Date(T0 + Math.floor(i / perMinute) * 60_000);
  const publisher = `pub-${i % PUBLISHERS}`;
  const geo = GEOS[Math.floor(i / PUBLISHERS) % GEOS.length];
  const imps = 100 + (i % 900);
  const offset = (i * 97) % (REGISTERS.length - 2048);
  return {
    _id: idOf(i),
    date: start,
    publisher,
    geo,
    imps,
    uniques: Math.floor(imps * 0.7),
    avgBid: 0.5 + (i % 100) / 100,
    _runnel: {
      v,
      start,
      end: new Date(start.getTime() + 60_000),
      key: [start.toISOString(), publisher, geo],
      states: {
        uniques: new Binary(REGISTERS.subarray(offset, offset + 2048)),
        imps: { sum: imps },
        bids: { sum: imps * 0.9, count: imps },
      },
      offsets: { '0': i, '1': i + 1, '2': i + 2, '3': i + 3, '4': i + 4, '5': i + 5 },
    },
  };
}

function idOf(i: number): string {
  const perMinute = PUBLISHERS * GEOS.length;
  const start = new Date(T0 + Math.floor(i / perMinute) * 60_000);
  return `${start.toISOString()}|pub-${i % PUBLISHERS}|${GEOS[Math.floor(i / PUBLISHERS) % GEOS.length]}`;
}

function randomIndex(size: number): number {
  return Math.floor(Math.random() * size);
}

function distinctIndexes(size: number, n: number): number[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(n, size)) picked.add(randomIndex(size));
  return [...picked];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface OpResult {
  size: number;
  op: string;
  /** 0: skipped, as its cost at a smaller size, grown with the collection, would exceed the cap. */
  runs: number;
  medianMs: number;
  p95Ms: number;
  opsPerSecond: number;
}

interface LoadResult {
  size: number;
  loaded: number;
  seconds: number;
  docsPerSecond: number;
  finished: boolean;
}

/** Inserts documents from..to-1, stopping early once the deadline has passed; returns how many it inserted. */
async function load(coll: Collection<MinuteDoc>, from: number, to: number, deadline: number): Promise<number> {
  let next = from;
  let loaded = 0;
  async function worker(): Promise<void> {
    while (next < to && performance.now() < deadline) {
      const first = next;
      next = Math.min(to, next + LOAD_BATCH);
      const docs: MinuteDoc[] = [];
      for (let i = first; i < next; i++) docs.push(minuteDoc(i));
      await coll.insertMany(docs, { ordered: false });
      loaded += docs.length;
    }
  }
  await Promise.all(Array.from({ length: LOAD_IN_FLIGHT }, () => worker()));
  return loaded;
}

/** Results so far, to predict what an operation would cost at a bigger size. */
const results: OpResult[] = [];

/** Runs op repeatedly (reps times or opSeconds, at least once) and summarizes its latencies. */
async function measure(size: number, op: string, once: (rep: number) => Promise<void>): Promise<OpResult> {
  const before = results.filter((r) => r.op === op).pop();
  if (before && (before.runs === 0 || (before.medianMs * size) / before.size > opCapSeconds * 1000)) {
    process.stderr.write(`  ${op}: skipped (grows with the collection; one run would take over ${opCapSeconds} s)\n`);
    return { size, op, runs: 0, medianMs: NaN, p95Ms: NaN, opsPerSecond: NaN };
  }
  const times: number[] = [];
  const until = performance.now() + opSeconds * 1000;
  for (let rep = 0; rep < reps && (rep < 1 || performance.now() < until); rep++) {
    const t = performance.now();
    await once(rep);
    times.push(performance.now() - t);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const result = {
    size,
    op,
    runs: times.length,
    medianMs: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    opsPerSecond: 1000 / mean,
  };
  process.stderr.write(`  ${op}: median ${fmt(result.medianMs)} ms, p95 ${fmt(result.p95Ms)} ms (${result.runs} runs)\n`);
  return result;
}

function fmt(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : Math.round(ms).toLocaleString('en-US');
}

/** One round of every operation at the current size; the collection ends at the size it started with. */
async function measureAll(coll: Collection<MinuteDoc>, size: number, versions: Map<number, number>): Promise<OpResult[]> {
  const results: OpResult[] = [];
  const check = (what: string, got: number, want: number): void => {
    if (got !== want) throw new Error(`${what}: ${got} instead of ${want} at size ${size}`);
  };
  results.push(
    await measure(size, 'find _id', async () => {
      const docs = await coll.find({ _id: idOf(randomIndex(size)) }).toArray();
      check('find _id', docs.length, 1);
    }),
  );
  results.push(
    await measure(size, 'find $in 100', async () => {
      const ids = distinctIndexes(size, 100).map(idOf);
      const docs = await coll.find({ _id: { $in: ids } }).toArray();
      check('find $in', docs.length, ids.length);
    }),
  );
  const newIndexes = (rep: number): number[] => Array.from({ length: 50 }, (_, k) => NEW_BASE + rep * 50 + k);
  let inserted = 0;
  results.push(
    await measure(size, 'insertMany 50', async (rep) => {
      const res = await coll.insertMany(newIndexes(rep).map((i) => minuteDoc(i)));
      check('insertMany', res.insertedCount, 50);
      inserted = rep + 1;
    }),
  );
  results.push(
    await measure(size, 'upsert 100', async () => {
      const ops: AnyBulkWriteOperation<MinuteDoc>[] = distinctIndexes(size, 100).map((i) => {
        const v = (versions.get(i) ?? 1) + 1;
        versions.set(i, v);
        return { replaceOne: { filter: { _id: idOf(i) }, replacement: minuteDoc(i, v), upsert: true } };
      });
      let matched = 0;
      for (let i = 0; i < ops.length; i += UPDATE_BATCH) {
        matched += (await coll.bulkWrite(ops.slice(i, i + UPDATE_BATCH), { ordered: false })).matchedCount;
      }
      check('upsert matched', matched, ops.length);
    }),
  );
  results.push(
    await measure(size, 'updateOne v', async () => {
      const i = randomIndex(size);
      const v = versions.get(i) ?? 1;
      const res = await coll.updateOne({ _id: idOf(i), '_runnel.v': v }, { $set: { '_runnel.v': v + 1, imps: 1 + v } });
      check('updateOne modified', res.modifiedCount, 1);
      versions.set(i, v + 1);
    }),
  );
  let deleted = 0;
  results.push(
    await measure(size, 'deleteMany 50', async (rep) => {
      // The documents inserted above, one batch per run (never more runs than there were inserts).
      if (rep >= inserted) return;
      const res = await coll.deleteMany({ _id: { $in: newIndexes(rep).map(idOf) } });
      check('deleteMany', res.deletedCount, 50);
      deleted = rep + 1;
    }),
  );
  // deleteMany may have run fewer times than insertMany (its time ran out, or skipped): keep the size exact, one
  // deleteOne by _id each, as FerretDB filters `$in` in Go over the whole collection (a minute per call at 100k).
  for (let rep = deleted; rep < inserted; rep++) for (const i of newIndexes(rep)) await coll.deleteOne({ _id: idOf(i) });
  return results;
}

/** The read shapes the store could use for readIds documents by `_id`, each timed as a whole. */
async function measureReads(coll: Collection<MinuteDoc>, size: number, pools: Map<number, Collection<MinuteDoc>>): Promise<OpResult[]> {
  const results: OpResult[] = [];
  const n = Math.min(readIds, size);
  const ids = (): string[] => distinctIndexes(size, n).map(idOf);
  results.push(
    await measure(size, `read ${n}: $in`, async () => {
      const want = ids();
      const docs = await coll.find({ _id: { $in: want } }).toArray();
      if (docs.length !== want.length) throw new Error(`read $in: ${docs.length} instead of ${want.length} at size ${size}`);
    }),
  );
  for (const [pool, pooled] of pools) {
    results.push(
      await measure(size, `read ${n}: concurrent, pool ${pool}`, async () => {
        const found = await Promise.all(ids().map((id) => pooled.find({ _id: id }).toArray()));
        const missing = found.filter((docs) => docs.length !== 1).length;
        if (missing > 0) throw new Error(`read concurrent: ${missing} of ${n} not found at size ${size}`);
      }),
    );
  }
  results.push(
    await measure(size, `read ${n}: sequential`, async () => {
      for (const id of ids()) {
        if ((await coll.find({ _id: id }).toArray()).length !== 1) throw new Error(`read sequential: ${id} not found at size ${size}`);
      }
    }),
  );
  return results;
}

interface StatementResult {
  size: number;
  runs: number;
  /** Over the first 5 runs, before PostgreSQL may consider a generic plan. */
  first5MedianMs: number;
  /** Over the last half of the runs. */
  lastMedianMs: number;
  lastP99Ms: number;
}

/** statementRuns consecutive finds by `_id`: does a prepared statement keep its fast plan? */
async function measureStatement(coll: Collection<MinuteDoc>, size: number): Promise<StatementResult | undefined> {
  const find = results.find((r) => r.op === 'find _id' && r.size === size);
  if (!find || find.runs === 0 || (find.medianMs * statementRuns) / 1000 > opCapSeconds) {
    process.stderr.write(`  ${statementRuns} finds by _id: skipped (over ${opCapSeconds} s at this size)\n`);
    return undefined;
  }
  const times: number[] = [];
  for (let rep = 0; rep < statementRuns; rep++) {
    const t = performance.now();
    const docs = await coll.find({ _id: idOf(randomIndex(size)) }).toArray();
    times.push(performance.now() - t);
    if (docs.length !== 1) throw new Error(`statement: ${docs.length} documents instead of 1 at size ${size}`);
  }
  const first5 = times.slice(0, 5).sort((a, b) => a - b);
  const last = times.slice(Math.floor(times.length / 2)).sort((a, b) => a - b);
  const result = {
    size,
    runs: times.length,
    first5MedianMs: percentile(first5, 50),
    lastMedianMs: percentile(last, 50),
    lastP99Ms: percentile(last, 99),
  };
  process.stderr.write(
    `  ${statementRuns} finds by _id: first 5 median ${fmt(result.first5MedianMs)} ms; last ${last.length} median ${fmt(result.lastMedianMs)} ms, p99 ${fmt(result.lastP99Ms)} ms\n`,
  );
  return result;
}

const client = new MongoClient(uri, { directConnection: true });
await client.connect();
const db = client.db(dbName);
await db.dropDatabase();
const coll = db.collection<MinuteDoc>('impsPerPubGeo');
const versions = new Map<number, number>();
const loads: LoadResult[] = [];
const statements: StatementResult[] = [];
/** One client per pool size for the concurrent reads, so each really has that many connections. */
const pooled = new Map<number, { client: MongoClient; coll: Collection<MinuteDoc> }>();
let have = 0;
process.stderr.write(`db-ops bench: ${label} (${uri}), sizes ${sizes.join(', ')}\n`);
try {
  for (const size of sizes) {
    const t = performance.now();
    const loaded = await load(coll, have, size, t + loadLimitSeconds * 1000);
    const seconds = (performance.now() - t) / 1000;
    have += loaded;
    const finished = have >= size;
    loads.push({ size, loaded, seconds, docsPerSecond: loaded / seconds, finished });
    process.stderr.write(`size ${size}: loaded ${loaded} documents in ${seconds.toFixed(1)} s (${Math.round(loaded / seconds)}/s)\n`);
    if (!finished) {
      process.stderr.write(`size ${size}: loading did not finish within ${loadLimitSeconds} s; stopping here\n`);
      break;
    }
    results.push(...(await measureAll(coll, size, versions)));
    if (readSizes.includes(size)) {
      for (const pool of readPools) {
        if (pooled.has(pool)) continue;
        const c = new MongoClient(uri, { directConnection: true, maxPoolSize: pool, minPoolSize: pool });
        await c.connect();
        const pc = c.db(dbName).collection<MinuteDoc>(coll.collectionName);
        // Open every connection before timing: pool many finds at once.
        await Promise.all(Array.from({ length: pool }, () => pc.find({ _id: idOf(0) }).toArray()));
        pooled.set(pool, { client: c, coll: pc });
      }
      const colls = new Map([...pooled].map(([pool, p]) => [pool, p.coll]));
      results.push(...(await measureReads(coll, size, colls)));
    }
    const statement = await measureStatement(coll, size);
    if (statement) statements.push(statement);
  }
} finally {
  for (const p of pooled.values()) await p.client.close();
  if (process.env.BENCH_KEEP !== '1') await db.dropDatabase();
  await client.close();
}

const ops = [...new Set(results.map((r) => r.op))];
const measured = [...new Set(results.map((r) => r.size))];
const lines = [
  `${label}: median / p95 ms per operation (operations per second), one client`,
  '',
  `| operation | ${measured.map((s) => `${s.toLocaleString('en-US')} docs`).join(' | ')} |`,
  `| --- | ${measured.map(() => '---').join(' | ')} |`,
  ...ops.map((op) => {
    const cells = measured.map((size) => {
      const r = results.find((x) => x.op === op && x.size === size);
      if (r?.runs === 0) return 'skipped';
      return r
        ? `${fmt(r.medianMs)} / ${fmt(r.p95Ms)} (${r.opsPerSecond < 10 ? r.opsPerSecond.toFixed(1) : Math.round(r.opsPerSecond)})`
        : '';
    });
    return `| ${op} | ${cells.join(' | ')} |`;
  }),
  `| load to this size | ${loads
    .filter((l) => l.finished)
    .map((l) => `${l.seconds.toFixed(1)} s (${Math.round(l.docsPerSecond)} docs/s)`)
    .join(' | ')} |`,
  ...loads
    .filter((l) => !l.finished)
    .map((l) => `\nnot measured: ${l.size.toLocaleString('en-US')} docs, loading stopped after ${Math.round(l.seconds)} s at ${have} docs`),
];
if (statements.length > 0) {
  lines.push(
    '',
    `${statementRuns} consecutive find({_id}) on one client (prepared statements): ms`,
    '',
    '| size | first 5, median | last half, median | last half, p99 |',
    '| --- | --- | --- | --- |',
    ...statements.map(
      (s) => `| ${s.size.toLocaleString('en-US')} docs | ${fmt(s.first5MedianMs)} | ${fmt(s.lastMedianMs)} | ${fmt(s.lastP99Ms)} |`,
    ),
  );
}
process.stdout.write(lines.join('\n') + '\n');
process.stdout.write(JSON.stringify({ label, loads, results, statements }) + '\n');

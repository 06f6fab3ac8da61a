/**
 * `npm run bench:e2e`: the canonical pipeline (pipelines/impressions.yaml) from a 6-partition
 * Kafka topic into FerretDB, on the local stack (scripts/stack up), in one of the shapes of
 * bench/e2e/shapes.ts, chosen by BENCH_SHAPE (default `steady`):
 *
 *   steady    N impressions (BENCH_RECORDS, default 5,000,000), event time at 400,000/s, 72 keys
 *   backfill  N impressions over 24 h of event time, 72 keys (~104,000 minute documents)
 *   keys      N impressions, event time at 400,000/s, 10,000 keys per minute
 *   grown     steady, into collections already holding 1,000,000 documents of earlier days
 *   replay    N impressions (default 2,000,000) over 24 h, 40 keys, every partition spanning the day,
 *             read by bench/pipelines/replay.yaml (batches of 20,000, exact distinct, hourly rollup)
 *   raw       backfill's documents, written by a plain bulkWrite of replaceOne upserts
 *
 * BENCH_RUNS runs (default 3), each with a fresh consumer group and database; a run still catching
 * up after BENCH_TIMEOUT_S (default 1800) is stopped and reported with what it committed, and a
 * `timeout:` line says so. The last line is the median of the runs:
 *
 *   shape=<name> records_per_s=<n> docs_per_s=<n> db_cpu_s=<n> runner_cpu_s=<n> bytes_per_doc=<n> peak_rss_mb=<n>
 *     writes_per_doc=<n> flush_ms_first=<n> flush_ms_last=<n> flush_us_per_doc_first=<n> flush_us_per_doc_last=<n>
 *
 * writes_per_doc is document writes (every level) over documents; flush_ms_first and _last the
 * median store time of the first and the last fifth of the batches, flush_us_per_doc_* the same
 * per document the batch wrote.
 *
 * BENCH_PROFILE=1 also writes a CPU profile of each runner to /tmp/runnel-e2e-prof; BENCH_PIPELINE
 * runs another pipeline file on the same topic (to compare settings).
 */
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { grownBase, type GrownBase } from './e2e/grown.js';
import { median } from './median.js';
import { backfillDocs, backfillDocsDatabase, rawRun } from './e2e/raw.js';
import { dataCollections, ensureTopic, runPipeline, sh, type Bench, type Flush, type RunResult } from './e2e/runs.js';
import { shapeNamed } from './e2e/shapes.js';

const shape = shapeNamed(process.env.BENCH_SHAPE ?? 'steady');
const runs = Number(process.env.BENCH_RUNS ?? 3);
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';

sh('scripts/stack', ['up']);
const kafka = new Kafka({ clientId: 'runnel-bench', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const producer = kafka.producer();
await producer.connect();
const bench: Bench = {
  count: Number(process.env.BENCH_RECORDS ?? shape.records ?? 5_000_000),
  brokers,
  mongoUri: process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017',
  pipeline: process.env.BENCH_PIPELINE ?? shape.pipeline ?? 'pipelines/impressions.yaml',
  timeoutMs: Number(process.env.BENCH_TIMEOUT_S ?? 1800) * 1000,
  admin,
  producer,
  mongo: await new MongoClient(process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017').connect(),
};
process.stdout.write(`shape ${shape.name}: ${shape.about}\n`);

const results: RunResult[] = [];
if (shape.topic === undefined) {
  const docs = await backfillDocs(bench);
  for (let run = 1; run <= runs; run++) {
    process.stdout.write(`run ${run}:\n`);
    results.push(await rawRun(bench, docs, `${Date.now().toString(36)}-${run}`));
  }
} else {
  const { topic, loaded } = await ensureTopic(bench, shape.topic);
  const base: GrownBase | undefined = shape.preloadDocs === undefined ? undefined : await grownBase(bench, shape.preloadDocs);
  for (let run = 1; run <= runs; run++) {
    const id = `${Date.now().toString(36)}-${run}`;
    // the last backfill run keeps its documents, for raw
    const keep = shape.name === 'backfill' && run === runs;
    const database = base?.database ?? (keep ? backfillDocsDatabase(bench.count) : `runnel_bench_${id.replace(/-/g, '_')}`);
    if (keep) await bench.mongo.db(database).dropDatabase();
    process.stdout.write(`run ${run}:\n`);
    const result = await runPipeline(bench, { id, topic, loaded, database, preloaded: base !== undefined });
    // the run's documents are those after the earlier days, but for the latency marker's (one per level)
    if (base) result.docs = (await base.clear()) - (await dataCollections(bench.mongo.db(database))).length;
    else if (!keep) await bench.mongo.db(database).dropDatabase();
    results.push(result);
  }
}
await producer.disconnect();
await admin.disconnect();
await bench.mongo.close();

for (const [i, r] of results.entries()) {
  const latency = r.latencyMs === undefined ? '' : `, last record to MongoDB ${r.latencyMs} ms`;
  const batches = r.flushes ? `, ${r.flushes.length} batches` : '';
  const writes = r.writesPerDoc === undefined ? '' : `, ${r.writesPerDoc.toFixed(2)} writes/document`;
  process.stdout.write(
    `run ${i + 1}: ${r.records ?? '-'} records, ${r.docs} documents in ${r.seconds.toFixed(1)} s, db CPU ${r.dbCpuS.toFixed(1)} s, ` +
      `runner CPU ${r.runnerCpuS.toFixed(1)} s${batches}${writes}${r.size ? `, ${r.size.bytesPerDoc} bytes/document (${r.size.claimBytesPerDoc} of them claims)` : ''}${latency}\n`,
  );
}
const timedOut = results.filter((r) => r.timedOut);
if (timedOut.length > 0) {
  process.stdout.write(
    `timeout: ${timedOut.length} of ${runs} runs ${timedOut.map((r) => r.timedOut).join('; ')}: their rates are over what they did\n`,
  );
}
const latencies = results.flatMap((r) => (r.latencyMs === undefined ? [] : [r.latencyMs]));
if (latencies.length > 0) process.stdout.write(`median latency, last record to MongoDB: ${median(latencies)} ms\n`);
const rate = (n: number, r: RunResult) => Math.round(n / r.seconds);
const records = results.every((r) => r.records !== undefined) ? median(results.map((r) => rate(r.records!, r))) : '-';
const rss = results.every((r) => r.peakRssMB !== undefined) ? median(results.map((r) => r.peakRssMB!)) : '-';
const oneDecimal = (values: number[]) => median(values).toFixed(1);
const writesPerDoc = results.every((r) => r.writesPerDoc !== undefined) ? median(results.map((r) => r.writesPerDoc!)).toFixed(2) : '-';
const flushes = results.every((r) => (r.flushes?.length ?? 0) > 0) ? results.map((r) => fifths(r.flushes!)) : undefined;
const flushFigure = (pick: (f: Fifths) => number) => (flushes ? median(flushes.map(pick)) : '-');
process.stdout.write(
  `shape=${shape.name} records_per_s=${records} docs_per_s=${median(results.map((r) => rate(r.docs, r)))} ` +
    `db_cpu_s=${oneDecimal(results.map((r) => r.dbCpuS))} runner_cpu_s=${oneDecimal(results.map((r) => r.runnerCpuS))} ` +
    `bytes_per_doc=${results.every((r) => r.size) ? median(results.map((r) => r.size!.bytesPerDoc)) : '-'} peak_rss_mb=${rss} ` +
    `writes_per_doc=${writesPerDoc} flush_ms_first=${flushFigure((f) => f.first)} flush_ms_last=${flushFigure((f) => f.last)} ` +
    `flush_us_per_doc_first=${flushFigure((f) => f.firstPerDoc)} flush_us_per_doc_last=${flushFigure((f) => f.lastPerDoc)}\n`,
);

interface Fifths {
  first: number;
  last: number;
  /** Store microseconds per document written, the median over the same batches. */
  firstPerDoc: number;
  lastPerDoc: number;
}

/**
 * The median store time of the first and of the last fifth of a run's batches (at least one each),
 * and the same per document written: batches differ in size (the first is cut at `maxRecords`
 * while nothing is being stored; later ones gather what arrives during the store before), so
 * the time per document is what shows whether storing slows as the collections grow.
 */
function fifths(flushes: Flush[]): Fifths {
  const fifth = Math.max(1, Math.floor(flushes.length / 5));
  const perDoc = (f: Flush) => Math.round((f.ms * 1000) / Math.max(1, f.documents));
  const first = flushes.slice(0, fifth);
  const last = flushes.slice(-fifth);
  return {
    first: median(first.map((f) => f.ms)),
    last: median(last.map((f) => f.ms)),
    firstPerDoc: median(first.map(perDoc)),
    lastPerDoc: median(last.map(perDoc)),
  };
}

/**
 * The `raw` shape: the physical reference. The documents a `backfill` run wrote, every level,
 * written again into a fresh database by a plain script: bulkWrite batches of 1,000 unordered
 * replaceOne upserts by `_id`, one batch at a time, with no claims, no fences and no reads. It is
 * the rate the database gives to the simplest writer of the same documents.
 */
import type { Document } from 'mongodb';

/** A stored document: ids of the documents Runnel writes are strings. */
type Stored = Document & { _id: string };
import { bytesPerDoc, databasePids, treeCpuSeconds } from './measure.js';
import { countDocs, dataCollections, ensureTopic, runPipeline, type Bench, type RunResult } from './runs.js';
import { shapes } from './shapes.js';

const BATCH = 1000;

/** Where the last `backfill` run keeps its documents for `raw`. */
export const backfillDocsDatabase = (count: number): string => `runnel_bench_backfill_docs_${count}`;

/** The documents of a backfill run, by collection: the kept ones, or those of a backfill run made now. */
export async function backfillDocs(bench: Bench): Promise<Map<string, Stored[]>> {
  const db = bench.mongo.db(backfillDocsDatabase(bench.count));
  if ((await countDocs(db)) === 0) {
    process.stdout.write(`no documents of a backfill run of ${bench.count} records: running one into ${db.databaseName}\n`);
    const { topic, loaded } = await ensureTopic(bench, shapes.backfill.topic!);
    const result = await runPipeline(bench, { id: `backfill-${Date.now().toString(36)}`, topic, loaded, database: db.databaseName });
    if (result.timedOut)
      process.stdout.write(`timeout: that backfill run ${result.timedOut}: raw writes the ${result.docs} documents it wrote\n`);
  }
  const docs = new Map<string, Stored[]>();
  for (const name of await dataCollections(db)) docs.set(name, await db.collection<Stored>(name).find({}).toArray());
  return docs;
}

export async function rawRun(bench: Bench, docs: Map<string, Stored[]>, id: string): Promise<RunResult> {
  const db = bench.mongo.db(`runnel_bench_raw_${id.replace(/-/g, '_')}`);
  const dbPids = databasePids();
  const dbCpuBefore = treeCpuSeconds(dbPids);
  const cpuBefore = process.cpuUsage();
  const started = Date.now();
  let written = 0;
  let timedOut: string | undefined;
  const total = [...docs.values()].reduce((sum, d) => sum + d.length, 0);
  writing: for (const [name, all] of docs) {
    for (let i = 0; i < all.length; i += BATCH) {
      if (Date.now() - started > bench.timeoutMs) {
        timedOut = `stopped after ${bench.timeoutMs / 1000} s with ${written} of ${total} documents written`;
        break writing;
      }
      const batch = all.slice(i, i + BATCH);
      await db.collection<Stored>(name).bulkWrite(
        batch.map((doc) => ({ replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true } })),
        { ordered: false },
      );
      written += batch.length;
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const dbCpuS = treeCpuSeconds(dbPids) - dbCpuBefore;
  const size = await bytesPerDoc(db, [...docs.keys()][0]);
  await db.dropDatabase();
  process.stdout.write(`  ${timedOut ?? `wrote ${written} documents`} in ${seconds.toFixed(1)} s\n`);
  return { seconds, docs: written, dbCpuS, runnerCpuS: (cpu.user + cpu.system) / 1e6, size, timedOut };
}

/**
 * What bench:e2e measures besides wall time: CPU seconds of a process tree (the runner; the
 * database servers the stack runs), peak RSS, and the stored size of a document.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BSON, type Db } from 'mongodb';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** /proc/<pid>/stat's fields after the command name (which may hold spaces): field 3 (state) is index 0. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // gone meanwhile
  }
}

/** Every live process below `root` (not `root` itself), by parent pid. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = Number(statFields(Number(entry))?.[1]);
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent)!.push(Number(entry));
  }
  const found: number[] = [];
  for (let queue = children.get(root) ?? []; queue.length > 0;) {
    const pid = queue.shift()!;
    found.push(pid);
    queue = [...queue, ...(children.get(pid) ?? [])];
  }
  return found;
}

/**
 * CPU seconds (user + system) that the processes `pids` and all their descendants have used so
 * far, with the reaped children they waited for (cutime, cstime): a PostgreSQL backend that ended
 * with its connection still counts, in its postmaster. A live process's own children are counted
 * live, never twice. Sample before and after a run and subtract.
 */
export function treeCpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of new Set(pids.flatMap((p) => [p, ...descendants(p)]))) {
    const fields = statFields(pid);
    // utime, stime, cutime, cstime: fields 14-17 of proc(5), indexes 11-14 here
    if (fields) ticks += fields.slice(11, 15).reduce((sum, f) => sum + Number(f), 0);
  }
  return ticks / TICKS_PER_SECOND;
}

/**
 * The database servers of the local stack: every service in its run dir with a pid file, but
 * Kafka (FerretDB today; a PostgreSQL backend too, where the stack runs one).
 */
export function databasePids(): number[] {
  const runDir = process.env.RUNNEL_STACK_DIR ?? '/tmp/runnel-stack';
  return readdirSync(runDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'kafka' && existsSync(join(runDir, e.name, 'pid')))
    .map((e) => Number(readFileSync(join(runDir, e.name, 'pid'), 'utf8').trim()))
    .filter((pid) => Number.isInteger(pid) && existsSync(`/proc/${pid}`));
}

/** The peak resident set of a live process, in MB. */
export function peakRssMB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024);
}

/** Stored bytes per document: the document itself and its share of Runnel's claims beside it. */
export interface DocSize {
  bytesPerDoc: number;
  /** Of bytesPerDoc, the claims' share. */
  claimBytesPerDoc: number;
}

/**
 * BSON bytes per document of a collection, with its claims (`<collection>.runnel_claims`)
 * counted in: the mean size of up to 1,000 documents of each, times their counts, over the
 * documents. BSON sizes, not the server's collection stats: FerretDB over PostgreSQL leaves the
 * out-of-line (TOAST) part of large documents out of those, and SQLite counts pages.
 */
export async function bytesPerDoc(db: Db, collection: string): Promise<DocSize> {
  const bsonBytes = async (name: string): Promise<{ count: number; bytes: number }> => {
    const count = await db.collection(name).countDocuments();
    if (count === 0) return { count, bytes: 0 };
    const sample = await db.collection(name).find({}).limit(1000).toArray();
    const mean = sample.reduce((sum, doc) => sum + BSON.calculateObjectSize(doc), 0) / sample.length;
    return { count, bytes: mean * count };
  };
  const docs = await bsonBytes(collection);
  const claims = await bsonBytes(`${collection}.runnel_claims`);
  if (docs.count === 0) return { bytesPerDoc: 0, claimBytesPerDoc: 0 };
  return { bytesPerDoc: Math.round((docs.bytes + claims.bytes) / docs.count), claimBytesPerDoc: Math.round(claims.bytes / docs.count) };
}

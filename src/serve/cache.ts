import type { AggregateUse, Plan } from '../engine/plan.js';
import type { RunStatus } from '../engine/runtime.js';
import { restoreState } from '../engine/store.js';
import type { KeyFilters, Level, LevelDoc, PipelineReader, StoredLevelDoc, StoredReader } from '../engine/reader.js';

export interface CacheOptions {
  /** Least time between two refreshes of a level (default 2000 ms); a refresh never starts before the previous one ended. */
  refreshMs?: number;
  /** Without a published run status, the whole level is read again this often (default 60 s). */
  fullReloadMs?: number;
  onError?: (error: Error) => void;
}

/** One rollup level held in memory: documents by window start, then by key. */
class LevelCache {
  readonly windows = new Map<number, Map<string, StoredLevelDoc>>();
  loaded = false;
  lastFullLoad = 0;
  documents = 0;

  put(doc: StoredLevelDoc): void {
    let byKey = this.windows.get(doc.windowStart);
    if (!byKey) this.windows.set(doc.windowStart, (byKey = new Map<string, StoredLevelDoc>()));
    const id = JSON.stringify(doc.key);
    if (!byKey.has(id)) this.documents++;
    byKey.set(id, doc);
  }
}

/**
 * The fast path of the serving layer: the rollup levels (hours, days: few documents) are held in
 * memory as stored states and kept fresh by a background refresh, so series and top-N queries on
 * them never wait for the database. A refresh re-reads only windows that may still change: those
 * ending after the runner's published watermark minus the allowed lateness (older windows are
 * final: later records for them are dead letters). Without a published status the newest window
 * onwards is re-read, and the whole level every fullReloadMs. The base level (minutes: the bulk)
 * is read from the database per query, through its index.
 *
 * States are merged per query from the stored form with the aggregation kinds' own deserialize
 * and merge, exactly as when reading the database.
 */
export class CachedReader implements PipelineReader {
  readonly levels: readonly Level[];
  private readonly caches = new Map<number, LevelCache>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private closed = false;
  private readonly refreshMs: number;
  private readonly fullReloadMs: number;

  constructor(
    private readonly inner: StoredReader,
    private readonly plan: Plan,
    private readonly options: CacheOptions = {},
    /** The live status of a run in this process, when there is one (else the published one is read). */
    private readonly liveStatus?: () => RunStatus,
  ) {
    this.levels = inner.levels;
    for (const level of this.levels.slice(1)) this.caches.set(level.sizeMs, new LevelCache());
    this.refreshMs = options.refreshMs ?? 2000;
    this.fullReloadMs = options.fullReloadMs ?? 60_000;
  }

  /** Starts loading the cached levels and refreshing them in the background. */
  start(): void {
    if (this.timer || this.caches.size === 0) return;
    const loop = async () => {
      const started = Date.now();
      await this.refresh().catch((error: Error) => this.options.onError?.(error));
      if (this.closed) return;
      // never more than half the time spent refreshing: a slow server is not swamped
      this.timer = setTimeout(() => void loop(), Math.max(this.refreshMs, Date.now() - started));
      this.timer.unref();
    };
    this.timer = setTimeout(() => void loop(), 0);
    this.timer.unref();
  }

  /** One refresh of every cached level (concurrent callers share it). */
  refresh(): Promise<void> {
    this.refreshing ??= this.refreshOnce().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async refreshOnce(): Promise<void> {
    const status = this.liveStatus?.() ?? (await this.inner.publishedStatus().catch(() => null));
    const lateness = this.plan.time?.allowedLatenessMs ?? 0;
    for (const level of this.levels.slice(1)) {
      const cache = this.caches.get(level.sizeMs)!;
      const now = Date.now();
      let from = -8.64e15;
      if (cache.loaded) {
        if (status?.watermark !== null && status?.watermark !== undefined) {
          // windows ending at or before watermark - lateness are final; a drained run changes nothing more
          from =
            status.state === 'running' || now - status.updatedAt < this.fullReloadMs
              ? Math.floor((status.watermark - lateness) / level.sizeMs) * level.sizeMs - level.sizeMs
              : Infinity;
        } else if (now - cache.lastFullLoad < this.fullReloadMs) {
          from = Math.max(...cache.windows.keys(), -8.64e15);
        }
      }
      if (from === Infinity) continue;
      const docs = await this.inner.findStored(level, from, 8.64e15, new Map());
      if (from === -8.64e15) {
        cache.windows.clear();
        cache.documents = 0;
        cache.lastFullLoad = now;
      }
      for (const doc of docs) cache.put(doc);
      cache.loaded = true;
    }
  }

  async find(level: Level, from: number, to: number, filters: KeyFilters, aggregates: readonly AggregateUse[]): Promise<LevelDoc[]> {
    const cache = this.caches.get(level.sizeMs);
    if (!cache) return this.inner.find(level, from, to, filters, aggregates);
    if (!cache.loaded) await this.refresh();
    const found: LevelDoc[] = [];
    const first = Math.ceil(from / level.sizeMs) * level.sizeMs;
    // few windows asked for: look each up; else walk the windows held
    const lookups = (to - first) / level.sizeMs;
    const starts =
      lookups <= cache.windows.size ? range(first, to, level.sizeMs) : [...cache.windows.keys()].filter((s) => s >= from && s < to);
    for (const start of starts) {
      const byKey = cache.windows.get(start);
      if (!byKey) continue;
      for (const doc of byKey.values()) {
        if (!matches(doc.key, filters)) continue;
        found.push({ windowStart: start, key: doc.key, states: aggregates.map((a) => restoreState(a, doc.states)) });
      }
    }
    return found;
  }

  async extent(): Promise<{ first: number; last: number } | null> {
    const coarsest = this.levels[this.levels.length - 1];
    const cache = this.caches.get(coarsest.sizeMs);
    if (!cache) return this.inner.extent();
    if (!cache.loaded) await this.refresh();
    if (cache.windows.size === 0) return null;
    let first = Infinity;
    let last = -Infinity;
    for (const start of cache.windows.keys()) {
      if (start < first) first = start;
      if (start > last) last = start;
    }
    return { first, last: last + coarsest.sizeMs };
  }

  /** Documents held in memory, per level label. */
  cachedDocuments(): Record<string, number> {
    return Object.fromEntries(this.levels.slice(1).map((l) => [l.label, this.caches.get(l.sizeMs)!.documents]));
  }

  publishedStatus(): Promise<RunStatus | null> {
    return this.inner.publishedStatus();
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.refreshing?.catch(() => undefined);
    await this.inner.close();
  }
}

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let t = from; t < to; t += step) out.push(t);
  return out;
}

/** The same equality the database query applies: the string, or the number it spells. */
function matches(key: readonly unknown[], filters: KeyFilters): boolean {
  for (const [index, value] of filters) {
    const actual = key[index];
    if (actual === value) continue;
    if (typeof actual === 'number' && value.trim() !== '' && Number(value) === actual) continue;
    return false;
  }
  return true;
}

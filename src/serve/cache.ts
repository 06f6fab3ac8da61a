import type { AggregateUse, Plan } from '../engine/plan.js';
import type { RunStatus } from '../engine/runtime.js';
import { restoreState } from '../engine/store.js';
import type { KeyFilters, Level, LevelDoc, PipelineReader, StoredLevelDoc, StoredReader, WindowKey } from '../engine/reader.js';

export interface CacheOptions {
  /** Least time between two refreshes (default 2000 ms); a refresh never starts before the previous one ended. */
  refreshMs?: number;
  /** Without a published run status, a whole rollup level is read again this often (default 60 s). */
  fullReloadMs?: number;
  /** How far back from the newest stored window the base level is held in memory (default 48 h); see CachedReader. */
  baseSpanMs?: number;
  /** At most this many base documents held (default 200,000): the span held shrinks to fit. */
  baseDocuments?: number;
  onError?: (error: Error) => void;
}

/** What a level holds in memory (see CachedReader.held). */
export interface HeldLevel {
  documents: number;
  from?: number | null;
  loading?: boolean;
}

/** Base windows read by address per query at most; a request for more reads the range instead. */
const MAX_ADDRESS_READS = 20_000;
/** The lowest window start (any date the server can hold is above it). */
const EARLIEST = -8.64e15;

/** One level held in memory: documents by window start, then by key. */
class LevelCache {
  readonly windows = new Map<number, Map<string, StoredLevelDoc>>();
  loaded = false;
  lastFullLoad = 0;
  documents = 0;
  /** Windows from here on may have changed since the last read (from the status seen then); undefined: unknown. */
  changingFrom: number | undefined;

  put(doc: StoredLevelDoc): void {
    let byKey = this.windows.get(doc.windowStart);
    if (!byKey) this.windows.set(doc.windowStart, (byKey = new Map<string, StoredLevelDoc>()));
    const id = JSON.stringify(doc.key);
    if (!byKey.has(id)) this.documents++;
    byKey.set(id, doc);
  }

  drop(windowStart: number): void {
    this.documents -= this.windows.get(windowStart)?.size ?? 0;
    this.windows.delete(windowStart);
  }

  clear(): void {
    this.windows.clear();
    this.documents = 0;
  }

  /**
   * Where a refresh re-reads from: the bound seen at the last refresh, or this refresh's when lower
   * (a run that started again after a drained one changes windows from its own bound on);
   * `withoutStatus` when no watermark was seen.
   */
  rereadFrom(changing: number | undefined, withoutStatus: () => number): number {
    return this.changingFrom === undefined ? withoutStatus() : Math.min(this.changingFrom, changing ?? Infinity);
  }

  newestStart(): number | undefined {
    let newest: number | undefined;
    for (const start of this.windows.keys()) if (newest === undefined || start > newest) newest = start;
    return newest;
  }
}

/** The base level's recent windows: every document of a window starting at or after `heldFrom`. */
class BaseCache extends LevelCache {
  /** Nothing is held below it; +Infinity until the first windows are read. */
  heldFrom = Infinity;
  /** No older windows are to be read (the span or the budget is full, or the data begin here). */
  complete = false;
}

/**
 * The fast path of the serving layer: stored windows held in memory as stored states and kept
 * fresh by a background refresh, so series and top-N queries never wait for the database.
 *
 * - The rollup levels (hours, days: few documents) are held whole.
 * - The base level (minutes: the bulk) is held for the newest `baseSpanMs` of data, within
 *   `baseDocuments`, when the sink's reader finds documents by address more cheaply than by range
 *   (FerretDB 1.x, which reads a whole collection for a range of dates but indexes an `_id`). A
 *   base document's address is its window and key; the keys of a base window are those of the
 *   first rollup window containing it, held in memory. The held span is read newest first, a
 *   rollup window of it per refresh round (for at most refreshMs), so the newest minutes are
 *   served first. Older base windows are read per query by address (by range when that would be
 *   more than MAX_ADDRESS_READS lookups); on a server that indexes ranges (MongoDB) the base
 *   level is read per query through the sink's index.
 *
 * A refresh re-reads only windows that may have changed since the last one: those ending after
 * the published watermark minus the allowed lateness, as it was at the last refresh (older windows
 * are final: later records for them are dead letters). Without a published status the newest
 * window onwards is re-read, and the whole of a rollup level every fullReloadMs.
 *
 * States are merged per query from the stored form with the aggregation kinds' own deserialize
 * and merge, exactly as when reading the database.
 */
export class CachedReader implements PipelineReader {
  readonly levels: readonly Level[];
  private readonly caches = new Map<number, LevelCache>();
  private readonly base = new BaseCache();
  /** Whether base windows are held and read by address; known after the first refresh asked the reader. */
  private byAddress: boolean | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private closed = false;
  private readonly refreshMs: number;
  private readonly fullReloadMs: number;
  private readonly baseSpanMs: number;
  private readonly baseDocuments: number;

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
    this.baseSpanMs = options.baseSpanMs ?? 48 * 3_600_000;
    this.baseDocuments = options.baseDocuments ?? 200_000;
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
    for (const level of this.levels.slice(1)) {
      const cache = this.caches.get(level.sizeMs)!;
      const now = Date.now();
      const changing = this.changingFrom(level, status);
      const from = cache.loaded
        ? cache.rereadFrom(changing, () => (now - cache.lastFullLoad < this.fullReloadMs ? (cache.newestStart() ?? EARLIEST) : EARLIEST))
        : EARLIEST;
      if (from === Infinity) {
        cache.changingFrom = changing;
        continue;
      }
      const docs = await this.inner.findStored(level, from, 8.64e15, new Map());
      if (from === EARLIEST) {
        cache.clear();
        cache.lastFullLoad = now;
      }
      for (const doc of docs) cache.put(doc);
      cache.loaded = true;
      cache.changingFrom = changing;
    }
    this.byAddress ??= this.levels.length > 1 && (await this.inner.addressesCheaper());
    if (this.byAddress) await this.refreshBase(status);
  }

  /**
   * The first window of a level that may still change after this read: windows ending at or
   * before watermark - lateness are final, and a drained run changes nothing more (Infinity).
   * Undefined without a watermark.
   */
  private changingFrom(level: Level, status: RunStatus | null): number | undefined {
    if (status?.watermark === null || status?.watermark === undefined) return undefined;
    if (status.state !== 'running' && Date.now() - status.updatedAt >= this.fullReloadMs) return Infinity;
    const lateness = this.plan.time?.allowedLatenessMs ?? 0;
    return Math.floor((status.watermark - lateness) / level.sizeMs) * level.sizeMs - level.sizeMs;
  }

  /** Re-reads the held base windows that may have changed, then reads older ones for up to refreshMs. */
  private async refreshBase(status: RunStatus | null): Promise<void> {
    const newestRollup = this.caches.get(this.levels[1].sizeMs)!.newestStart();
    if (newestRollup === undefined) return;
    const newestEnd = newestRollup + this.levels[1].sizeMs;
    const changing = this.changingFrom(this.levels[0], status);
    if (this.base.loaded) {
      // windows that may have changed since the last read; without a status, the newest held
      const since = this.base.rereadFrom(changing, () => this.base.newestStart() ?? this.base.heldFrom);
      const from = Math.max(this.base.heldFrom, since);
      if (from < newestEnd) for (const doc of await this.readByAddress(from, newestEnd, new Map())) this.base.put(doc);
    }
    this.base.changingFrom = changing;
    this.base.loaded = true;
    // at least one rollup window's worth per refresh, more while within refreshMs
    const started = Date.now();
    do {
      if (this.base.complete || this.closed) break;
      await this.readOlderBase(newestEnd);
    } while (Date.now() - started < this.refreshMs);
    this.evictBase(newestEnd);
  }

  /** Reads the rollup window of base windows just below those held, or marks the base complete. */
  private async readOlderBase(newestEnd: number): Promise<void> {
    const rollupSize = this.levels[1].sizeMs;
    const rollup = this.caches.get(rollupSize)!;
    const below = Math.min(this.base.heldFrom, newestEnd);
    let next: number | undefined;
    for (const start of rollup.windows.keys()) if (start < below && (next === undefined || start > next)) next = start;
    if (next === undefined || next < newestEnd - this.baseSpanMs) {
      this.base.complete = true;
      return;
    }
    for (const doc of await this.readByAddress(next, next + rollupSize, new Map())) this.base.put(doc);
    this.base.heldFrom = next;
    if (this.base.documents >= this.baseDocuments) this.base.complete = true;
  }

  /** Drops the oldest base windows while the span or the budget is exceeded. */
  private evictBase(newestEnd: number): void {
    const size = this.levels[0].sizeMs;
    if (this.base.heldFrom < newestEnd - this.baseSpanMs) this.base.heldFrom = newestEnd - this.baseSpanMs;
    const starts = [...this.base.windows.keys()].sort((a, b) => a - b);
    for (const start of starts) {
      if (start >= this.base.heldFrom && this.base.documents <= this.baseDocuments) break;
      this.base.drop(start);
      this.base.heldFrom = Math.max(this.base.heldFrom, start + size);
    }
  }

  /** Base documents of [from, to) matching the filters, by address: each window's keys come from its rollup window. */
  private readByAddress(from: number, to: number, filters: KeyFilters): Promise<StoredLevelDoc[]> {
    return this.inner.findStoredAt(this.levels[0], this.addresses(from, to, filters));
  }

  private addresses(from: number, to: number, filters: KeyFilters): WindowKey[] {
    const size = this.levels[0].sizeMs;
    const rollupSize = this.levels[1].sizeMs;
    const rollup = this.caches.get(rollupSize)!;
    const at: WindowKey[] = [];
    for (let start = Math.ceil(from / size) * size; start < to; start += size) {
      const docs = rollup.windows.get(Math.floor(start / rollupSize) * rollupSize);
      if (docs) for (const doc of docs.values()) if (matches(doc.key, filters)) at.push({ windowStart: start, key: doc.key });
    }
    return at;
  }

  async find(level: Level, from: number, to: number, filters: KeyFilters, aggregates: readonly AggregateUse[]): Promise<LevelDoc[]> {
    const cache = this.caches.get(level.sizeMs);
    if (cache) {
      if (!cache.loaded) await this.refresh();
      return heldDocs(cache, level, from, to, filters, aggregates);
    }
    if (this.byAddress === undefined && this.levels.length > 1) await this.refresh();
    if (!this.byAddress) return this.inner.find(level, from, to, filters, aggregates);
    // the held windows from memory, older ones by address (or by range when there are many)
    const found = to > this.base.heldFrom ? heldDocs(this.base, level, Math.max(from, this.base.heldFrom), to, filters, aggregates) : [];
    const olderTo = Math.min(to, this.base.heldFrom);
    if (from < olderTo) {
      const addresses = this.addresses(from, olderTo, filters);
      const names = aggregates.map((a) => a.name);
      const docs =
        addresses.length > MAX_ADDRESS_READS
          ? await this.inner.findStored(level, from, olderTo, filters, names)
          : await this.inner.findStoredAt(level, addresses, names);
      for (const doc of docs) found.push(restored(doc, aggregates));
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

  /**
   * What each level holds in memory: its documents, and for the base level where the held windows
   * begin (null: none yet) and whether older ones are still being read.
   */
  held(): Record<string, HeldLevel> {
    const out: Record<string, HeldLevel> = {};
    if (this.byAddress) {
      out[this.levels[0].label] = {
        documents: this.base.documents,
        from: Number.isFinite(this.base.heldFrom) ? this.base.heldFrom : null,
        loading: !this.base.complete,
      };
    }
    for (const level of this.levels.slice(1)) out[level.label] = { documents: this.caches.get(level.sizeMs)!.documents };
    return out;
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

/** The held documents of [from, to) matching the filters, deserialized. */
function heldDocs(
  cache: LevelCache,
  level: Level,
  from: number,
  to: number,
  filters: KeyFilters,
  aggregates: readonly AggregateUse[],
): LevelDoc[] {
  const found: LevelDoc[] = [];
  const first = Math.ceil(from / level.sizeMs) * level.sizeMs;
  // few windows asked for: look each up; else walk the windows held
  const lookups = (to - first) / level.sizeMs;
  const starts =
    lookups <= cache.windows.size ? range(first, to, level.sizeMs) : [...cache.windows.keys()].filter((s) => s >= from && s < to);
  for (const start of starts) {
    const byKey = cache.windows.get(start);
    if (!byKey) continue;
    for (const doc of byKey.values()) if (matches(doc.key, filters)) found.push(restored(doc, aggregates));
  }
  return found;
}

function restored(doc: StoredLevelDoc, aggregates: readonly AggregateUse[]): LevelDoc {
  return { windowStart: doc.windowStart, key: doc.key, states: aggregates.map((a) => restoreState(a, doc.states)) };
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

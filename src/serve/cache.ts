import type { AggregateUse, Plan } from '../engine/plan.js';
import type { AggregationState } from '../engine/aggregation.js';
import type { RunStatus } from '../engine/runtime.js';
import { restoreState } from '../engine/store.js';
import {
  groupId,
  windowStarts,
  type KeyFilters,
  type Level,
  type LevelDoc,
  type PipelineReader,
  type StoredLevelDoc,
  type StoredReader,
  type WindowGroups,
  type WindowQuery,
} from '../engine/reader.js';
import { granularity } from './params.js';

export interface CacheOptions {
  /** Least time between two refreshes (default 2000 ms); a refresh never starts before the previous one ended. */
  refreshMs?: number;
  /** Without a published watermark, every held window is read again this often (default 60 s). */
  fullReloadMs?: number;
  /** How far back from the newest stored window the base level is read after a start (default 48 h). */
  baseSpanMs?: number;
  /** The same for each rollup level (default 7 days). */
  rollupSpanMs?: number;
  /** At most this many documents held per level (default 200,000): the least recently asked-for windows go first. */
  maxDocuments?: number;
  /** Warming begins this long after start() (default 1000 ms): the first requests after a start have the database to themselves. */
  warmDelayMs?: number;
  onError?: (error: Error) => void;
}

/** What a level holds in memory (see CachedReader.held). */
export interface HeldLevel {
  documents: number;
  windows: number;
  /** The oldest window held; null when none is. */
  from: number | null;
  /** Whether the newest span of the level is still being read after a start. */
  loading: boolean;
}

/** Windows of one request held at most; a request for more reads the range instead, and holds none of it. */
const MAX_HELD_READ = 2_000;
/** Windows read at once while warming. */
const WARM_CHUNK = 64;
/** The span of the view read first after a start: the dashboard's default range. */
const FIRST_VIEW_MS = 86_400_000;
/** Longest a request merges windows before it lets other requests run. */
const YIELD_AFTER_MS = 20;
/** Query signatures whose merged states a window keeps (filters and grouping); more start it over. */
const MAX_SIGNATURES = 16;

interface MergedGroup {
  value: unknown;
  members: StoredLevelDoc[];
  /** Merged states by aggregate name, each merged once, when first asked for. */
  states: Map<string, AggregationState>;
}

/** One window of a level as stored, complete: every document it holds (none for an empty window). */
class HeldWindow {
  /** Per query signature: the documents matching its filters grouped by its key. */
  private readonly merged = new Map<string, { documents: number; groups: Map<string, MergedGroup> }>();

  constructor(
    readonly start: number,
    readonly docs: readonly StoredLevelDoc[],
    /** The request tick that last asked for it; 0 for a window only warmed. */
    public used: number,
    /**
     * Read when its window was final (ended before the watermark less the allowed lateness): never
     * read again; false: read again at each refresh; undefined: read without a watermark.
     */
    readonly settled: boolean | undefined,
  ) {}

  /** Its documents matching the filters, restored. */
  restored(filters: KeyFilters, aggregates: readonly AggregateUse[]): LevelDoc[] {
    return this.docs.filter((doc) => matches(doc.key, filters)).map((doc) => restored(doc, aggregates));
  }

  /** Its documents matching the filters merged per value of key `by`: each aggregate's states merged once, then reused. */
  groups(filters: KeyFilters, aggregates: readonly AggregateUse[], by: number | undefined): WindowGroups {
    const signature = `${JSON.stringify([...filters])}|${by ?? ''}`;
    let entry = this.merged.get(signature);
    if (!entry) {
      if (this.merged.size >= MAX_SIGNATURES) this.merged.clear();
      entry = { documents: 0, groups: new Map() };
      for (const doc of this.docs) {
        if (!matches(doc.key, filters)) continue;
        entry.documents++;
        const value = by === undefined ? undefined : doc.key[by];
        const id = groupId(value);
        let group = entry.groups.get(id);
        if (!group) entry.groups.set(id, (group = { value, members: [], states: new Map() }));
        group.members.push(doc);
      }
      this.merged.set(signature, entry);
    }
    const groups = [...entry.groups.values()].map((group) => ({
      value: group.value,
      states: aggregates.map((aggregate) => {
        let state = group.states.get(aggregate.name);
        if (!state) {
          for (const doc of group.members) {
            const one = restoreState(aggregate, doc.states);
            if (state) state.merge(one);
            else state = one;
          }
          group.states.set(aggregate.name, state!);
        }
        return state!;
      }),
    }));
    return { windowStart: this.start, documents: entry.documents, groups };
  }
}

/** The windows of one level held in memory, and those being read. */
class LevelCache {
  readonly held = new Map<number, HeldWindow>();
  readonly reading = new Map<number, Promise<HeldWindow>>();
  documents = 0;
  /** Whether the newest span has been read since the last start or forget. */
  warm = false;

  constructor(
    readonly level: Level,
    readonly spanMs: number,
  ) {}

  put(window: HeldWindow): void {
    this.documents += window.docs.length - (this.held.get(window.start)?.docs.length ?? 0);
    this.held.set(window.start, window);
  }

  drop(start: number): void {
    this.documents -= this.held.get(start)?.docs.length ?? 0;
    this.held.delete(start);
  }
}

/**
 * The fast path of the serving layer: stored windows held in memory, read when a request first
 * needs them, kept fresh by a background refresh, so a server answers at once after it starts
 * and repeated requests never wait for the database.
 *
 * - Nothing waits for a full read. A request reads the windows it needs that are not held yet
 *   (the sink's reader: one indexed equality per window on FerretDB 1.x, one range on MongoDB)
 *   and keeps them; a request for more than MAX_HELD_READ windows reads its range as it is.
 * - What is stored is known from the extent runners publish with their status (one document),
 *   so a cold server reads no level to find where the data end; without one (runners before it
 *   published the extent) the coarsest level is read for it.
 * - After a start, the newest span of each level is read in the background, coarsest first and
 *   newest first, yielding to requests; `warming()` says whether it has finished.
 * - Each level holds at most maxDocuments: windows only warmed go first (oldest first), then the
 *   least recently asked for.
 * - A window keeps the merges of its documents per query signature (filters and grouping), so a
 *   series over all keys or a top-N merges a window's exact distinct sets once, not per request.
 *
 * A refresh reads again only the held windows that may have changed since they were read: those
 * not ending before the published watermark less the allowed lateness at their read (later
 * records for the others are dead letters), until a read finds them final. Of windows read
 * without a published watermark only the newest of each level is read again, and every
 * fullReloadMs they are dropped, to be read again when asked for.
 *
 * States are restored and merged with the aggregation kinds' own deserialize and merge, exactly
 * as when reading the database.
 */
export class CachedReader implements PipelineReader {
  readonly levels: readonly Level[];
  private readonly caches: LevelCache[];
  private tick = 0;
  /** Reads for requests in flight: warming waits while there are any. */
  private requests = 0;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private closed = false;
  private lastForget = Date.now();
  /** When warming may begin (see CacheOptions.warmDelayMs); the first view is read before. */
  private warmFrom = 0;
  private firstViewRead = false;
  /** The published status whose windows the held ones are as new as: what requests see, once a refresh has ended. */
  private served: RunStatus | null | undefined;
  /** Before the first refresh has ended: the published status, read at most once per refreshMs. */
  private published: { at: number; status: Promise<RunStatus | null> } | undefined;
  private scanned: { at: number; extent: Promise<{ first: number; last: number } | null> } | undefined;
  private readonly refreshMs: number;
  private readonly fullReloadMs: number;
  private readonly maxDocuments: number;

  constructor(
    private readonly inner: StoredReader,
    private readonly plan: Plan,
    private readonly options: CacheOptions = {},
    /** The live status of a run in this process, when there is one (else the published one is read). */
    private readonly liveStatus?: () => RunStatus,
  ) {
    this.levels = inner.levels;
    this.refreshMs = options.refreshMs ?? 2000;
    this.fullReloadMs = options.fullReloadMs ?? 60_000;
    this.maxDocuments = options.maxDocuments ?? 200_000;
    const baseSpan = options.baseSpanMs ?? 48 * 3_600_000;
    const rollupSpan = options.rollupSpanMs ?? 7 * 86_400_000;
    this.caches = this.levels.map((level, i) => new LevelCache(level, i === 0 ? baseSpan : rollupSpan));
  }

  /** Starts refreshing and warming in the background. */
  start(): void {
    if (this.timer) return;
    this.warmFrom = Date.now() + (this.options.warmDelayMs ?? 1000);
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

  /** One refresh of the held windows, then warming for up to refreshMs (concurrent callers share it). */
  refresh(): Promise<void> {
    this.refreshing ??= this.refreshOnce().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async refreshOnce(): Promise<void> {
    // a store that does not answer keeps the status served so far (its reads below fail the refresh)
    const published = await this.inner.publishedStatus().catch(() => this.served ?? null);
    const status = this.liveStatus?.() ?? published;
    const forget = Date.now() - this.lastForget >= this.fullReloadMs;
    if (forget) this.lastForget = Date.now();
    for (const cache of this.caches) {
      // windows read without a watermark: dropped every fullReloadMs, to be read again when asked for
      if (forget) for (const window of [...cache.held.values()]) if (window.settled === undefined) cache.drop(window.start);
      const stale: number[] = [];
      let newestUnbounded = -Infinity;
      for (const window of cache.held.values()) {
        if (window.settled === false) stale.push(window.start);
        else if (window.settled === undefined && window.start > newestUnbounded) newestUnbounded = window.start;
      }
      // of those, the newest alone may still change
      if (Number.isFinite(newestUnbounded)) stale.push(newestUnbounded);
      if (stale.length === 0) continue;
      stale.sort((a, b) => a - b);
      const docs = await this.inner.findStoredWindows(cache.level, stale);
      const changing = this.changingFrom(cache.level, status);
      for (const window of windowsOf(stale, docs, (start) => cache.held.get(start)?.used ?? 0, changing)) cache.put(window);
    }
    // requests see this status, and the extent in it, from now on: the held windows are as new
    this.served = published;
    await this.warm();
  }

  /**
   * Reads, newest first, the windows of each level's newest span not held yet, for up to refreshMs.
   * The view a dashboard opens on goes first, at once after a start (see firstView).
   */
  private async warm(): Promise<void> {
    if (!this.firstViewRead) {
      this.firstViewRead = true;
      const view = await this.firstView();
      if (view) await this.hold(view.index, view.starts, 0);
    }
    if (Date.now() < this.warmFrom) return;
    const extent = await this.storedExtent();
    if (!extent) return;
    const until = Date.now() + this.refreshMs;
    let chunks = 0;
    for (let i = this.caches.length - 1; i >= 0; i--) {
      const cache = this.caches[i];
      const { first, last } = onLevel(extent, cache.level.sizeMs);
      const starts = windowStarts(cache.level, Math.max(first, last - cache.spanMs), last).reverse();
      const missing = starts.filter((start) => !cache.held.has(start));
      cache.warm = missing.length === 0;
      for (let at = 0; at < missing.length; at += WARM_CHUNK) {
        // a level full of documents stops: the span held is what fits
        if (cache.documents >= this.maxDocuments || this.closed) break;
        // at least one chunk per refresh
        if (chunks++ > 0 && Date.now() >= until) return;
        while (this.requests > 0) await new Promise((resolve) => setTimeout(resolve, 5));
        await this.hold(i, missing.slice(at, at + WARM_CHUNK), 0);
      }
      cache.warm = true;
    }
  }

  /**
   * The windows of the last FIRST_VIEW_MS of stored data at the level a query over that span reads
   * when it names no granularity: the dashboard's first chart and the filters' values beside it
   * (one window more at the old end, as the dashboard's range ends at the watermark, not on a window),
   * newest first. Read at once after a start, while the server loads its modules, and held.
   */
  private async firstView(): Promise<{ index: number; starts: number[] } | undefined> {
    const extent = await this.storedExtent();
    if (!extent) return undefined;
    const sizeMs = granularity(undefined, this.levels, extent.last - FIRST_VIEW_MS, extent.last);
    const index = this.levels.findIndex((level) => level.sizeMs === sizeMs);
    const { first, last } = onLevel(extent, sizeMs);
    return { index, starts: windowStarts(this.levels[index], Math.max(first, last - FIRST_VIEW_MS - sizeMs), last).reverse() };
  }

  /** Whether windows of a newest span are still being read after a start. */
  warming(): boolean {
    return this.caches.some((cache) => !cache.warm);
  }

  /** The live status, else the published one requests see. */
  private async status(): Promise<RunStatus | null> {
    const published = await this.publishedStatus();
    return this.liveStatus?.() ?? published;
  }

  /**
   * The published status as of the last refresh (the held windows are at least as new); before
   * the first refresh has ended, as read from the store (again after refreshMs).
   */
  publishedStatus(): Promise<RunStatus | null> {
    if (this.served !== undefined) return Promise.resolve(this.served);
    const now = Date.now();
    if (!this.published || now - this.published.at >= this.refreshMs) {
      this.published = { at: now, status: this.inner.publishedStatus().catch(() => null) };
    }
    return this.published.status;
  }

  /**
   * The first window start of a level that may still change after a read now: windows ending at
   * or before watermark - lateness are final (a window back, for safety), and a drained run
   * changes nothing more (Infinity). Undefined without a watermark.
   */
  private changingFrom(level: Level, status: RunStatus | null): number | undefined {
    if (!status) return undefined;
    if (status.state !== 'running' && Date.now() - status.updatedAt >= this.fullReloadMs) return Infinity;
    if (status.watermark === null) return undefined;
    const lateness = this.plan.time?.allowedLatenessMs ?? 0;
    return Math.floor((status.watermark - lateness) / level.sizeMs) * level.sizeMs - level.sizeMs;
  }

  /** The level's windows at `starts`, from memory or read (once, however many ask at the same time). */
  private async hold(index: number, starts: readonly number[], used: number): Promise<Map<number, HeldWindow>> {
    const cache = this.caches[index];
    const out = new Map<number, HeldWindow>();
    const pending: [number, Promise<HeldWindow>][] = [];
    const toRead: number[] = [];
    for (const start of starts) {
      const window = cache.held.get(start);
      if (window) {
        if (used > window.used) window.used = used;
        out.set(start, window);
        continue;
      }
      const reading = cache.reading.get(start);
      if (reading) pending.push([start, reading]);
      else toRead.push(start);
    }
    if (toRead.length > 0) {
      // registered as being read before anything is awaited, so a request at the same time waits for this read
      const read = this.status().then(async (status) => {
        // whether a window is final is judged by the status before its read
        const changing = this.changingFrom(cache.level, status);
        const docs = await this.inner.findStoredWindows(cache.level, toRead);
        const windows = new Map<number, HeldWindow>();
        for (const window of windowsOf(toRead, docs, () => used, changing)) {
          windows.set(window.start, window);
          if (!this.closed) cache.put(window);
        }
        this.evict(cache);
        return windows;
      });
      for (const start of toRead)
        cache.reading.set(
          start,
          read.then((windows) => windows.get(start)!),
        );
      try {
        for (const [start, window] of await read) out.set(start, window);
      } finally {
        for (const start of toRead) cache.reading.delete(start);
      }
    }
    for (const [start, reading] of pending) out.set(start, await reading);
    return out;
  }

  /**
   * Drops windows while the level holds more than maxDocuments: only warmed ones first (oldest
   * first), then the least recently asked for.
   */
  private evict(cache: LevelCache): void {
    if (cache.documents <= this.maxDocuments) return;
    const order = [...cache.held.values()].sort((a, b) => a.used - b.used || a.start - b.start);
    for (const window of order) {
      if (cache.documents <= this.maxDocuments) break;
      cache.drop(window.start);
    }
  }

  /** The held windows of a level starting in [from, to) within the extent, read when missing; undefined when too many to hold. */
  private async windowsFor(level: Level, from: number, to: number): Promise<HeldWindow[] | undefined> {
    const index = this.levels.findIndex((l) => l.sizeMs === level.sizeMs);
    if (index < 0) throw new Error(`no level ${level.label}`);
    const extent = await this.storedExtent();
    if (!extent) return [];
    const { first, last } = onLevel(extent, level.sizeMs);
    const starts = windowStarts(level, Math.max(from, first), Math.min(to, last));
    if (starts.length > MAX_HELD_READ) return undefined;
    this.requests++;
    try {
      const windows = await this.hold(index, starts, ++this.tick);
      return starts.map((start) => windows.get(start)!);
    } finally {
      this.requests--;
    }
  }

  async find(level: Level, from: number, to: number, filters: KeyFilters, aggregates: readonly AggregateUse[]): Promise<LevelDoc[]> {
    const windows = await this.windowsFor(level, from, to);
    if (windows) return windows.flatMap((window) => window.restored(filters, aggregates));
    return this.inner.find(level, from, to, filters, aggregates);
  }

  async windowGroups(query: WindowQuery): Promise<WindowGroups[]> {
    const { level, from, to, filters, aggregates, by } = query;
    const windows = await this.windowsFor(level, from, to);
    if (!windows) return this.inner.windowGroups(query);
    const out: WindowGroups[] = [];
    let since = Date.now();
    for (const window of windows) {
      const groups = window.groups(filters, aggregates, by);
      if (groups.documents > 0) out.push(groups);
      // merging windows of large exact sets the first time takes a while: other requests go on meanwhile
      if (Date.now() - since > YIELD_AFTER_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        since = Date.now();
      }
    }
    return out;
  }

  /** The first window start and last window end stored, on the coarsest level's windows. */
  async extent(): Promise<{ first: number; last: number } | null> {
    const extent = await this.storedExtent();
    return extent && onLevel(extent, this.levels[this.levels.length - 1].sizeMs);
  }

  /**
   * The extent runners published with their status, on base windows; without one, read from the
   * coarsest level (again after fullReloadMs).
   */
  private storedExtent(): Promise<{ first: number; last: number } | null> {
    return this.publishedStatus().then((status) => {
      if (status?.extent) return status.extent;
      const now = Date.now();
      if (!this.scanned || now - this.scanned.at >= this.fullReloadMs) {
        const extent = this.inner.extent();
        this.scanned = { at: now, extent };
        extent.catch(() => (this.scanned = undefined));
      }
      return this.scanned.extent;
    });
  }

  /** What each level holds in memory: documents, windows, the oldest window held, and whether its newest span is still being read. */
  held(): Record<string, HeldLevel> {
    const out: Record<string, HeldLevel> = {};
    for (const cache of this.caches) {
      let from = Infinity;
      for (const start of cache.held.keys()) if (start < from) from = start;
      out[cache.level.label] = {
        documents: cache.documents,
        windows: cache.held.size,
        from: Number.isFinite(from) ? from : null,
        loading: !cache.warm,
      };
    }
    return out;
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

/** The windows at `starts` from the documents read for them (a window without documents is held empty). */
function windowsOf(
  starts: readonly number[],
  docs: readonly StoredLevelDoc[],
  used: (start: number) => number,
  changingFrom: number | undefined,
): HeldWindow[] {
  const byStart = new Map<number, StoredLevelDoc[]>(starts.map((start) => [start, []]));
  for (const doc of docs) byStart.get(doc.windowStart)?.push(doc);
  return [...byStart].map(
    ([start, windowDocs]) => new HeldWindow(start, windowDocs, used(start), changingFrom === undefined ? undefined : start < changingFrom),
  );
}

/** An extent widened to whole windows of `sizeMs`. */
function onLevel(extent: { first: number; last: number }, sizeMs: number): { first: number; last: number } {
  return { first: Math.floor(extent.first / sizeMs) * sizeMs, last: Math.ceil(extent.last / sizeMs) * sizeMs };
}

function restored(doc: StoredLevelDoc, aggregates: readonly AggregateUse[]): LevelDoc {
  return { windowStart: doc.windowStart, key: doc.key, states: aggregates.map((a) => restoreState(a, doc.states)) };
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

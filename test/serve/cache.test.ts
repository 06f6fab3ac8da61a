/**
 * The serving layer's cache over a reader whose documents are plain arrays: what a cold request
 * reads, what warming reads and in which order, what a budget keeps, what a refresh reads again,
 * and that merged states are reused and equal a merge of the records. The same cache over FerretDB
 * is checked in test/integration/serve-api.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CachedReader, type CacheOptions } from '../../src/serve/cache.js';
import {
  groupDocs,
  type KeyFilters,
  type Level,
  type LevelDoc,
  type StoredLevelDoc,
  type StoredReader,
  type WindowGroups,
  type WindowQuery,
} from '../../src/engine/reader.js';
import type { RunStatus } from '../../src/engine/runtime.js';
import type { AggregateUse } from '../../src/engine/plan.js';
import { restoreState } from '../../src/engine/store.js';
import { querySeries, queryTop } from '../../src/serve/query.js';
import { compileText } from '../helpers/pipeline.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 5, 1);

const plan = compileText(`
name: cached
source: { stdin: {} }
time: { field: timestamp, format: epochMillis, allowedLateness: 1m }
window: { tumbling: 1m, rollups: [1h] }
groupBy: [publisher, geo]
aggregate: { imps: count, cookies: { distinct: cookie } }
sink: { console: {} }
`);
const [imps, cookies] = plan.aggregates;
const levels: Level[] = [
  { sizeMs: MINUTE, label: '1m', where: 'c' },
  { sizeMs: HOUR, label: '1h', where: 'c_1h' },
];

/** One record: a minute, a key, a cookie. */
interface Row {
  minute: number;
  key: [string, string];
  cookie: string;
}

type Read = { how: 'range' | 'windows'; level: string; from?: number; to?: number; starts?: number[] };

/** Documents built from rows, hours merged from minutes, with every read logged. */
class ArrayReader implements StoredReader {
  readonly levels = levels;
  readonly rows: Row[] = [];
  readonly reads: Read[] = [];
  status: RunStatus | null = null;
  extentReads = 0;

  add(minute: number, key: [string, string], cookie: string): void {
    this.rows.push({ minute, key, cookie });
  }

  /** The documents of a level, built from the rows. */
  docs(level: Level): StoredLevelDoc[] {
    const byId = new Map<string, { windowStart: number; key: string[]; states: AggregateState }>();
    for (const row of this.rows) {
      const start = Math.floor(row.minute / level.sizeMs) * level.sizeMs;
      const id = `${start}|${row.key.join()}`;
      let doc = byId.get(id);
      if (!doc) byId.set(id, (doc = { windowStart: start, key: row.key, states: newStates() }));
      doc.states[0].add(undefined, 0);
      doc.states[1].add(row.cookie, 0);
    }
    return [...byId.values()].map((d) => ({
      windowStart: d.windowStart,
      key: d.key,
      states: { imps: d.states[0].serialize(), cookies: d.states[1].serialize() },
    }));
  }

  findStored(level: Level, from: number, to: number, filters: KeyFilters): Promise<StoredLevelDoc[]> {
    this.reads.push({ how: 'range', level: level.label, from, to });
    return Promise.resolve(this.docs(level).filter((d) => d.windowStart >= from && d.windowStart < to && matches(d.key, filters)));
  }

  findStoredWindows(level: Level, starts: readonly number[]): Promise<StoredLevelDoc[]> {
    this.reads.push({ how: 'windows', level: level.label, starts: [...starts] });
    const wanted = new Set(starts);
    return Promise.resolve(this.docs(level).filter((d) => wanted.has(d.windowStart)));
  }

  async find(level: Level, from: number, to: number, filters: KeyFilters, aggregates: readonly AggregateUse[]): Promise<LevelDoc[]> {
    return (await this.findStored(level, from, to, filters)).map((d) => ({
      ...d,
      states: aggregates.map((a) => restoreState(a, d.states)),
    }));
  }

  async windowGroups({ level, from, to, filters, aggregates, by }: WindowQuery): Promise<WindowGroups[]> {
    return groupDocs(await this.find(level, from, to, filters, aggregates), by);
  }

  /** The coarsest level's first window start and last window end, as a scan finds them. */
  extent(): Promise<{ first: number; last: number } | null> {
    this.extentReads++;
    const starts = this.rows.map((r) => Math.floor(r.minute / HOUR) * HOUR);
    return Promise.resolve(starts.length === 0 ? null : { first: Math.min(...starts), last: Math.max(...starts) + HOUR });
  }

  publishedStatus = () => Promise.resolve(this.status);
  ping = () => Promise.resolve();
  close = () => Promise.resolve();
}

type AggregateState = ReturnType<typeof newStates>;
function newStates() {
  return [imps.kind.create(imps.options), cookies.kind.create(cookies.options)] as const;
}

function matches(key: readonly unknown[], filters: KeyFilters): boolean {
  return [...filters].every(([i, v]) => key[i] === v);
}

/** A status as a runner publishes it, the extent of the reader's rows included. */
function status(reader: ArrayReader, watermark: number | null, state: RunStatus['state'] = 'running'): RunStatus {
  const minutes = reader.rows.map((r) => r.minute);
  return {
    pipeline: 'cached',
    state,
    records: reader.rows.length,
    batches: 1,
    deadLetters: {},
    watermark,
    lastBatchAt: null,
    lastFlushMs: 0,
    lag: {},
    startedAt: 0,
    updatedAt: Date.now(),
    windows: null,
    extent: { first: Math.min(...minutes), last: Math.max(...minutes) + MINUTE },
  };
}

/** 6 hours of minutes: keys a/x and a/y every minute, b/x in even hours; cookies cycle through 50. */
function sixHours(): ArrayReader {
  const reader = new ArrayReader();
  for (let m = 0; m < 6 * 60; m++) {
    const minute = T0 + m * MINUTE;
    for (let i = 0; i <= m % 3; i++) reader.add(minute, ['a', 'x'], `c${(m * 7 + i) % 50}`);
    reader.add(minute, ['a', 'y'], `c${m % 50}`);
    if (Math.floor(m / 60) % 2 === 0) reader.add(minute, ['b', 'x'], `c${(m * 3) % 50}`);
  }
  // drained long ago: every window is final
  reader.status = { ...status(reader, T0 + 6 * HOUR, 'drained'), updatedAt: 0 };
  return reader;
}

/** Refreshes until warming ends. */
async function settle(cache: CachedReader): Promise<void> {
  for (let i = 0; i < 200 && cache.warming(); i++) await cache.refresh();
  assert.equal(cache.warming(), false, 'the cache never warmed');
}

/** A query's documents as comparable text, sorted. */
function summary(docs: LevelDoc[]): string[] {
  return docs.map((d) => `${d.windowStart}|${d.key.join()}=${d.states.map((s) => String(s.result())).join('/')}`).sort();
}

/** The reference of a range: imps and distinct cookies of the rows in it matching the filters. */
function referenceOf(reader: ArrayReader, from: number, to: number, filters: KeyFilters): [number, number] {
  const rows = reader.rows.filter((r) => r.minute >= from && r.minute < to && matches(r.key, filters));
  return [rows.length, new Set(rows.map((r) => r.cookie)).size];
}

const options: CacheOptions = { refreshMs: 0, baseSpanMs: 2 * HOUR, rollupSpanMs: 6 * HOUR };

test('a cold request reads only the windows it needs, once, and answers as the range read does', async () => {
  const reader = sixHours();
  const cache = new CachedReader(reader, plan, options);
  const from = T0 + 3 * HOUR + 17 * MINUTE;
  const to = T0 + 3 * HOUR + 27 * MINUTE;
  const filters = new Map([[0, 'a']]);
  const found = await cache.find(levels[0], from, to, filters, [imps, cookies]);
  assert.deepEqual(summary(found), summary(await reader.find(levels[0], from, to, filters, [imps, cookies])));
  assert.equal(found.length, 20);
  // the ten minutes of the request, nothing else, and no scan for the extent (the status has it)
  const starts = Array.from({ length: 10 }, (_, i) => from + i * MINUTE);
  assert.deepEqual(reader.reads.slice(0, 1), [{ how: 'windows', level: '1m', starts }]);
  assert.equal(reader.extentReads, 0);
  reader.reads.length = 0;
  await cache.find(levels[0], from, to, new Map(), [imps]);
  assert.deepEqual(reader.reads, [], 'held windows are not read again');
  assert.equal(cache.warming(), true);
});

test('warming reads the newest span of each level, coarsest first, newest first; every answer equals the records', async () => {
  const reader = sixHours();
  const cache = new CachedReader(reader, plan, options);
  await settle(cache);
  const windowReads = reader.reads.filter((r) => r.how === 'windows');
  assert.deepEqual(windowReads[0], { how: 'windows', level: '1h', starts: [5, 4, 3, 2, 1, 0].map((h) => T0 + h * HOUR) });
  assert.deepEqual(
    windowReads.slice(1).flatMap((r) => r.starts),
    Array.from({ length: 120 }, (_, i) => T0 + 6 * HOUR - (i + 1) * MINUTE),
  );
  assert.deepEqual(cache.held(), {
    '1m': { documents: 60 * 3 + 60 * 2, windows: 120, from: T0 + 4 * HOUR, loading: false },
    '1h': { documents: 3 + 2 + 3 + 2 + 3 + 2, windows: 6, from: T0, loading: false },
  });
  reader.reads.length = 0;
  for (const [from, to, filters] of [
    [T0, T0 + 6 * HOUR, new Map<number, string>()],
    [T0 + 4 * HOUR + 3 * MINUTE, T0 + 5 * HOUR + 50 * MINUTE, new Map([[1, 'x']])],
  ] as const) {
    for (const granularityMs of [MINUTE, 10 * MINUTE, HOUR]) {
      const series = await querySeries(cache, { from, to, granularityMs, filters, aggregates: [imps, cookies] });
      for (const point of series.points) {
        assert.deepEqual(point.values, referenceOf(reader, point.time, point.time + granularityMs, filters), `${point.time - T0}`);
      }
    }
  }
  // the first series (minutes of 6 hours) read the 4 hours of minutes before the held span, once
  assert.deepEqual(reader.reads, [{ how: 'windows', level: '1m', starts: Array.from({ length: 240 }, (_, i) => T0 + i * MINUTE) }]);
  reader.reads.length = 0;
  const top = await queryTop(cache, {
    from: T0 + 30 * MINUTE,
    to: T0 + 5 * HOUR + 30 * MINUTE,
    aggregates: [cookies],
    rankedBy: (results) => results[0],
    by: 0,
    filters: new Map(),
    limit: 5,
  });
  assert.deepEqual(
    top.rows,
    ['a', 'b']
      .map((value) => ({ value, result: referenceOf(reader, T0 + 30 * MINUTE, T0 + 5 * HOUR + 30 * MINUTE, new Map([[0, value]]))[1] }))
      .sort((x, y) => y.result - x.result),
  );
  assert.deepEqual(reader.reads, [], 'all held');
});

test('after a start the view a dashboard opens on (the newest 24 hours, at the level it reads) is read at once, before warming', async () => {
  // 30 hours of one key: a 24-hour view reads hours
  const reader = new ArrayReader();
  for (let m = 0; m < 30 * 60; m += 10) reader.add(T0 + m * MINUTE, ['a', 'x'], `c${m % 7}`);
  reader.status = { ...status(reader, T0 + 30 * HOUR, 'drained'), updatedAt: 0 };
  const cache = new CachedReader(reader, plan, { ...options, warmDelayMs: 60_000 });
  cache.start();
  await cache.refresh();
  const firstView = Array.from({ length: 25 }, (_, i) => T0 + (29 - i) * HOUR);
  assert.deepEqual(reader.reads, [{ how: 'windows', level: '1h', starts: firstView }], 'the first view alone: warming waits');
  assert.equal(cache.warming(), true);
  reader.reads.length = 0;
  const to = T0 + 30 * HOUR - 23 * MINUTE;
  const query = { from: to - 24 * HOUR, to, granularityMs: HOUR, filters: new Map<number, string>(), aggregates: [imps, cookies] };
  const series = await querySeries(cache, query);
  assert.equal(series.points.length, 25);
  for (const point of series.points) assert.deepEqual(point.values, referenceOf(reader, point.time, point.time + HOUR, new Map()));
  assert.deepEqual(reader.reads, [], "the dashboard's first series is answered from the windows read at the start");
  await cache.close();
});

test('a window merges its documents once per query signature; callers never change what it keeps', async () => {
  const reader = sixHours();
  const cache = new CachedReader(reader, plan, options);
  const [first] = await cache.windowGroups({ level: levels[1], from: T0, to: T0 + HOUR, filters: new Map(), aggregates: [cookies] });
  const [again] = await cache.windowGroups({ level: levels[1], from: T0, to: T0 + HOUR, filters: new Map(), aggregates: [imps, cookies] });
  assert.equal(again.groups[0].states[1], first.groups[0].states[0], 'the merged set is reused');
  // a series over 2 hours merges two windows' sets into a new one: the windows' own stay as they were
  const before = first.groups[0].states[0].result();
  const series = await querySeries(cache, {
    from: T0,
    to: T0 + 2 * HOUR,
    granularityMs: 2 * HOUR,
    filters: new Map(),
    aggregates: [cookies],
  });
  assert.deepEqual(series.points[0].values, [referenceOf(reader, T0, T0 + 2 * HOUR, new Map())[1]]);
  assert.equal(first.groups[0].states[0].result(), before);
  assert.equal(before, referenceOf(reader, T0, T0 + HOUR, new Map())[1]);
  const byPublisher = await cache.windowGroups({
    level: levels[1],
    from: T0,
    to: T0 + HOUR,
    filters: new Map(),
    aggregates: [cookies],
    by: 0,
  });
  assert.deepEqual(
    byPublisher[0].groups.map((g) => [g.value, g.states[0].result()]),
    ['a', 'b'].map((p) => [p, referenceOf(reader, T0, T0 + HOUR, new Map([[0, p]]))[1]]),
  );
});

test('a budget of documents keeps the windows asked for and warms only what fits', async () => {
  const reader = sixHours();
  const cache = new CachedReader(reader, plan, { ...options, maxDocuments: 200 });
  // asked for before warming: minute windows of hour 0 (3 keys each)
  await cache.find(levels[0], T0, T0 + 10 * MINUTE, new Map(), [imps]);
  await settle(cache);
  const held = cache.held()['1m'];
  assert.ok(held.documents <= 200 + 3 * 64, `${held.documents}`);
  reader.reads.length = 0;
  await cache.find(levels[0], T0, T0 + 10 * MINUTE, new Map(), [imps]);
  assert.deepEqual(reader.reads, [], 'the windows asked for are kept over warmed ones');
  // the newest windows were warmed first and outlive older warmed ones
  await cache.find(levels[0], T0 + 6 * HOUR - 10 * MINUTE, T0 + 6 * HOUR, new Map(), [imps]);
  assert.deepEqual(reader.reads, []);
});

test('a refresh reads again only the held windows that could change, even when the watermark jumped', async () => {
  const reader = sixHours();
  reader.status = status(reader, T0 + 5 * HOUR + 10 * MINUTE);
  const cache = new CachedReader(reader, plan, options);
  await settle(cache);
  // a batch lands: a late record in minute 5:09 (not final: it ends after watermark - lateness)
  // and a new hour; the watermark moves on by more than an hour
  reader.add(T0 + 5 * HOUR + 9 * MINUTE, ['a', 'x'], 'late');
  reader.add(T0 + 6 * HOUR + 30 * MINUTE, ['b', 'y'], 'new');
  reader.status = status(reader, T0 + 6 * HOUR + 40 * MINUTE);
  reader.reads.length = 0;
  await cache.refresh();
  const rereads = reader.reads.filter((r) => r.how === 'windows').slice(0, 2);
  // the held windows from the old bound (5:10 - 1m of lateness, a window back): 5:08 on, hour 4 on
  assert.deepEqual(rereads, [
    { how: 'windows', level: '1m', starts: Array.from({ length: 52 }, (_, i) => T0 + 5 * HOUR + (8 + i) * MINUTE) },
    { how: 'windows', level: '1h', starts: [T0 + 4 * HOUR, T0 + 5 * HOUR] },
  ]);
  const found = await cache.find(levels[0], T0 + 5 * HOUR, T0 + 7 * HOUR, new Map(), [imps, cookies]);
  assert.deepEqual(summary(found), summary(await reader.find(levels[0], T0 + 5 * HOUR, T0 + 7 * HOUR, new Map(), [imps, cookies])));
  assert.ok(summary(found).includes(`${T0 + 6 * HOUR + 30 * MINUTE}|b,y=1/1`));
  // settled windows (read when final) are never read again
  reader.reads.length = 0;
  await cache.refresh();
  assert.ok(
    reader.reads.every((r) => r.starts!.every((s) => s >= T0 + 6 * HOUR + 30 * MINUTE - 2 * MINUTE || r.level === '1h')),
    JSON.stringify(reader.reads),
  );
});

test('a request for more windows than are worth holding reads the range and holds none of it', async () => {
  const reader = new ArrayReader();
  for (let m = 0; m < 2 * 24 * 60; m++) for (let k = 0; k < 3; k++) reader.add(T0 + m * MINUTE, [`p${k}`, 'x'], `c${m % 9}`);
  reader.status = status(reader, T0 + 48 * HOUR, 'drained');
  const cache = new CachedReader(reader, plan, options);
  const found = await cache.find(levels[0], T0, T0 + 48 * HOUR, new Map([[0, 'p1']]), [imps]);
  assert.equal(found.length, 2 * 24 * 60);
  assert.deepEqual(reader.reads, [{ how: 'range', level: '1m', from: T0, to: T0 + 48 * HOUR }]);
  assert.equal(cache.held()['1m'].documents, 0);
});

test('without a published extent the coarsest level is read for it; an empty store answers nothing', async () => {
  const reader = sixHours();
  reader.status = null;
  const cache = new CachedReader(reader, plan, options);
  assert.deepEqual(await cache.extent(), { first: T0, last: T0 + 6 * HOUR });
  assert.equal(reader.extentReads, 1);
  await cache.extent();
  assert.equal(reader.extentReads, 1, 'read once, not per request');
  const empty = new CachedReader(new ArrayReader(), plan, options);
  assert.deepEqual(await empty.find(levels[0], T0, T0 + HOUR, new Map(), [imps]), []);
});

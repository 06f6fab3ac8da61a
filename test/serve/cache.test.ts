/**
 * The serving layer's cache over a reader whose documents are plain arrays: which base windows it
 * holds, what it reads by address, and what a refresh reads again. The same cache over FerretDB is
 * checked in test/integration/serve-api.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CachedReader, type CacheOptions } from '../../src/serve/cache.js';
import type { KeyFilters, Level, LevelDoc, StoredLevelDoc, StoredReader, WindowKey } from '../../src/engine/reader.js';
import type { RunStatus } from '../../src/engine/runtime.js';
import { restoreState } from '../../src/engine/store.js';
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
aggregate: { imps: count }
sink: { console: {} }
`);
const [imps] = plan.aggregates;
const levels: Level[] = [
  { sizeMs: MINUTE, label: '1m', where: 'c' },
  { sizeMs: HOUR, label: '1h', where: 'c_1h' },
];

/** A count's stored state. */
function countState(n: number): StoredLevelDoc['states'] {
  const state = imps.kind.create(imps.options);
  for (let i = 0; i < n; i++) state.add(undefined, 0);
  return { imps: state.serialize() };
}

/** Documents in arrays, with every read logged; minutes hold `keysAt(minute)`, hours the union of their minutes. */
class ArrayReader implements StoredReader {
  readonly levels = levels;
  readonly base = new Map<string, StoredLevelDoc>();
  readonly reads: { how: 'range' | 'at'; level: string; from?: number; to?: number; count?: number }[] = [];
  status: RunStatus | null = null;

  put(windowStart: number, key: string[], n: number): void {
    this.base.set(`${windowStart}|${key.join()}`, { windowStart, key, states: countState(n) });
  }

  private hours(): StoredLevelDoc[] {
    const byHour = new Map<string, StoredLevelDoc>();
    for (const doc of this.base.values()) {
      const start = Math.floor(doc.windowStart / HOUR) * HOUR;
      const id = `${start}|${doc.key.join()}`;
      const n = (byHour.get(id)?.states.imps as number | undefined) ?? 0;
      byHour.set(id, { windowStart: start, key: doc.key, states: { imps: n + (doc.states.imps as number) } });
    }
    return [...byHour.values()];
  }

  private docs(level: Level): StoredLevelDoc[] {
    return level.sizeMs === MINUTE ? [...this.base.values()] : this.hours();
  }

  findStored(level: Level, from: number, to: number, filters: KeyFilters): Promise<StoredLevelDoc[]> {
    this.reads.push({ how: 'range', level: level.label, from, to });
    return Promise.resolve(this.docs(level).filter((d) => d.windowStart >= from && d.windowStart < to && matches(d.key, filters)));
  }

  findStoredAt(level: Level, at: readonly WindowKey[]): Promise<StoredLevelDoc[]> {
    this.reads.push({ how: 'at', level: level.label, count: at.length });
    const byId = new Map(this.docs(level).map((d) => [`${d.windowStart}|${d.key.join()}`, d]));
    return Promise.resolve(at.flatMap((a) => byId.get(`${a.windowStart}|${a.key.join()}`) ?? []));
  }

  async find(level: Level, from: number, to: number, filters: KeyFilters): Promise<LevelDoc[]> {
    return (await this.findStored(level, from, to, filters)).map((d) => ({ ...d, states: [restoreState(imps, d.states)] }));
  }

  addressesCheaper = () => Promise.resolve(true);
  extent = () => Promise.resolve(null);
  publishedStatus = () => Promise.resolve(this.status);
  ping = () => Promise.resolve();
  close = () => Promise.resolve();
}

function matches(key: readonly unknown[], filters: KeyFilters): boolean {
  return [...filters].every(([i, v]) => key[i] === v);
}

/** 6 hours of minutes, keys a/x, a/y and (in even hours only) b/x, n = the minute's index mod 7 + 1. */
function sixHours(): ArrayReader {
  const reader = new ArrayReader();
  for (let m = 0; m < 6 * 60; m++) {
    const start = T0 + m * MINUTE;
    reader.put(start, ['a', 'x'], (m % 7) + 1);
    reader.put(start, ['a', 'y'], 1);
    if (Math.floor(m / 60) % 2 === 0) reader.put(start, ['b', 'x'], 2);
  }
  return reader;
}

/** Refreshes until the held base windows stop changing. */
async function settle(cache: CachedReader): Promise<void> {
  let before = '';
  for (let i = 0; i < 100; i++) {
    await cache.refresh();
    const now = JSON.stringify(cache.held());
    if (now === before) return;
    before = now;
  }
  throw new Error('the cache never settled');
}

/** A query's documents as comparable text, sorted. */
function summary(docs: LevelDoc[]): string[] {
  return docs.map((d) => `${d.windowStart}|${d.key.join()}=${String(d.states[0].result())}`).sort();
}

const options: CacheOptions = { refreshMs: 0, baseSpanMs: 2 * HOUR };

test('the newest span of base windows is held; older windows are read by address; both equal the range read', async () => {
  const reader = sixHours();
  const cache = new CachedReader(reader, plan, options);
  await settle(cache);
  // 2 hours of the newest windows: hour 4 (even: 3 keys) and hour 5 (2 keys)
  assert.deepEqual(cache.held(), {
    '1m': { documents: 60 * 3 + 60 * 2, from: T0 + 4 * HOUR, loading: false },
    '1h': { documents: 3 + 2 + 3 + 2 + 3 + 2 },
  });
  for (const [from, to, filters] of [
    [T0, T0 + 6 * HOUR, new Map()],
    [T0 + 3 * HOUR + 17 * MINUTE, T0 + 4 * HOUR + 3 * MINUTE, new Map([[0, 'b']])],
    [T0 + 4 * HOUR + 30 * MINUTE, T0 + 5 * HOUR, new Map([[1, 'x']])],
  ] as const) {
    reader.reads.length = 0;
    const found = await cache.find(levels[0], from, to, filters, [imps]);
    const expected = await reader.find(levels[0], from, to, filters);
    assert.deepEqual(summary(found), summary(expected), `[${from - T0}, ${to - T0})`);
    assert.ok(found.length > 0);
    // older than the held span: one read by address of exactly the windows and keys the hours name
    const older = reader.reads.filter((r) => r.how === 'at');
    if (from < T0 + 4 * HOUR) {
      const expectedAddresses = expected.filter((d) => d.windowStart < T0 + 4 * HOUR).length;
      assert.deepEqual(older, [{ how: 'at', level: '1m', count: expectedAddresses }]);
    } else assert.deepEqual(older, []);
  }
});

test('a budget of documents shrinks the held span to whole windows', async () => {
  const reader = sixHours();
  const cache = new CachedReader(reader, plan, { ...options, baseDocuments: 200 });
  await settle(cache);
  // hour 5 holds 120 documents; of hour 4 (3 per minute), the newest 26 minutes fit (78 + 120 = 198)
  assert.deepEqual(cache.held()['1m'], { documents: 198, from: T0 + 4 * HOUR + 34 * MINUTE, loading: false });
  const found = await cache.find(levels[0], T0 + 4 * HOUR, T0 + 6 * HOUR, new Map(), [imps]);
  assert.deepEqual(summary(found), summary(await reader.find(levels[0], T0 + 4 * HOUR, T0 + 6 * HOUR, new Map())));
});

test('a refresh reads again every window that could change since the last one, even when the watermark jumped', async () => {
  const reader = sixHours();
  const status = (watermark: number): RunStatus => ({
    pipeline: 'cached',
    state: 'running',
    records: 0,
    batches: 0,
    deadLetters: {},
    watermark,
    lastBatchAt: null,
    lastFlushMs: 0,
    lag: {},
    startedAt: 0,
    updatedAt: Date.now(),
  });
  reader.status = status(T0 + 5 * HOUR + 10 * MINUTE);
  const cache = new CachedReader(reader, plan, options);
  await settle(cache);
  // a batch lands: a late record in minute 5:09 (not final: it ends after watermark - lateness) and
  // a new hour; the watermark moves on by more than an hour
  reader.put(T0 + 5 * HOUR + 9 * MINUTE, ['a', 'x'], 100);
  reader.put(T0 + 6 * HOUR + 30 * MINUTE, ['b', 'y'], 5);
  reader.status = status(T0 + 6 * HOUR + 40 * MINUTE);
  reader.reads.length = 0;
  await cache.refresh();
  const refreshReads = reader.reads.filter((r) => r.how === 'range');
  const found = await cache.find(levels[0], T0 + 5 * HOUR, T0 + 7 * HOUR, new Map(), [imps]);
  assert.deepEqual(summary(found), summary(await reader.find(levels[0], T0 + 5 * HOUR, T0 + 7 * HOUR, new Map())));
  assert.ok(summary(found).includes(`${T0 + 5 * HOUR + 9 * MINUTE}|a,x=100`));
  // the hours from the old bound (5:10 - 1m of lateness, a window back: 4:00), not the whole level
  assert.deepEqual(refreshReads, [{ how: 'range', level: '1h', from: T0 + 4 * HOUR, to: 8.64e15 }]);
  // the held span follows the newest window: 2 hours back from 7:00
  assert.equal(cache.held()['1m'].from, T0 + 5 * HOUR);
});

test('a request for more base documents than are worth reading one by one reads the range', async () => {
  const reader = new ArrayReader();
  // 2 days of 10 keys per minute: 28,200 addresses before the held hour
  for (let m = 0; m < 2 * 24 * 60; m++) for (let k = 0; k < 10; k++) reader.put(T0 + m * MINUTE, [`p${k}`, 'x'], 1);
  const cache = new CachedReader(reader, plan, { ...options, baseSpanMs: HOUR });
  await settle(cache);
  reader.reads.length = 0;
  const found = await cache.find(levels[0], T0, T0 + 48 * HOUR, new Map(), [imps]);
  assert.equal(found.length, 28_800);
  assert.deepEqual(reader.reads, [{ how: 'range', level: '1m', from: T0, to: T0 + 47 * HOUR }]);
});

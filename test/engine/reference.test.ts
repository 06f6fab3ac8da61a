import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getAggregationKind } from '../../src/components/aggregations/index.js';
import { compileText, runScripted } from '../helpers/pipeline.js';
import { exactSum, groupBy, seededRandom } from '../helpers/reference.js';

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

interface Impression {
  timestamp: number;
  publisher: string;
  geo: string | null;
  bid: number;
  cookie: string;
}

function randomImpressions(seed: number, n: number): Impression[] {
  const r = seededRandom(seed);
  // distinct timestamps, shuffled but mostly ascending (within the 5 s out-of-order allowance)
  return Array.from({ length: n }, (_, i) => ({
    timestamp: T0 + i * 37 - Math.floor(r() * 4000),
    publisher: `publisher_${1 + Math.floor(r() * 3)}`,
    geo: r() < 0.1 ? null : ['US', 'CA', 'GB', 'DE'][Math.floor(r() * 4)],
    bid: Math.floor(1 + r() * 999_999) / 1e6,
    cookie: `cookie_${Math.floor(r() * 5000)}`,
  }));
}

const PIPELINE = `
name: reference
source: { stdin: {} }
batch: { maxRecords: 1000 }
time: { field: timestamp, format: epochMillis, maxOutOfOrder: 5s, allowedLateness: 1m }
window: { tumbling: 1m }
groupBy: [publisher, geo]
aggregate:
  n: count
  total: { sum: bid }
  avgBid: { avg: bid }
  lo: { min: bid }
  hi: { max: bid }
  cookies: { distinct: cookie }
  uniques: { approxDistinct: cookie }
  firstBid: { first: bid }
  lastBid: { last: bid }
  median: { quantile: bid, q: 0.5 }
sink: { console: {} }
`;

test('output rows equal a plain reference computation', async () => {
  const records = randomImpressions(7, 20_000);
  const plan = compileText(PIPELINE);
  const chunks = [];
  for (let i = 0; i < records.length; i += 997) {
    const slice = records.slice(i, i + 997);
    chunks.push([{ partition: 'p0', offsets: slice.map((_, j) => i + j), payloads: slice.map((r) => JSON.stringify(r)) }]);
  }
  const { rows, deadLetters } = await runScripted(plan, chunks);
  assert.deepEqual(deadLetters, []);

  const hll = getAggregationKind('approxDistinct')!;
  const expected = groupBy(records, (r) => JSON.stringify([Math.floor(r.timestamp / MINUTE) * MINUTE, r.publisher, r.geo]));
  assert.equal(rows.length, expected.size);
  for (const row of rows) {
    const id = JSON.stringify([(row.windowStart as Date).getTime(), row.publisher, row.geo]);
    const group = expected.get(id);
    assert.ok(group, `unexpected row ${id}`);
    const bids = group.map((r) => r.bid);
    const byTime = [...group].sort((a, b) => a.timestamp - b.timestamp);
    const distinct = new Set(group.map((r) => r.cookie));
    assert.equal((row.windowEnd as Date).getTime() - (row.windowStart as Date).getTime(), MINUTE);
    assert.equal(row.n, group.length, id);
    assert.equal(row.total, exactSum(bids), id);
    assert.equal(row.avgBid, exactSum(bids) / bids.length, id);
    assert.equal(row.lo, Math.min(...bids), id);
    assert.equal(row.hi, Math.max(...bids), id);
    assert.equal(row.cookies, distinct.size, id);
    assert.equal(row.firstBid, byTime[0].bid, id);
    assert.equal(row.lastBid, byTime[byTime.length - 1].bid, id);

    // approxDistinct: exactly an HLL built directly from the same cookies, and within 3 standard errors
    const direct = hll.create({});
    for (const r of group) direct.add(r.cookie, r.timestamp);
    assert.equal(row.uniques, direct.result(), id);
    const standardError = 1.04 / Math.sqrt(2 ** 14);
    assert.ok(Math.abs((row.uniques as number) - distinct.size) <= 3 * standardError * distinct.size + 1, id);

    // quantile: within the sketch's relative accuracy of the exact median's neighbourhood
    const sorted = [...bids].sort((a, b) => a - b);
    const rank = Math.floor(0.5 * (sorted.length - 1));
    const median = row.median as number;
    assert.ok(
      median >= sorted[Math.max(0, rank - 1)] * 0.98 && median <= sorted[Math.min(sorted.length - 1, rank + 1)] * 1.02,
      `${id}: median ${median}`,
    );
  }
});

test('a null or missing group key is its own group (null)', async () => {
  const plan = compileText(PIPELINE);
  const payloads = [
    { timestamp: T0, publisher: 'p', geo: null, bid: 0.5, cookie: 'a' },
    { timestamp: T0 + 1, publisher: 'p', bid: 0.25, cookie: 'b' },
  ].map((r) => JSON.stringify(r));
  const { rows } = await runScripted(plan, [[{ partition: 'p0', offsets: [0, 1], payloads }]]);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].geo, null);
  assert.equal(rows[0].n, 2);
});

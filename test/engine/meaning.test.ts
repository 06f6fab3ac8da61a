/** The meaning of stored states: which changes of a pipeline keep it, which add or remove aggregates, which would mix two meanings. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareMeanings, fingerprintOf, meaningOf } from '../../src/engine/meaning.js';
import { compileText } from '../helpers/pipeline.js';

const BASE = `name: m
description: first
source: { stdin: {} }
batch: { interval: 1s }
time: { field: ts, allowedLateness: 1m }
filter: geo != "unknown"
window: { tumbling: 1m, rollups: [1h] }
groupBy: [publisher, geo]
aggregate:
  imps: count
  uniques: { approxDistinct: cookie }
  avgBid: { avg: bid }
sink:
  console: {}
  document: { date: window.start, publisher: publisher, geo: geo, imps: imps }
`;

const meaning = (text: string) => meaningOf(compileText(text));

test('the meaning, facet by facet, with every option default filled in', () => {
  assert.deepEqual(meaning(BASE), {
    window: 'tumbling 1m',
    rollups: '1h',
    time: 'ts (auto)',
    filter: 'geo != "unknown"',
    fields: 'none',
    groupBy: 'publisher, geo',
    missingKeys: 'null',
    'aggregate.imps': 'count()',
    'aggregate.uniques': 'approxDistinct(cookie) { precision: 14 }',
    'aggregate.avgBid': 'avg(bid)',
  });
  const other = meaning(
    BASE.replace('window: { tumbling: 1m, rollups: [1h] }', 'window: { sliding: { size: 10m, every: 1m } }')
      .replace('groupBy: [publisher, geo]', 'groupBy: [publisher, { site: $lowercase(website) }]\nfields: { cents: bid * 100 }')
      .replace('avgBid: { avg: bid }', 'avgBid: { avg: cents }')
      .replace('geo: geo, imps: imps', 'site: site, imps: imps')
      .replace('time: { field: ts, allowedLateness: 1m }\n', ''),
  );
  assert.equal(other.window, 'sliding 10m every 1m');
  assert.equal(other.rollups, 'none');
  assert.equal(other.time, 'processing time');
  assert.equal(other.groupBy, 'publisher, site = $lowercase(website)');
  assert.equal(other.fields, 'cents = bid * 100');
});

test('what does not change the meaning leaves the fingerprint as it was', () => {
  const fingerprint = fingerprintOf(meaning(BASE));
  assert.match(fingerprint, /^[0-9a-f]{16}$/);
  for (const variant of [
    BASE.replace('description: first', 'description: second\nversion: 7'),
    BASE.replace('batch: { interval: 1s }', 'batch: { interval: 5s, maxRecords: 10 }\nlimits: { expressionTimeout: 2s }'),
    BASE.replace('allowedLateness: 1m', 'allowedLateness: 1h, maxOutOfOrder: 30s'),
    BASE.replace(
      'document: { date: window.start, publisher: publisher, geo: geo, imps: imps }',
      'document: { day: window.start, publisher: publisher, geo: geo }',
    ),
    BASE.replace('{ approxDistinct: cookie }', '{ approxDistinct: cookie, precision: 14 }'),
    BASE.replace(
      '  uniques: { approxDistinct: cookie }\n  avgBid: { avg: bid }',
      '  avgBid: { avg: bid }\n  uniques: { approxDistinct: cookie }',
    ),
  ]) {
    assert.equal(fingerprintOf(meaning(variant)), fingerprint, variant);
  }
});

test('changes are told apart: aggregates added, removed and renamed, facets that would mix meanings', () => {
  const base = meaning(BASE);
  assert.deepEqual(compareMeanings(base, base), { added: [], removed: [], changed: [], renamed: [] });
  assert.deepEqual(
    compareMeanings(base, meaning(BASE.replace('  avgBid: { avg: bid }', '  avgBid: { avg: bid }\n  maxBid: { max: bid }'))),
    {
      added: ['maxBid'],
      removed: [],
      changed: [],
      renamed: [],
    },
  );
  assert.deepEqual(compareMeanings(base, meaning(BASE.replace('avgBid:', 'meanBid:'))), {
    added: ['meanBid'],
    removed: ['avgBid'],
    changed: [],
    renamed: [['avgBid', 'meanBid']],
  });
  const changed = (text: string) => compareMeanings(base, meaning(text)).changed;
  assert.deepEqual(changed(BASE.replace('tumbling: 1m', 'tumbling: 5m')), [{ facet: 'window', was: 'tumbling 1m', now: 'tumbling 5m' }]);
  assert.deepEqual(changed(BASE.replace('rollups: [1h]', 'rollups: [1h, 1d]')), [{ facet: 'rollups', was: '1h', now: '1h, 1d' }]);
  assert.deepEqual(changed(BASE.replace('groupBy: [publisher, geo]', 'groupBy: [geo, publisher]')), [
    { facet: 'groupBy', was: 'publisher, geo', now: 'geo, publisher' },
  ]);
  assert.deepEqual(changed(BASE.replace('filter: geo != "unknown"', 'filter: geo != "xx"')), [
    { facet: 'filter', was: 'geo != "unknown"', now: 'geo != "xx"' },
  ]);
  assert.deepEqual(changed(BASE.replace('{ avg: bid }', '{ avg: bid * 1000 }')), [
    { facet: 'aggregate.avgBid', was: 'avg(bid)', now: 'avg(bid * 1000)' },
  ]);
  assert.deepEqual(changed(BASE.replace('{ avg: bid }', '{ max: bid }')), [
    { facet: 'aggregate.avgBid', was: 'avg(bid)', now: 'max(bid)' },
  ]);
  assert.deepEqual(changed(BASE.replace('{ approxDistinct: cookie }', '{ approxDistinct: cookie, precision: 12 }')), [
    { facet: 'aggregate.uniques', was: 'approxDistinct(cookie) { precision: 14 }', now: 'approxDistinct(cookie) { precision: 12 }' },
  ]);
  assert.deepEqual(changed(BASE.replace('time: { field: ts, allowedLateness: 1m }', 'time: { field: ts, format: epochSeconds }')), [
    { facet: 'time', was: 'ts (auto)', now: 'ts (epochSeconds)' },
  ]);
  // a facet a stored meaning lacks (recorded by a later version) is a change, never taken for an added aggregate
  const older: Record<string, string> = { ...base };
  delete older.filter;
  assert.deepEqual(compareMeanings(older, base).changed, [{ facet: 'filter', was: 'absent', now: 'geo != "unknown"' }]);
});

test("a `where` is part of an aggregate's meaning; a derived output is not stored, so it changes freely", () => {
  const conditional = BASE.replace('  imps: count\n', '  imps: { count: true, where: bid > 0 }\n  ratio: { expression: imps / 2 }\n');
  assert.equal(meaning(conditional)['aggregate.imps'], 'count() where bid > 0');
  assert.equal(meaning(conditional)['aggregate.ratio'], undefined);
  assert.deepEqual(compareMeanings(meaning(BASE), meaning(conditional)).changed, [
    { facet: 'aggregate.imps', was: 'count()', now: 'count() where bid > 0' },
  ]);
  const otherRatio = conditional.replace('imps / 2', 'imps / 3');
  assert.equal(fingerprintOf(meaning(otherRatio)), fingerprintOf(meaning(conditional)));
});

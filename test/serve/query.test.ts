import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coverRange, levelFor } from '../../src/serve/query.js';
import { granularity, parseTime, timeRange } from '../../src/serve/params.js';
import { BadRequest } from '../../src/serve/query.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const levels = [
  { sizeMs: MINUTE, label: '1m', where: 'c' },
  { sizeMs: HOUR, label: '1h', where: 'c_1h' },
  { sizeMs: DAY, label: '1d', where: 'c_1d' },
];

test('a granularity reads the coarsest stored level that tiles it', () => {
  assert.equal(levelFor(levels, MINUTE)?.label, '1m');
  assert.equal(levelFor(levels, 30 * MINUTE)?.label, '1m');
  assert.equal(levelFor(levels, 2 * HOUR)?.label, '1h');
  assert.equal(levelFor(levels, DAY)?.label, '1d');
  assert.equal(levelFor(levels, 7 * DAY)?.label, '1d');
  assert.equal(levelFor(levels, 90 * 1000), undefined);
});

test('a range is covered by the fewest stored windows, exactly and without overlap', () => {
  const from = 3 * DAY + 5 * HOUR + 30 * MINUTE;
  const to = 6 * DAY + 2 * HOUR + 10 * MINUTE;
  const parts = coverRange(levels, from, to);
  assert.deepEqual(
    parts.map((p) => [p.level.label, p.from, p.to]),
    [
      ['1m', from, 3 * DAY + 6 * HOUR],
      ['1h', 3 * DAY + 6 * HOUR, 4 * DAY],
      ['1d', 4 * DAY, 6 * DAY],
      ['1h', 6 * DAY, 6 * DAY + 2 * HOUR],
      ['1m', 6 * DAY + 2 * HOUR, to],
    ],
  );
  assert.deepEqual(
    coverRange(levels, 0, 30 * DAY).map((p) => p.level.label),
    ['1d'],
  );
  assert.deepEqual(
    coverRange(levels, 10 * MINUTE, 20 * MINUTE).map((p) => [p.level.label, p.from, p.to]),
    [['1m', 10 * MINUTE, 20 * MINUTE]],
  );
  // any aligned range: the parts tile it
  for (let i = 0; i < 200; i++) {
    const a = Math.floor(Math.random() * 40 * 1440) * MINUTE;
    const b = a + (1 + Math.floor(Math.random() * 20 * 1440)) * MINUTE;
    let at = a;
    for (const p of coverRange(levels, a, b)) {
      if (p.from === p.to) continue;
      assert.equal(p.from, at);
      assert.equal(p.from % p.level.sizeMs, 0);
      assert.equal(p.to % p.level.sizeMs, 0);
      at = p.to;
    }
    assert.equal(at, b);
  }
});

test('times: ISO 8601, epoch ms, now and now-<duration>; from before to', () => {
  const now = Date.UTC(2026, 0, 2);
  assert.equal(parseTime('from', '2026-01-01', now), Date.UTC(2026, 0, 1));
  assert.equal(parseTime('from', '2026-01-01T06:00:00+02:00', now), Date.UTC(2026, 0, 1, 4));
  assert.equal(parseTime('from', '1767225600000', now), 1767225600000);
  assert.equal(parseTime('from', 'now-1d', now), now - DAY);
  assert.deepEqual(timeRange({}, now), { from: now - DAY, to: now });
  assert.throws(
    () => timeRange({ from: 'now', to: 'now-1h' }, now),
    (e: unknown) => e instanceof BadRequest && e.parameter === 'to',
  );
  assert.throws(
    () => parseTime('from', '2026-13-45', now),
    (e: unknown) => e instanceof BadRequest && e.parameter === 'from',
  );
});

test('the default granularity is the coarsest level giving at least 24 points', () => {
  assert.equal(granularity(undefined, levels, 0, DAY), HOUR);
  assert.equal(granularity(undefined, levels, 0, 30 * DAY), DAY);
  assert.equal(granularity(undefined, levels, 0, 6 * HOUR), MINUTE);
  assert.equal(granularity('2h', levels, 0, DAY), 2 * HOUR);
  assert.throws(() => granularity('90s', levels, 0, DAY), /whole multiple/);
});

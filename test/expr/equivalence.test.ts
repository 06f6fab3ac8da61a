/**
 * The translated functions against jsonata's own evaluator: for every expression and record, the
 * same value, or the same error (code and message), or NEEDS_FALLBACK.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileExpression, NEEDS_FALLBACK, type Row } from '../../src/expr/index.js';
import { assertAgrees, expressionArb, rowArb, type Outcome } from './support.js';

/** Expressions of the kind analysts write in pipelines. */
const examples = [
  'geo != "unknown"',
  'geo = "US"',
  'bid * 1000',
  'bid * 1000 / 3',
  '-bid',
  'price - cost',
  'count % 7',
  '$lowercase(geo)',
  '$uppercase(geo)',
  'publisher & ":" & geo',
  '$lowercase(geo) & "-" & publisher',
  'bid > 0.5 and geo in ["US","CA"]',
  'geo in ["US", "CA", "MX"]',
  'not_there in ["US"]',
  'bid >= 0.25 or publisher = "acme"',
  'bid < 1 and bid > 0',
  'geo <= "M"',
  '$round(bid, 2)',
  '$round(bid)',
  '$round(bid * 100, -1)',
  '$floor(bid * 10)',
  '$ceil(bid)',
  '$abs(price - cost)',
  '$exists(cookie)',
  '$not($exists(cookie))',
  '$boolean(cookie)',
  '$string(bid)',
  '$string(device)',
  '$number(quantity)',
  '$length(publisher)',
  '$substring(publisher, 0, 3)',
  '$substring(publisher, -2)',
  '$contains(publisher, "ac")',
  '$trim(publisher)',
  '$join([geo, publisher], "/")',
  'geo ~> $lowercase()',
  'bid > 0.5 ? "high" : "low"',
  'cookie ? cookie : "anonymous"',
  'cookie ?? "anonymous"',
  'publisher ?: "none"',
  'device.os',
  'device.os.version',
  'device.`screen size`',
  '`user id`',
  'device.os = "ios" and $exists(device.model)',
  '(bid * 2; geo)',
];

/** Records with the fields the examples read, clean and messy. */
const handPicked: Row[] = [
  {
    geo: 'US',
    bid: 0.75,
    publisher: 'acme',
    price: 10,
    cost: 7.5,
    count: 15,
    quantity: '3',
    cookie: 'c1',
    device: { os: { version: '17.1' }, model: 'x', 'screen size': 6.1 },
    'user id': 'u1',
  },
  {
    geo: 'unknown',
    bid: 0.1,
    publisher: '  Acme  Corp ',
    price: 1,
    cost: 2,
    count: -15,
    quantity: '0x1F',
    cookie: '',
    device: { os: 'ios' },
  },
  { geo: 'CA', bid: 0, publisher: '', cookie: null, device: null },
  { geo: 'DE' },
  {},
  { geo: null, bid: null, publisher: null, price: null },
  { geo: 1, bid: '0.5', publisher: 7, quantity: 'seven', count: 'x' },
  { geo: ['US'], bid: [1, 2], device: [{ os: 'ios' }], publisher: ['a'] },
  { geo: 'ÉTÉ', publisher: '𝄞𝄞 music', bid: 1e21, price: 0.1, cost: 0.2 },
  { geo: { country: 'US' }, bid: true, publisher: false, device: { os: { version: 17 } } },
  { bid: -0, price: 0, cost: 0, count: 0 },
];

const exampleRows: Row[] = [
  ...handPicked,
  ...fc.sample(
    fc.record(
      {
        geo: fc.oneof(fc.constantFrom('US', 'CA', 'MX', 'unknown', 'de', ''), fc.string({ maxLength: 3 }), fc.constant(null), fc.integer()),
        bid: fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), fc.integer({ min: -5, max: 5 }), fc.constant('0.5'), fc.constant(null)),
        publisher: fc.oneof(fc.constantFrom('acme', ' ac me ', 'AC'), fc.string({ unit: 'grapheme', maxLength: 5 })),
        price: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.double({ noNaN: true, noDefaultInfinity: true })),
        cost: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.string({ maxLength: 2 })),
        count: fc.integer({ min: -100, max: 100 }),
        quantity: fc.oneof(fc.constantFrom('1', '2.5', '-3e2', 'x', ''), fc.integer(), fc.boolean()),
        cookie: fc.oneof(fc.string({ maxLength: 3 }), fc.constant(null)),
        device: fc.oneof(
          fc.record(
            {
              os: fc.oneof(
                fc.constantFrom('ios', 'android'),
                fc.record({ version: fc.oneof(fc.string(), fc.integer()) }, { requiredKeys: [] }),
              ),
              model: fc.string(),
            },
            { requiredKeys: [] },
          ),
          fc.constant(null),
          fc.array(fc.record({ os: fc.constant('ios') })),
        ),
        'user id': fc.string({ maxLength: 4 }),
        'screen size': fc.double({ noNaN: true, noDefaultInfinity: true }),
      },
      { requiredKeys: [] },
    ),
    { numRuns: 300, seed: 20240611 },
  ),
];

test('every example expression is translated', () => {
  for (const source of examples) assert.equal(compileExpression(source).translated, true, source);
});

for (const source of examples) {
  test(`example ${JSON.stringify(source)} agrees with jsonata`, async () => {
    const expr = compileExpression(source);
    for (const row of exampleRows) await assertAgrees(expr, row);
  });
}

test('on clean records the examples never fall back', () => {
  const clean = handPicked[0];
  for (const source of examples) {
    assert.notEqual(compileExpression(source).evaluate(clean), NEEDS_FALLBACK, source);
  }
});

test('generated expressions over generated records agree with jsonata', async (t) => {
  const counts: Record<Outcome['kind'], number> = { value: 0, error: 0, fallback: 0 };
  await fc.assert(
    fc.asyncProperty(expressionArb, fc.array(rowArb, { minLength: 25, maxLength: 25 }), async (source, rows) => {
      const expr = compileExpression(source);
      assert.equal(expr.translated, true, `${source} is in the translated grammar`);
      for (const row of rows) counts[await assertAgrees(expr, row)]++;
    }),
    { numRuns: Number(process.env.EXPR_FUZZ_RUNS ?? 1500) },
  );
  const total = counts.value + counts.error + counts.fallback;
  // the comparison is only worth something when most evaluations stay on the translated path
  assert.ok(counts.fallback / total < 0.5, `too many fallbacks: ${JSON.stringify(counts)}`);
  assert.ok(counts.value > 0 && counts.error > 0, JSON.stringify(counts));
  if (process.env.EXPR_FUZZ_RUNS) t.diagnostic(JSON.stringify(counts));
});

/** compileExpression: which forms are translated, per-input fallback, and error conversion. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileExpression, ExpressionRuntimeError, NEEDS_FALLBACK, translatedFunctions } from '../../src/expr/index.js';

test('translated expressions evaluate synchronously', () => {
  const expr = compileExpression('geo != "unknown"');
  assert.equal(expr.translated, true);
  assert.equal(expr.fallbackReason, undefined);
  assert.equal(expr.source, 'geo != "unknown"');
  // usable detached, as the engine holds it: read off the object, never bound to it
  const evaluate = Reflect.get(expr, 'evaluate');
  assert.equal(evaluate({ geo: 'US' }), true);
  assert.equal(evaluate({ geo: 'unknown' }), false);
  // comparing with a missing field is false for both = and !=
  assert.equal(evaluate({}), false);
  assert.equal(compileExpression('geo = "unknown"').evaluate({}), false);
});

test('forms outside the translation fall back for every input', async () => {
  const rows = [{ a: [1, 2], b: { c: 3 }, items: [{ price: 5 }, { price: 20 }], geo: 'US' }];
  const untranslated = [
    'items[0]',
    'items[price > 10]',
    '$sum(items.price)',
    '$map(items, function($i) { $i.price })',
    '($x := 1; $x + 1)',
    '$',
    '$$.geo',
    '*',
    '**.price',
    'b.*',
    '$millis()',
    '$now()',
    '$lowercase()',
    '$substring(geo)',
    '[geo, geo]',
    '{ "k": geo }',
    'items^(price)',
    'items{ "p": price }',
    '$contains(geo, /u/i)',
    'b.(c)',
    '[1..3]',
    'geo ~> $lowercase',
    'items#$i',
    'items@$it',
    'items[]',
    '$split(geo, "")',
    '$lowercase(geo, "x")',
    '$unknownFunction(geo)',
  ];
  for (const source of untranslated) {
    const expr = compileExpression(source);
    assert.equal(expr.translated, false, source);
    assert.equal(typeof expr.fallbackReason, 'string', source);
    for (const row of rows) {
      assert.equal(expr.evaluate(row), NEEDS_FALLBACK, source);
      await expr.evaluateAsync(row).catch((err: unknown) => assert.ok(err instanceof ExpressionRuntimeError, source));
    }
  }
});

test('a path step that meets an array falls back for that input only', async () => {
  const expr = compileExpression('device.os = "ios"');
  assert.equal(expr.evaluate({ device: { os: 'ios' } }), true);
  const mapped = { device: [{ os: 'android' }, { os: 'ios' }] };
  assert.equal(expr.evaluate(mapped), NEEDS_FALLBACK);
  // jsonata maps the path to the sequence ["android", "ios"], and = compares that whole sequence
  assert.equal(await expr.evaluateAsync(mapped), false);
  const member = compileExpression('"ios" in device.os');
  assert.equal(member.evaluate(mapped), NEEDS_FALLBACK);
  assert.equal(await member.evaluateAsync(mapped), true);
  const whole = compileExpression('geo != "unknown"');
  assert.equal(whole.evaluate({ geo: ['US'] }), NEEDS_FALLBACK);
  assert.equal(await whole.evaluateAsync({ geo: ['US'] }), true);
});

test('values jsonata treats specially fall back', () => {
  const expr = compileExpression('bid * 2');
  assert.equal(expr.evaluate({ bid: Infinity }), NEEDS_FALLBACK);
  assert.equal(expr.evaluate({ bid: NaN }), NEEDS_FALLBACK);
  assert.equal(compileExpression('geo').evaluate({ _jsonata_function: true, geo: 'US' }), NEEDS_FALLBACK);
  assert.equal(compileExpression('geo').evaluate([{ geo: 'US' }] as unknown as Record<string, unknown>), NEEDS_FALLBACK);
});

test('inherited properties are not fields', async () => {
  const expr = compileExpression('$exists(constructor) or $exists(geo.toString)');
  assert.equal(expr.evaluate({ geo: 'US' }), false);
  assert.equal(await expr.evaluateAsync({ geo: 'US' }), false);
});

test('jsonata runtime errors are thrown as ExpressionRuntimeError by both evaluators', async () => {
  const expr = compileExpression('bid * 1000');
  const expected = {
    name: 'ExpressionRuntimeError',
    code: 'T2001',
    message: 'The left side of the "*" operator must evaluate to a number',
  };
  assert.throws(() => expr.evaluate({ bid: '0.5' }), expected);
  await assert.rejects(expr.evaluateAsync({ bid: '0.5' }), expected);

  const comparison = compileExpression('bid > 0.5');
  const mismatch = { code: 'T2009', message: 'The values "x" and 0.5 either side of operator ">" must be of the same data type' };
  assert.throws(() => comparison.evaluate({ bid: 'x' }), mismatch);
  await assert.rejects(comparison.evaluateAsync({ bid: 'x' }), mismatch);
});

test('function signature errors fall back, then evaluateAsync raises them', async () => {
  const expr = compileExpression('$lowercase(geo)');
  assert.equal(expr.evaluate({ geo: 5 }), NEEDS_FALLBACK);
  await assert.rejects(expr.evaluateAsync({ geo: 5 }), { name: 'ExpressionRuntimeError', code: 'T0410' });
});

test('untranslated expressions convert jsonata errors too', async () => {
  await assert.rejects(compileExpression('$sum(a)').evaluateAsync({ a: ['x'] }), { name: 'ExpressionRuntimeError', code: 'T0412' });
  await assert.rejects(compileExpression('$unknownFunction(a)').evaluateAsync({ a: 1 }), { code: 'T1006' });
});

test('errors in the right operand of and/or carry that operator, as in jsonata', async () => {
  const expr = compileExpression('a and (b * 1)');
  const expected = { code: 'T2001', message: 'The left side of the "and" operator must evaluate to a number' };
  assert.throws(() => expr.evaluate({ a: true, b: 'x' }), expected);
  await assert.rejects(expr.evaluateAsync({ a: true, b: 'x' }), expected);
});

test('missing operands give undefined, not false, for arithmetic and ordering', () => {
  assert.equal(compileExpression('bid * 1000').evaluate({}), undefined);
  assert.equal(compileExpression('bid > 0.5').evaluate({}), undefined);
  assert.equal(compileExpression('-bid').evaluate({}), undefined);
  assert.equal(compileExpression('publisher & ":" & geo').evaluate({ geo: 'US' }), ':US');
});

test('the list of translated functions', () => {
  assert.deepEqual([...translatedFunctions].sort(), [
    '$abs',
    '$boolean',
    '$ceil',
    '$contains',
    '$exists',
    '$floor',
    '$join',
    '$length',
    '$lowercase',
    '$not',
    '$number',
    '$round',
    '$string',
    '$substring',
    '$trim',
    '$uppercase',
  ]);
});

test('an evaluation builds no array beyond maxValueLength: ranges and paths are refused before they allocate', async () => {
  const expr = compileExpression('$count([1..n])', { maxValueLength: 1000 });
  assert.equal(await expr.evaluateAsync({ n: 1000 }), 1000);
  await assert.rejects(expr.evaluateAsync({ n: 1001 }), (err: ExpressionRuntimeError) => {
    assert.equal(err.code, 'D2015');
    assert.equal(err.message, 'an array grew beyond limits.maxValueLength (1000 items)');
    return true;
  });
  // the default bound refuses what the issue report ran: ten million numbers per record
  await assert.rejects(compileExpression('$count([1..10000000]) > 0').evaluateAsync({}), { code: 'D2015' });
  const mapped = compileExpression('$count(items.a)', { maxValueLength: 10 });
  assert.equal(await mapped.evaluateAsync({ items: Array.from({ length: 10 }, (_, a) => ({ a })) }), 10);
  await assert.rejects(mapped.evaluateAsync({ items: Array.from({ length: 11 }, (_, a) => ({ a })) }), { code: 'D2015' });
});

test("$pad keeps jsonata's meaning and refuses a width beyond maxValueLength", async () => {
  const pad = (text: string) => compileExpression(text, { maxValueLength: 100 });
  assert.equal(await pad('$pad("ab", 5, "-")').evaluateAsync({}), 'ab---');
  assert.equal(await pad('$pad("ab", -5)').evaluateAsync({}), '   ab');
  assert.equal(await pad('$pad("😀", 3, "xy")').evaluateAsync({}), '😀xy');
  assert.equal(await pad('s.$pad(8, "0")').evaluateAsync({ s: '42' }), '42000000', 'the context as first argument');
  assert.equal(await pad('$pad(missing, 5)').evaluateAsync({}), undefined);
  assert.equal(await pad('$pad("x", 100)').evaluateAsync({}), 'x'.padEnd(100));
  await assert.rejects(pad('$pad("x", 101)').evaluateAsync({}), (err: ExpressionRuntimeError) => {
    assert.equal(err.code, 'R0002');
    assert.match(err.message, /\$pad to 101 characters is beyond limits\.maxValueLength \(100\)/);
    return true;
  });
  await assert.rejects(pad('$pad("x", -1e9)').evaluateAsync({}), { code: 'R0002' });
});

/** isTruthy is jsonata's $boolean cast, with undefined as false. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import jsonata from 'jsonata';
import { ExpressionRuntimeError, isTruthy } from '../../src/expr/index.js';

const table: [unknown, boolean][] = [
  [undefined, false],
  [null, false],
  [true, true],
  [false, false],
  ['', false],
  [' ', true],
  ['false', true],
  [0, false],
  [-0, false],
  [NaN, false],
  [0.1, true],
  [-1, true],
  [[], false],
  [[0], false],
  [[0, ''], false],
  [[0, 'x'], true],
  [[[]], false],
  [[[1]], true],
  [{}, false],
  [{ a: 0 }, true],
  [() => 1, false],
  [new Date(0), false],
];

test('isTruthy follows the $boolean table', () => {
  for (const [value, expected] of table) assert.equal(isTruthy(value), expected, String(value));
});

test('isTruthy raises D1001 on infinite numbers, as $boolean does', () => {
  for (const value of [Infinity, -Infinity, [0, Infinity]]) {
    assert.throws(
      () => isTruthy(value),
      (err: unknown) => err instanceof ExpressionRuntimeError && err.code === 'D1001',
    );
  }
});

test('isTruthy agrees with jsonata $boolean on JSON values', async () => {
  const cast = jsonata('$boolean($v)');
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), async (value) => {
      const expected = ((await cast.evaluate({}, { v: value })) as boolean | undefined) ?? false;
      assert.equal(isTruthy(value), expected);
    }),
    { numRuns: 500 },
  );
});

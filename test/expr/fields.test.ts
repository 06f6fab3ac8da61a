/** referencedFields: the top-level record fields an expression reads. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referencedFields } from '../../src/expr/index.js';

const cases: [string, string[]][] = [
  ['geo != "unknown"', ['geo']],
  ['bid * 1000', ['bid']],
  ['$lowercase(geo) & "-" & publisher', ['geo', 'publisher']],
  ['device.os.version = "17"', ['device']],
  ['`user id` & device.`screen size`', ['user id', 'device']],
  ['bid > 0.5 and geo in ["US", "CA"]', ['bid', 'geo']],
  ['cookie ? cookie : "anonymous"', ['cookie']],
  ['"literal" & 1', []],
  ['items[price > 10].sku', ['items']],
  ['items[$$.minimum < price]', ['items', 'minimum']],
  ['$.geo', ['geo']],
  ['$map(tags, function($t) { $t & suffix })', ['tags', 'suffix']],
  ['orders^(amount).id', ['orders']],
  ['{ "k": geo, "v": bid }', ['geo', 'bid']],
  ['($x := bid; $x * rate)', ['bid', 'rate']],
  ['geo ~> $lowercase()', ['geo']],
  ['*.x', []],
];

for (const [source, expected] of cases) {
  test(`referencedFields(${JSON.stringify(source)})`, () => {
    assert.deepEqual(referencedFields(source), expected);
  });
}

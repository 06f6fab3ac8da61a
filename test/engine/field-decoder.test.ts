/** Which fields a plan reads, and the field decoder built for them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldDecoder, fieldsRead } from '../../src/engine/field-decoder.js';
import { compileText } from '../helpers/pipeline.js';

test('the fields a plan reads: known exactly only when every expression is translated', () => {
  const pipeline = (filter: string, time = 'ts') => `
name: f
source: { stdin: {} }
time: { field: ${time} }
filter: ${filter}
fields: { big: "amount * 2" }
window: { tumbling: 1m }
groupBy: [geo, { site: "$lowercase(site)" }]
aggregate:
  n: count
  total: { sum: big }
  users: { approxDistinct: user }
sink: { console: {} }
`;
  assert.deepEqual(fieldsRead(compileText(pipeline('kind = "a"')))?.sort(), [
    '_jsonata_function',
    '_jsonata_lambda',
    'amount',
    'big',
    'geo',
    'kind',
    'site',
    'ts',
    'user',
  ]);
  assert.ok(fieldsRead(compileText(pipeline('kind = "a"', 'meta.ts')))?.includes('meta'));
  assert.equal(fieldsRead(compileText(pipeline('$count(items) > 0'))), undefined);
  assert.equal(fieldsRead(compileText(pipeline('__proto__ = "a"'))), undefined);
});

test("the field decoder reads the plan's fields and declines lines nested deeper than its limits.maxDepth", () => {
  const pipeline = (limits: string) => `
name: f
source: { stdin: {} }
${limits}
window: { tumbling: 1m }
groupBy: [geo]
aggregate: { n: count }
sink: { console: {} }
`;
  const line = (text: string) => [Buffer.from(text), 0, Buffer.byteLength(text)] as const;
  const decoder = fieldDecoder(compileText(pipeline('limits: { maxDepth: 3 }')))!;
  assert.deepStrictEqual(decoder.decode(...line('{"geo":"US","a":{"b":[1]},"c":2}')), { geo: 'US' });
  assert.equal(decoder.decode(...line('{"geo":"US","a":{"b":[[1]]}}')), undefined);
  const byDefault = fieldDecoder(compileText(pipeline('')))!;
  const nested = (depth: number) => `{"geo":"US","a":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
  assert.deepStrictEqual(byDefault.decode(...line(nested(64))), { geo: 'US' });
  assert.equal(byDefault.decode(...line(nested(65))), undefined);
  assert.equal(fieldDecoder(compileText(pipeline('filter: $count(items) > 0'))), undefined);
});

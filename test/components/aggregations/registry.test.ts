/** The registry and what every declaration must offer: schema-valid options that the factory agrees with, and safe stored forms. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { aggregationKinds, getAggregationKind } from '../../../src/components/aggregations/index.js';
import { AggregationError } from '../../../src/engine/aggregation.js';

const EXPECTED = ['count', 'sum', 'avg', 'min', 'max', 'distinct', 'approxDistinct', 'first', 'last', 'quantile'];

test('the registry lists every kind once and finds each by name', () => {
  assert.deepEqual(
    aggregationKinds.map((k) => k.name),
    EXPECTED,
  );
  for (const kind of aggregationKinds) assert.equal(getAggregationKind(kind.name), kind);
  for (const name of ['Count', 'toString', '__proto__', 'constructor', 'median', ''])
    assert.equal(getAggregationKind(name), undefined, name);
  assert.deepEqual(
    aggregationKinds.filter((k) => k.input === 'none').map((k) => k.name),
    ['count'],
  );
  assert.deepEqual(
    aggregationKinds.filter((k) => k.input === 'any').map((k) => k.name),
    ['distinct', 'approxDistinct', 'first', 'last'],
  );
});

test('every declaration has a one-sentence summary and a state description', () => {
  for (const kind of aggregationKinds) {
    assert.match(kind.summary, /^[A-Z].*\.$/, kind.name);
    assert.ok(kind.describeState({}).length > 5, kind.name);
  }
});

for (const kind of aggregationKinds) {
  test(`${kind.name}: every option is documented, and the schema and the factory agree on what is valid`, () => {
    const properties = { [kind.name]: { type: 'string' }, ...kind.options };
    // as the pipeline schema embeds it, under the same strict ajv
    const validate = new Ajv2020({ strict: true, strictTypes: false }).compile({
      type: 'object',
      properties,
      required: [kind.name],
      additionalProperties: false,
    });
    const accepts = (options: Record<string, unknown>) => {
      const bySchema = validate({ [kind.name]: 'x', ...options });
      let byFactory = true;
      try {
        kind.create(options);
      } catch (err) {
        assert.ok(err instanceof AggregationError && err.code === 'invalid-option', String(err));
        byFactory = false;
      }
      assert.equal(byFactory, bySchema, `${kind.name} ${JSON.stringify(options)}: factory ${byFactory}, schema ${bySchema}`);
      return bySchema;
    };
    assert.ok(accepts({}));
    assert.equal(accepts({ unknownOption: 1 }), false);
    for (const [name, schema] of Object.entries(kind.options)) {
      assert.ok(typeof schema.description === 'string' && schema.description.length > 20, name);
      assert.ok(Array.isArray(schema.examples) && schema.examples.length > 0, name);
      assert.equal(typeof schema.minimum, 'number', name);
      assert.equal(typeof schema.maximum, 'number', name);
      assert.ok(accepts({ [name]: schema.default }), `${name} default`);
      for (const example of schema.examples as unknown[]) assert.ok(accepts({ [name]: example }), `${name} example ${String(example)}`);
      assert.equal(accepts({ [name]: (schema.maximum as number) + 1 }), false);
      assert.equal(accepts({ [name]: (schema.minimum as number) - 1 }), false);
      assert.equal(accepts({ [name]: String(schema.default) }), false);
      if (schema.type === 'integer') assert.equal(accepts({ [name]: (schema.minimum as number) + 0.5 }), false);
      assert.ok(kind.describeState({ [name]: schema.default }).length > 5);
    }
  });

  test(`${kind.name}: an empty state round-trips, and foreign or corrupt stored values are invalid-state errors`, () => {
    const empty = kind.create({});
    const back = kind.deserialize(empty.serialize(), {});
    assert.deepEqual(back.result(), empty.result());
    assert.deepEqual(back.serialize(), empty.serialize());
    for (const bad of ['x', true, [], {}, { s: 'x' }, { v: 'x' }, { t: 1, j: '{' }, NaN]) {
      assert.throws(
        () => kind.deserialize(bad as never, {}),
        (err: unknown) => err instanceof AggregationError && err.code === 'invalid-state' && err.message.includes(kind.name),
        `${kind.name} ${JSON.stringify(bad)}`,
      );
    }
  });

  test(`${kind.name}: merging a state of another kind is an incompatible-state error`, () => {
    const other = getAggregationKind(kind.name === 'count' ? 'sum' : 'count')!;
    assert.throws(() => kind.create({}).merge(other.create({})), { name: 'AggregationError', code: 'incompatible-state' });
  });
}

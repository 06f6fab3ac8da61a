/**
 * What every component's declaration (src/components/spec.ts) must offer, for every slot: the
 * schema, docs and `runner explain` are derived from it. That every whole-slot example validates
 * is test/components/examples.test.ts.
 */
import type { TSchema } from '@sinclair/typebox';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { components } from '../../src/components/registry.js';
import type { ComponentSpec, DeadLetterSpec, Slot } from '../../src/components/spec.js';
import type { JsonSchema } from '../../src/json-schema.js';

interface Field {
  /** Where it sits in the component's config, e.g. `tls.ca`. */
  path: string;
  schema: JsonSchema;
}

/** Every field of a config schema, nested objects' fields (and those of array items and union branches) included. */
function fieldsOf(schema: JsonSchema, path = ''): Field[] {
  const fields: Field[] = [];
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const [name, property] of Object.entries(properties)) {
    const at = path ? `${path}.${name}` : name;
    fields.push({ path: at, schema: property }, ...fieldsOf(property, at));
  }
  const items = schema.items as JsonSchema | undefined;
  if (items?.properties) fields.push(...fieldsOf(items, `${path}[]`));
  for (const branch of [...((schema.oneOf ?? []) as JsonSchema[]), ...((schema.anyOf ?? []) as JsonSchema[])])
    fields.push(...fieldsOf(branch, path));
  return fields;
}

/** Every schema in the tree that declares properties: each must refuse keys it does not know. */
function objectsOf(schema: JsonSchema, path = '(config)'): Field[] {
  const found: Field[] = schema.properties ? [{ path, schema }] : [];
  for (const { path: at, schema: field } of fieldsOf(schema)) if (field.properties) found.push({ path: at, schema: field });
  return found;
}

const ajv = new Ajv2020({ strict: false });

const all = (Object.entries(components) as [Slot, readonly ComponentSpec[]][]).flatMap(([slot, specs]) =>
  specs.map((spec) => ({ slot, spec })),
);

test('every component sits in the slot its declaration names, under a name unique in that slot', () => {
  for (const { slot, spec } of all) assert.equal(spec.slot, slot, spec.name);
  for (const slot of Object.keys(components) as Slot[]) {
    const names = components[slot].map((s) => s.name);
    assert.deepEqual(names, [...new Set(names)], `${slot} names`);
    for (const name of names) assert.match(name, /^[a-z][a-zA-Z]*$/, `${slot} ${name}: a YAML key in camelCase`);
  }
});

for (const { slot, spec } of all) {
  const label = `${slot} ${spec.name}`;

  test(`${label}: a one-sentence summary, a described config, and at least one titled example`, () => {
    assert.match(spec.summary, /^[A-Z].*\.$/s, 'summary');
    assert.ok(typeof spec.config.description === 'string' && spec.config.description.length > 10, 'config description');
    assert.ok(spec.examples.length > 0, 'examples');
    for (const example of spec.examples)
      assert.ok(example.title.length > 3 && example.yaml.startsWith(`${spec.name}:`), `example "${example.title}"`);
  });

  test(`${label}: every config field, nested ones too, has a description, and its default and examples fit its own schema`, () => {
    // a config that is one value (`tumbling: 1m`) is its own only field
    for (const { path, schema } of [{ path: '(config)', schema: spec.config }, ...fieldsOf(spec.config)]) {
      assert.ok(typeof schema.description === 'string' && schema.description.trim().length > 5, `${path}: description`);
      const validate = ajv.compile(schema);
      if (schema.default !== undefined)
        assert.ok(validate(schema.default), `${path}: default ${JSON.stringify(schema.default)} ${ajv.errorsText(validate.errors)}`);
      for (const example of (schema.examples ?? []) as unknown[]) {
        assert.ok(validate(example), `${path}: example ${JSON.stringify(example)} ${ajv.errorsText(validate.errors)}`);
      }
    }
  });

  test(`${label}: every object in its config refuses unknown keys and lists only required keys it has`, () => {
    for (const { path, schema } of objectsOf(spec.config)) {
      assert.equal(schema.additionalProperties, false, `${path}: additionalProperties`);
      const properties = Object.keys(schema.properties as object);
      for (const name of (schema.required ?? []) as string[])
        assert.ok(properties.includes(name), `${path}: required ${name} is a property`);
    }
  });
}

test('every source, sink and dead-letter destination has a factory; windows have none', () => {
  for (const { slot, spec } of all) {
    assert.equal(typeof (spec as { create?: unknown }).create, slot === 'window' ? 'undefined' : 'function', `${slot} ${spec.name}`);
  }
});

test('exactly one dead-letter destination is the default, and its default config fits its schema', () => {
  const defaults = (components.deadLetter as readonly DeadLetterSpec<TSchema>[]).filter((spec) => spec.byDefault !== undefined);
  assert.equal(defaults.length, 1, defaults.map((s) => s.name).join(', '));
  const validate = ajv.compile(defaults[0].config);
  for (const pipeline of ['impressions', 'a-b_c.1']) assert.ok(validate(defaults[0].byDefault!(pipeline)), ajv.errorsText(validate.errors));
});

/**
 * A default is written once, in a component's schema, and is what the component receives: for
 * every declared field with a default, a pipeline that leaves the field out hands `create` (and
 * the plan) exactly the documented value. The Kafka source once documented 4 MiB fetches and
 * applied 1 MiB with a `??` of its own; this test fails on such a drift.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, stringify } from 'yaml';
import { parsePipelineText } from '../../src/config/load.js';
import { compileLoaded } from '../../src/compiler/compile.js';
import { parseDuration } from '../../src/config/duration.js';
import { components } from '../../src/components/registry.js';
import type { Slot } from '../../src/components/spec.js';
import type { JsonSchema } from '../../src/json-schema.js';
import type { Plan } from '../../src/engine/plan.js';
import { buildPipelineSchema } from '../../src/schema/pipeline-schema.js';
import { exampleEnvironment, pipelineWith, slotUse } from '../helpers/pipeline.js';

type Documented = { path: string[]; value: unknown };

/**
 * Every default a schema documents, with its path, in objects the value holds (a default inside an
 * absent optional object is not applied).
 */
function documentedDefaults(schema: JsonSchema, value: unknown, path: string[] = []): Documented[] {
  const found: Documented[] = [];
  const branches = [schema, ...((schema.anyOf as JsonSchema[] | undefined) ?? [])];
  for (const branch of branches) {
    const properties = branch.properties as Record<string, JsonSchema> | undefined;
    if (!properties || typeof value !== 'object' || value === null) continue;
    for (const [name, field] of Object.entries(properties)) {
      if ('default' in field) found.push({ path: [...path, name], value: field.default });
      const inner = (value as Record<string, unknown>)[name];
      found.push(...documentedDefaults(field, inner, [...path, name]));
    }
  }
  return found;
}

function at(value: unknown, path: string[]): unknown {
  return path.reduce<unknown>((v, key) => (v as Record<string, unknown> | undefined)?.[key], value);
}

/** The example's config with every field that has a default removed, so the compiler must supply it. */
function withoutDefaults(config: unknown, defaults: Documented[]): unknown {
  const copy = structuredClone(config);
  for (const { path } of defaults) {
    const parent = at(copy, path.slice(0, -1));
    if (typeof parent === 'object' && parent !== null) delete (parent as Record<string, unknown>)[path.at(-1)!];
  }
  return copy;
}

function compiled(text: string): Plan {
  const result = compileLoaded(parsePipelineText('defaults.yaml', text, exampleEnvironment));
  assert.deepEqual(result.diagnostics, []);
  return result.plan!;
}

for (const [slot, specs] of Object.entries(components) as [Slot, (typeof components)[Slot]][]) {
  for (const spec of specs) {
    const example = parse(spec.examples[0].yaml) as Record<string, unknown>;
    // the richest example value: one that sets every optional object, so nested defaults are checked too
    const defaults = documentedDefaults(spec.config, example[spec.name]);
    if (defaults.length === 0) continue;
    test(`${slot} ${spec.name}: every documented default is what the component receives when the field is left out`, () => {
      const bare = { [spec.name]: withoutDefaults(example[spec.name], defaults) };
      const plan = compiled(pipelineWith(slot, stringify(bare)));
      const received = slot === 'window' ? undefined : slotUse(plan, slot).config;
      for (const { path, value } of defaults) {
        assert.deepEqual(at(received, path), value, `${spec.name}.${path.join('.')}`);
      }
    });
  }
}

test("the pipeline's own defaults reach the plan", () => {
  const schema = buildPipelineSchema() as unknown as JsonSchema;
  const field = (...path: string[]) =>
    path.reduce<JsonSchema>((s, key) => (s.properties as Record<string, JsonSchema>)[key], schema).default;
  const plan = compiled(pipelineWith('source', 'generator: {}').replace('aggregate:', 'time:\n  field: timestamp\naggregate:'));
  assert.deepEqual(plan.batch, {
    intervalMs: parseDuration(field('batch', 'interval') as string),
    maxRecords: field('batch', 'maxRecords'),
    maxHeldRecords: field('batch', 'maxHeldRecords'),
    maxGroups: field('batch', 'maxGroups'),
  });
  assert.deepEqual(plan.limits, {
    maxRecordBytes: field('limits', 'maxRecordBytes'),
    maxDepth: field('limits', 'maxDepth'),
    expressionTimeoutMs: parseDuration(field('limits', 'expressionTimeout') as string),
    maxValueLength: field('limits', 'maxValueLength'),
  });
  assert.deepEqual(plan.time, {
    field: 'timestamp',
    path: ['timestamp'],
    format: field('time', 'format'),
    maxOutOfOrderMs: parseDuration(field('time', 'maxOutOfOrder') as string),
    allowedLatenessMs: parseDuration(field('time', 'allowedLateness') as string),
    maxFutureMs: parseDuration(field('time', 'maxFuture') as string),
    maxPastMs: Infinity,
    idleTimeoutMs: parseDuration(field('time', 'idleTimeout') as string),
  });
  assert.equal(plan.missingKeys, field('missingKeys') === null ? 'null' : field('missingKeys'));
});

test('defaults inside an optional object are filled in when the object is given, and only then', () => {
  const kafka = (tls: string) => `kafka:\n  brokers: kafka:9092\n  topics: t\n  group: g\n${tls}`;
  assert.deepEqual(compiled(pipelineWith('source', kafka('  tls: {}\n'))).sources[0].config, {
    brokers: 'kafka:9092',
    topics: 't',
    group: 'g',
    tls: { rejectUnauthorized: true },
    clientId: 'runnel',
    start: 'earliest',
    maxBytesPerPartition: 4194304,
    connectTimeout: '30s',
  });
  assert.equal((compiled(pipelineWith('source', kafka('  tls: true\n'))).sources[0].config as { tls: unknown }).tls, true);
  assert.equal('tls' in (compiled(pipelineWith('source', kafka(''))).sources[0].config as object), false);
});

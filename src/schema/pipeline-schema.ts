import { components } from '../components/registry.js';
import type { Slot } from '../components/spec.js';
import { aggregationKinds } from '../components/aggregations/index.js';
import type { JsonSchema } from '../json-schema.js';
import { DURATION_PATTERN, duration, expression, integer, strictObject, text } from '../components/fragments.js';
import { DEFAULT_LIMITS } from '../engine/plan.js';

export const SCHEMA_ID = 'https://runnel.dev/schemas/pipeline.schema.json';

/** Names a result row offers besides group keys and aggregate outputs. */
export const WINDOW_FIELDS = ['window.start', 'window.end'] as const;

/**
 * A slot holds exactly one component, selected by its key (`source: { kafka: {...} }`); `extra`
 * are keys that may stand beside the component (the sink's document mapping).
 */
function slot(name: Slot, description: string, extra: Record<string, JsonSchema> = {}): JsonSchema {
  const specs = components[name];
  const properties: Record<string, JsonSchema> = {};
  for (const spec of specs) properties[spec.name] = { ...spec.config, description: `${spec.summary}` };
  return {
    type: 'object',
    description: `${description} One of: ${specs.map((s) => s.name).join(', ')}.`,
    properties: { ...properties, ...extra },
    additionalProperties: false,
    oneOf: specs.map((spec) => ({ required: [spec.name] })),
  };
}

/** `count` alone, or `{ kind: expression, ...options }` for kinds that take an input. */
function aggregation(): JsonSchema {
  const bare = aggregationKinds.filter((k) => k.input === 'none').map((k) => k.name);
  const branches: JsonSchema[] = [
    { type: 'string', enum: bare, description: `Aggregations written alone: ${bare.join(', ')}.` },
  ];
  for (const kind of aggregationKinds) {
    if (kind.input === 'none') continue;
    branches.push({
      type: 'object',
      description: kind.summary,
      properties: {
        [kind.name]: expression(`The field or expression to ${kind.name}`, ['bid', 'cookie']),
        ...kind.options,
      },
      required: [kind.name],
      additionalProperties: false,
    });
  }
  return {
    description: 'An aggregation: `count`, or one of `{ sum: bid }`, `{ avg: bid }`, `{ approxDistinct: cookie }`, ...',
    oneOf: branches,
  };
}

export function buildPipelineSchema(): JsonSchema {
  const outputName = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SCHEMA_ID,
    title: 'Runnel pipeline',
    description:
      'A declarative stream aggregation: records from a source are cut into micro-batches, assigned to event-time windows, grouped and aggregated, and written to a sink. Generated from the component registry by `npm run schema`; do not edit by hand.',
    type: 'object',
    required: ['name', 'source', 'window', 'aggregate', 'sink'],
    additionalProperties: false,
    properties: {
      name: text('The pipeline\'s name: letters, digits, `-`, `_`, `.`; used in logs, metrics and the API.', {
        pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
        examples: ['impressions'],
      }),
      version: { type: ['integer', 'string'], description: 'Your version of this pipeline, for your own bookkeeping.' },
      description: { type: 'string', description: 'What the pipeline computes, for people.' },
      source: slot('source', 'Where records come from.'),
      batch: strictObject('How the stream is cut into micro-batches: whichever limit is reached first ends a batch.', {
        interval: duration('Longest time a batch collects records.', '1s'),
        maxRecords: integer('Most records in one batch.', 1, 100000),
      }),
      limits: strictObject(
        'Bounds on each record and on expression evaluation. A record beyond them is a dead letter with the reason named below; the run goes on.',
        {
          maxRecordBytes: integer(
            'Longest record in bytes; a longer one is a dead letter `too-large` that keeps its size and first 1 KiB. Sources hold no more than this of one record.',
            1,
            DEFAULT_LIMITS.maxRecordBytes,
          ),
          maxDepth: integer(
            'Deepest nesting of objects and arrays in a record (the record itself is 1); a deeper one is a dead letter `too-deep`.',
            1,
            DEFAULT_LIMITS.maxDepth,
            1000,
          ),
          expressionTimeout: duration(
            'Longest time jsonata\'s evaluator may spend on one expression for one record; a record that takes longer is a dead letter `expression-timeout`. Expressions compiled to JavaScript never loop and need no bound. Three such timeouts in a row stop the run: an expression that never finishes is a fault of the pipeline, not of its records.',
            `${DEFAULT_LIMITS.expressionTimeoutMs / 1000}s`,
          ),
          maxValueLength: integer(
            'Most items an expression may build in one array (a range `[1..n]`, a path over arrays) and longest string `$pad` may make; beyond it the record is a dead letter `expression-error`, before the memory is taken.',
            1,
            DEFAULT_LIMITS.maxValueLength,
          ),
        },
      ),
      time: strictObject(
        'Event time: where each record\'s time comes from, and how long to wait for late records. Without it, the time a record is read is used.',
        {
          field: text('The field (or dotted path) holding the event time.', { examples: ['timestamp'] }),
          format: {
            enum: ['auto', 'epochMillis', 'epochSeconds', 'iso8601'],
            default: 'auto',
            description:
              '`auto` reads numbers below 1e11 as epoch seconds, other numbers as epoch milliseconds, and strings as ISO-8601.',
          },
          maxOutOfOrder: duration('Allowed out-of-orderness: the watermark trails the newest event time by this much.', '5s'),
          allowedLateness: duration('How long after the watermark passes a window\'s end its records are still accepted.', '0s'),
          maxFuture: duration(
            'Event times more than this ahead of the wall clock are dead letters `time-out-of-range`: one record from the far future would otherwise push the watermark past every record after it.',
            '1d',
          ),
          maxPast: duration(
            'Event times more than this behind the wall clock are dead letters `time-out-of-range`. No bound by default, so old data can be replayed; records behind the watermark are `late` anyway.',
          ),
        },
        ['field'],
      ),
      filter: expression('Keep only records for which this is true', ['geo != "unknown"']),
      fields: {
        type: 'object',
        description: 'New fields computed per record, in order; later ones may use earlier ones.',
        propertyNames: outputName,
        additionalProperties: expression('The new field\'s value', ['bid * 1000']),
      },
      window: slot('window', 'How records are grouped in event time.', {
        rollups: {
          type: 'array',
          description:
            'Coarser granularities maintained next to the base windows (tumbling windows only), e.g. `[1h, 1d]`: each a whole multiple of the one before it. Every batch is merged into each level as it is written, by merging states (unique counts are HyperLogLog merges, never sums).',
          items: { type: 'string', pattern: DURATION_PATTERN, examples: ['1h', '1d'] },
          minItems: 1,
          examples: [['1h', '1d']],
        },
      }),
      groupBy: {
        type: 'array',
        description: 'Group keys: a field name, or `name: expression` for a computed key.',
        items: {
          type: ['string', 'object'],
          minLength: 1,
          minProperties: 1,
          maxProperties: 1,
          propertyNames: outputName,
          additionalProperties: expression('The key\'s value', ['$lowercase(geo)']),
        },
        examples: [['publisher', 'geo']],
      },
      missingKeys: {
        enum: [null, 'null', 'deadLetter'],
        default: null,
        description:
          'A record whose group key is absent or null: `null` (the default) counts it in a group whose key is null, as SQL\'s GROUP BY does; `deadLetter` rejects it as a dead letter `missing-key`.',
      },
      aggregate: {
        type: 'object',
        description: 'Output name -> aggregation.',
        minProperties: 1,
        propertyNames: outputName,
        additionalProperties: aggregation(),
      },
      sink: slot('sink', 'Where results go.', {
        document: {
          type: 'object',
          description: `Stored field name -> result name (${WINDOW_FIELDS.join(', ')}, a group key or an aggregate). Without it rows hold windowStart, windowEnd, the keys and the aggregates.`,
          minProperties: 1,
          additionalProperties: { type: 'string', minLength: 1 },
          examples: [{ date: 'window.start', publisher: 'publisher', imps: 'imps' }],
        },
      }),
      deadLetter: slot('deadLetter', 'Where rejected records go (bad JSON, missing event time, late records...).'),
    },
  };
}

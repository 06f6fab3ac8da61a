import { components } from '../components/registry.js';
import type { Slot } from '../components/spec.js';
import { aggregationKinds } from '../components/aggregations/index.js';
import { Type, type Static, type TProperties } from '@sinclair/typebox';
import type { JsonSchema } from '../json-schema.js';
import { DEFAULT_IDLE_TIMEOUT, DEFAULT_LIMITS } from '../engine/plan.js';
import { choice, defaultedObject, duration, durationList, expression, integer, strictObject, text } from '../components/fragments.js';

export const SCHEMA_ID = 'https://runnel.dev/schemas/pipeline.schema.json';

/** Names a result row offers besides group keys and aggregate outputs. */
export const WINDOW_FIELDS = ['window.start', 'window.end'] as const;

/**
 * A slot holds exactly one component, selected by its key (`source: { kafka: {...} }`); `extra`
 * are keys that may stand beside the component (the sink's document mapping).
 */
function slot<Extra extends TProperties>(name: Slot, description: string, extra: Extra = {} as Extra) {
  const specs = components[name];
  const properties: TProperties = {};
  for (const spec of specs) properties[spec.name] = Type.Optional(Type.Unsafe<unknown>({ ...spec.config, description: spec.summary }));
  // the static type names only the extra keys: which component key is present is known at run time
  return Type.Object<Extra>(
    { ...properties, ...extra },
    {
      description: `${description} One of: ${specs.map((s) => s.name).join(', ')}.`,
      additionalProperties: false,
      oneOf: specs.map((spec) => ({ required: [spec.name] })),
    },
  );
}

export const WHERE_DESCRIPTION =
  "Only records for which this holds are aggregated in this output, as SQL's `FILTER (WHERE ...)`; they still count in the others, and a record it leaves out is not checked against the output's input";

export const DERIVED_DESCRIPTION =
  "A derived output, computed from the row's aggregates, group keys and the derived outputs declared before it whenever a row is emitted or a document written, and from merged states in rollups and the serving layer: the CTR of an hour is its clicks over its impressions, never a mean of its minutes' CTRs. It is null when an input is missing or not a number, or the result is not a finite number (a division by zero). It uses the expressions compiled to JavaScript (arithmetic, comparisons, `?:`, functions such as `$round`); it is not stored as a state, so it may change freely under stored data";

const WHERE = expression(WHERE_DESCRIPTION, { examples: ['type = "click"', 'bid > 0.5'] });

/**
 * `count` alone, `{ kind: expression, ...options, where? }` (`{ count: true, where }` for kinds
 * without an input), or a derived output `{ expression }` computed from the other outputs.
 */
function aggregation(): JsonSchema {
  const bare = aggregationKinds.filter((k) => k.input === 'none').map((k) => k.name);
  const branches: JsonSchema[] = [{ type: 'string', enum: bare, description: `Aggregations written alone: ${bare.join(', ')}.` }];
  for (const kind of aggregationKinds) {
    const input =
      kind.input === 'none'
        ? { const: true, description: `\`${kind.name}: true\`: ${kind.name} (written this way to take \`where\`)` }
        : expression(`The field or expression to ${kind.name}`, { examples: ['bid', 'cookie'] });
    branches.push({
      type: 'object',
      description: kind.summary,
      properties: { [kind.name]: input, ...kind.options, where: WHERE },
      required: [kind.name],
      additionalProperties: false,
    });
  }
  branches.push({
    type: 'object',
    description: DERIVED_DESCRIPTION,
    properties: { expression: expression('The derived value', { examples: ['clicks / imps'] }) },
    required: ['expression'],
    additionalProperties: false,
  });
  return {
    description:
      'An aggregation: `count`, or one of `{ sum: bid }`, `{ avg: bid }`, `{ approxDistinct: cookie }`, ..., each optionally with `where`; or a derived output `{ expression: clicks / imps }`.',
    oneOf: branches,
  };
}

const OUTPUT_NAME = { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' };

/** A name -> expression mapping (computed fields, a computed group key). */
function namedExpressions(description: string, extra: JsonSchema, valueDescription: string, examples: string[]) {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    description,
    ...extra,
    propertyNames: OUTPUT_NAME,
    additionalProperties: expression(valueDescription, { examples }),
  });
}

/**
 * One entry of `sources:`: a source component, and what applies to its records alone. Defaults
 * inside a map's entries are not filled in with the pipeline's (`applyDefaults` stops at a map):
 * the compiler fills each entry with this schema.
 */
export function sourceEntry() {
  return slot('source', 'A named source.', {
    filter: Type.Optional(expression("Keep only this source's records for which this is true", { examples: ['type = "click"'] })),
    fields: Type.Optional(
      namedExpressions("New fields computed per record of this source, in order, before the pipeline's own.", {}, "The new field's value", [
        'bid * 1000',
      ]),
    ),
    time: Type.Optional(
      strictObject("Where this source's records carry their event time, when not where the pipeline's `time` says.", {
        field: text('The field (or dotted path) holding the event time.', { examples: ['clickedAt'] }),
        format: choice(['auto', 'epochMillis', 'epochSeconds', 'iso8601'], 'As in `time.format`.', { default: 'auto' }),
      }),
    ),
  });
}

/** A sink component, and the mapping from result names to the fields of its rows. */
export function sinkEntry(description: string) {
  return slot('sink', description, {
    document: Type.Optional(
      Type.Unsafe<Record<string, string>>({
        type: 'object',
        description: `Stored field name -> result name (${WINDOW_FIELDS.join(', ')}, a group key or an aggregate). Without it rows hold windowStart, windowEnd, the keys and the aggregates.`,
        minProperties: 1,
        additionalProperties: { type: 'string', minLength: 1 },
        examples: [{ date: 'window.start', publisher: 'publisher', imps: 'imps' }],
      }),
    ),
  });
}

/**
 * The pipeline file's schema, built from the component registry. Its static type is what the
 * compiler reads once the file has passed it and its defaults are filled in (`applyDefaults`).
 */
function pipelineSchema() {
  return Type.Object(
    {
      name: text("The pipeline's name: letters, digits, `-`, `_`, `.`; used in logs, metrics and the API.", {
        pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$',
        examples: ['impressions'],
      }),
      version: Type.Optional(
        Type.Unsafe<number | string>({
          type: ['integer', 'string'],
          description: 'Your version of this pipeline, for your own bookkeeping.',
        }),
      ),
      description: Type.Optional(Type.String({ description: 'What the pipeline computes, for people.' })),
      source: Type.Optional(slot('source', 'Where records come from (or `sources:`, several of them).')),
      sources: Type.Optional(
        Type.Record(Type.String(), sourceEntry(), {
          description:
            'Several named sources, read side by side into one stream (instead of `source:`). A record knows its source as `$source` in expressions; each source may filter, compute fields and read event time of its own before the pipeline-level `filter` and `fields`.',
          minProperties: 1,
          propertyNames: OUTPUT_NAME,
          examples: [
            {
              impressions: { kafka: { brokers: '127.0.0.1:9092', topics: 'adnetwork-topic', group: 'runnel-ctr' } },
              clicks: {
                kafka: { brokers: '127.0.0.1:9092', topics: 'adnetwork-clicks', group: 'runnel-ctr' },
                time: { field: 'clickedAt' },
              },
            },
          ],
        }),
      ),
      batch: defaultedObject(
        'How the stream is cut into micro-batches, each stored (and its offsets committed) as a whole. A batch fills while the one before it is stored, and is stored once that store has ended and it has reached `interval` or `maxRecords`; while a store runs, the next batch goes on past both, up to `maxHeldRecords` and `maxGroups`, so a slow store is paid once for all those records and each document is written about once per store.',
        {
          interval: duration('How long a batch collects records before it is stored (once the store before it has ended).', {
            default: '1s',
          }),
          maxRecords: integer('A batch is stored at this many records, once the store before it has ended.', {
            minimum: 1,
            default: 100000,
          }),
          maxHeldRecords: integer(
            'Most records in one batch (at least `maxRecords`): how far a batch goes on collecting while the store before it runs. Bounds the memory that distinct values take while a store is slow (a replay, a database outage).',
            { minimum: 1, default: 500000 },
          ),
          maxGroups: integer(
            "Most partial aggregates in one batch: one per window and group key that the batch's records fall in, per source partition. A replay spread over hours of event time touches a window per minute and key, and a batch's memory grows with them, not with its records: this bounds it.",
            { minimum: 1, default: 200000 },
          ),
        },
      ),
      limits: defaultedObject(
        'Bounds on each record and on expression evaluation. A record beyond them is a dead letter with the reason named below; the run goes on.',
        {
          maxRecordBytes: integer(
            'Longest record in bytes; a longer one is a dead letter `too-large` that keeps its size and first 1 KiB. Sources hold no more than this of one record.',
            { minimum: 1, default: DEFAULT_LIMITS.maxRecordBytes },
          ),
          maxDepth: integer(
            'Deepest nesting of objects and arrays in a record (the record itself is 1); a deeper one is a dead letter `too-deep`.',
            { minimum: 1, default: DEFAULT_LIMITS.maxDepth, maximum: 1000 },
          ),
          expressionTimeout: duration(
            "Longest time jsonata's evaluator may spend on one expression for one record; a record that takes longer is a dead letter `expression-timeout`. Expressions compiled to JavaScript never loop and need no bound. Three such timeouts in a row stop the run: an expression that never finishes is a fault of the pipeline, not of its records.",
            { default: `${DEFAULT_LIMITS.expressionTimeoutMs / 1000}s` },
          ),
          maxValueLength: integer(
            'Most items an expression may build in one array (a range `[1..n]`, a path over arrays) and longest string `$pad` may make; beyond it the record is a dead letter `expression-error`, before the memory is taken.',
            { minimum: 1, default: DEFAULT_LIMITS.maxValueLength },
          ),
        },
      ),
      time: Type.Optional(
        strictObject(
          "Event time: where each record's time comes from, and how long to wait for late records. Without it, the time a record is read is used.",
          {
            field: text('The field (or dotted path) holding the event time.', { examples: ['timestamp'] }),
            format: choice(
              ['auto', 'epochMillis', 'epochSeconds', 'iso8601'],
              '`auto` reads numbers below 1e11 as epoch seconds, other numbers as epoch milliseconds, and strings as ISO-8601.',
              { default: 'auto' },
            ),
            maxOutOfOrder: duration('Allowed out-of-orderness: the watermark trails the newest event time by this much.', {
              default: '5s',
            }),
            allowedLateness: duration("How long after the watermark passes a window's end its records are still accepted.", {
              default: '0s',
            }),
            maxFuture: duration(
              'Event times more than this ahead of the wall clock are dead letters `time-out-of-range`: one record from the far future would otherwise push the watermark past every record after it.',
              { default: '1d' },
            ),
            idleTimeout: duration(
              'A partition (of any source) that hands over no records for this long stops holding the watermark back, until it hands over records again: a quiet topic must not keep windows open for ever. `0s`: never idle.',
              { default: DEFAULT_IDLE_TIMEOUT },
            ),
            maxPast: Type.Optional(
              duration(
                'Event times more than this behind the wall clock are dead letters `time-out-of-range`. No bound by default, so old data can be replayed; records behind the watermark are `late` anyway.',
              ),
            ),
          },
        ),
      ),
      filter: Type.Optional(expression('Keep only records for which this is true', { examples: ['geo != "unknown"'] })),
      fields: Type.Optional(
        namedExpressions('New fields computed per record, in order; later ones may use earlier ones.', {}, "The new field's value", [
          'bid * 1000',
        ]),
      ),
      window: slot('window', 'How records are grouped in event time.', {
        rollups: Type.Optional(
          durationList(
            'Coarser granularities maintained next to the base windows (tumbling windows only), e.g. `[1h, 1d]`: each a whole multiple of the one before it. Every batch is merged into each level as it is written, by merging states (unique counts are HyperLogLog merges, never sums).',
            { examples: [['1h', '1d']] },
          ),
        ),
      }),
      groupBy: Type.Optional(
        Type.Unsafe<(string | Record<string, string>)[]>({
          type: 'array',
          description: 'Group keys: a field name, or `name: expression` for a computed key.',
          items: {
            type: ['string', 'object'],
            minLength: 1,
            minProperties: 1,
            maxProperties: 1,
            propertyNames: OUTPUT_NAME,
            additionalProperties: expression("The key's value", { examples: ['$lowercase(geo)'] }),
          },
          examples: [['publisher', 'geo']],
        }),
      ),
      missingKeys: choice(
        [null, 'null', 'deadLetter'],
        "A record whose group key is absent or null: `null` (the default) counts it in a group whose key is null, as SQL's GROUP BY does; `deadLetter` rejects it as a dead letter `missing-key`.",
        { default: null },
      ),
      aggregate: Type.Unsafe<Record<string, string | Record<string, unknown>>>({
        type: 'object',
        description: 'Output name -> aggregation.',
        minProperties: 1,
        propertyNames: OUTPUT_NAME,
        additionalProperties: aggregation(),
      }),
      sink: Type.Optional(sinkEntry('Where results go (or `sinks:`, several of them).')),
      sinks: Type.Optional(
        Type.Record(Type.String(), sinkEntry('A named sink.'), {
          description:
            "Several named sinks, each given every batch's results through its own `document` mapping (instead of `sink:`). At most one keeps the windows between runs (mongodb); the rows of the others are made from its states.",
          minProperties: 1,
          propertyNames: OUTPUT_NAME,
          examples: [
            {
              store: { mongodb: { uri: '${MONGODB_URI}', database: 'adlogdb', collection: 'ctrPerPubGeo' } },
              stream: { kafka: { brokers: '${KAFKA_BROKERS}', topic: 'adnetwork-ctr' } },
            },
          ],
        }),
      ),
      deadLetter: Type.Optional(slot('deadLetter', 'Where rejected records go (bad JSON, missing event time, late records...).')),
    },
    {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: SCHEMA_ID,
      title: 'Runnel pipeline',
      description:
        'A declarative stream aggregation: records from a source are cut into micro-batches, assigned to event-time windows, grouped and aggregated, and written to a sink. Generated from the component registry by `npm run schema`; do not edit by hand.',
      additionalProperties: false,
    },
  );
}

export type PipelineSchema = ReturnType<typeof pipelineSchema>;
/** A pipeline file's value once it passed the schema and its defaults are filled in. */
export type PipelineValue = Static<PipelineSchema>;

let built: PipelineSchema | undefined;

/** The schema, built once per process. */
export function buildPipelineSchema(): PipelineSchema {
  built ??= pipelineSchema();
  return built;
}

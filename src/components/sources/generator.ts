import type { LintIssue, SourceSpec } from '../spec.js';
import { Type, type Static } from '@sinclair/typebox';
import { applyDefaults, boolean, choice, duration, integer, number, strictObject, text } from '../fragments.js';
import { parseDuration } from '../../config/duration.js';
import type { Chunk } from '../../engine/records.js';
import type { SourceRuntime } from '../../engine/runtime.js';
import { CHUNK_RECORDS, sleep } from '../../engine/pacing.js';
import { ClickPicker, GEOS, ImpressionGenerator, type ImpressionOptions } from './impressions.js';

const config = strictObject('Synthetic ad impressions, like an ad server log, or the clicks on them.', {
  stream: choice(
    ['impressions', 'clicks'],
    '`impressions`, or `clicks`: the clicks on the impressions the same settings generate (about `clickRatio` of them, each 1 to 10 s after it was shown, with its publisher, advertiser, website, geo and cookie, and `impressionAt`, its time).',
    { default: 'impressions' },
  ),
  clickRatio: number('Share of impressions that are clicked, for `stream: clicks`.', { minimum: 0, maximum: 1, default: 0.02 }),
  count: Type.Optional(
    integer(
      'Impressions to generate (for `stream: clicks`, the impressions whose clicks are generated); the run ends after the last one. Without it the generator never ends.',
      { minimum: 1 },
    ),
  ),
  rate: Type.Optional(
    number('Impressions per second of wall-clock time; without it records come as fast as the pipeline takes them.', {
      exclusiveMinimum: 0,
    }),
  ),
  seed: integer('Seed of the pseudo-random sequence; the same seed gives the same records.', { minimum: 0, default: 1 }),
  startTime: text('Event time of the first record: an ISO-8601 timestamp, or `now`.', {
    pattern: '^(now|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2}))$',
    default: '2026-01-01T00:00:00Z',
    examples: ['2026-01-01T00:00:00Z', 'now'],
  }),
  eventsPerSecond: number('How fast event time advances: records per second of event time.', { exclusiveMinimum: 0, default: 1000 }),
  span: Type.Optional(
    duration(
      'Event time that the `count` records cover, evenly from `startTime`: event time advances at count / span records per second instead of `eventsPerSecond`. Needs `count`.',
    ),
  ),
  publishers: integer('Number of distinct publishers.', { minimum: 1, default: 6 }),
  geos: integer(`Number of distinct resolved geos: the first ones of ${GEOS.join(', ')}.`, {
    minimum: 1,
    maximum: GEOS.length,
    default: GEOS.length,
  }),
  skewed: boolean(
    'Whether a few publishers and websites get most of the traffic, as in real ad networks (the product of two uniform draws); false draws them uniformly, so every one of them appears.',
    { default: true },
  ),
  advertisers: integer('Number of distinct advertisers.', { minimum: 1, default: 20 }),
  websites: integer('Number of distinct websites.', { minimum: 1, default: 50 }),
  cookies: integer('Size of the pool that cookies are drawn from.', { minimum: 1, default: 1000000 }),
  unknownGeoRatio: number('Share of records whose geo is `unknown` (unresolved).', { minimum: 0, maximum: 1, default: 0.05 }),
  jitter: duration("Largest random delay subtracted from a record's event time, so records arrive out of order.", { default: '0s' }),
});
type GeneratorConfig = Static<typeof config>;

/** The impressions a generator config describes (also `runner produce`'s, from its options). */
export function impressionOptions(config: GeneratorConfig): ImpressionOptions {
  const spanMs = config.span === undefined ? 0 : parseDuration(config.span);
  return {
    seed: config.seed,
    startTime: config.startTime === 'now' ? Date.now() : Date.parse(config.startTime),
    eventsPerSecond: config.count !== undefined && spanMs > 0 ? (config.count * 1000) / spanMs : config.eventsPerSecond,
    publishers: config.publishers,
    geos: config.geos,
    skewed: config.skewed,
    advertisers: config.advertisers,
    websites: config.websites,
    cookies: config.cookies,
    unknownGeoRatio: config.unknownGeoRatio,
    jitterMs: parseDuration(config.jitter),
  };
}

/** The generator's documented defaults, for everything else that generates impressions (`runner produce`, benches, tests). */
export type { GeneratorConfig };
export const generatorDefaults: GeneratorConfig = applyDefaults(config, {});
export const impressionDefaults: ImpressionOptions = impressionOptions(generatorDefaults);

export const generatorSource: SourceSpec<typeof config> = {
  slot: 'source',
  name: 'generator',
  summary:
    'Generates synthetic ad impressions {timestamp, publisher, advertiser, website, geo, bid, cookie}, or the clicks on them, seeded and deterministic.',
  config,
  examples: [
    { title: 'One million impressions', yaml: 'generator:\n  count: 1000000\n  seed: 42\n' },
    { title: 'A live feed at 5,000 records/s', yaml: 'generator:\n  rate: 5000\n  startTime: now\n  jitter: 2s\n' },
    {
      title: 'The clicks on those million impressions (about 20,000)',
      yaml: 'generator:\n  stream: clicks\n  count: 1000000\n  seed: 42\n',
    },
    {
      title: 'A day of backfill, 10,000 keys per window',
      yaml: 'generator:\n  count: 5000000\n  span: 24h\n  publishers: 1000\n  geos: 10\n  skewed: false\n',
    },
  ],
  lint(config): LintIssue[] {
    if (config.span === undefined) return [];
    if (config.count === undefined) {
      return [
        {
          path: ['span'],
          message: 'span needs count: it spreads the count records over the span',
          hint: 'set count, or use eventsPerSecond',
        },
      ];
    }
    if (parseDuration(config.span) <= 0) return [{ path: ['span'], message: `span (${config.span}) is not longer than zero` }];
    return [];
  },
  async create(config, { signal, sourceName }) {
    const generator = new ImpressionGenerator(impressionOptions(config));
    const clicks = config.stream === 'clicks' ? new ClickPicker(config.seed, config.clickRatio) : undefined;
    // each generator of `sources:` is a partition of its own
    const partition = sourceName === undefined ? 'generator' : `generator:${sourceName}`;
    return new GeneratorRuntime(generator, clicks, partition, config.count ?? Infinity, config.rate, signal);
  },
};

class GeneratorRuntime implements SourceRuntime {
  private readonly startedAt = Date.now();

  constructor(
    private readonly generator: ImpressionGenerator,
    /** Set for `stream: clicks`: the records are the clicks on the generated impressions. */
    private readonly clicks: ClickPicker | undefined,
    private readonly partition: string,
    private readonly count: number,
    private readonly rate: number | undefined,
    private readonly signal: AbortSignal,
  ) {}

  async next(maxRecords: number, waitMs: number): Promise<Chunk[] | null> {
    const produced = this.generator.position;
    if (produced >= this.count) return null;
    let allowed = Math.min(maxRecords, CHUNK_RECORDS, this.count - produced);
    if (this.rate !== undefined) {
      const due = Math.floor(((Date.now() - this.startedAt) * this.rate) / 1000) - produced;
      if (due <= 0) {
        await sleep(Math.min(waitMs, Math.ceil(1000 / this.rate)), this.signal);
        return [];
      }
      allowed = Math.min(allowed, due);
    }
    if (this.clicks) {
      const offsets: number[] = [];
      const payloads: unknown[] = [];
      for (let i = 0; i < allowed; i++) {
        const offset = this.clicks.position;
        const click = this.clicks.clickOn(this.generator.next());
        if (click === undefined) continue;
        offsets.push(offset);
        payloads.push(click);
      }
      return offsets.length === 0 ? [] : [{ partition: this.partition, offsets, payloads }];
    }
    const offsets = new Array<number>(allowed);
    const payloads = new Array<unknown>(allowed);
    for (let i = 0; i < allowed; i++) {
      offsets[i] = this.generator.position;
      payloads[i] = this.generator.next();
    }
    return [{ partition: this.partition, offsets, payloads }];
  }

  async commit(): Promise<void> {
    // a generated sequence is replayed from its seed, not from stored offsets
  }

  async close(): Promise<void> {}
}

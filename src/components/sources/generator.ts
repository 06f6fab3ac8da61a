import type { SourceSpec } from '../spec.js';
import { duration, integer, strictObject } from '../fragments.js';
import { parseDuration } from '../../config/duration.js';
import type { Chunk } from '../../engine/records.js';
import type { SourceRuntime } from '../../engine/runtime.js';
import { CHUNK_RECORDS, sleep } from '../../engine/pacing.js';
import { ImpressionGenerator, impressionDefaults } from './impressions.js';

export interface GeneratorSourceConfig {
  count?: number;
  rate?: number;
  seed?: number;
  startTime?: string;
  eventsPerSecond?: number;
  publishers?: number;
  advertisers?: number;
  websites?: number;
  cookies?: number;
  unknownGeoRatio?: number;
  jitter?: string;
}

export const generatorSource: SourceSpec<GeneratorSourceConfig> = {
  slot: 'source',
  name: 'generator',
  summary:
    'Generates synthetic ad impressions {timestamp, publisher, advertiser, website, geo, bid, cookie}, seeded and deterministic.',
  config: strictObject('Synthetic ad impressions, like an ad server log.', {
    count: integer('Records to generate; the run ends after the last one. Without it the generator never ends.', 1),
    rate: {
      type: 'number',
      exclusiveMinimum: 0,
      description: 'Records per second of wall-clock time; without it records come as fast as the pipeline takes them.',
    },
    seed: integer('Seed of the pseudo-random sequence; the same seed gives the same records.', 0, 1),
    startTime: {
      type: 'string',
      pattern: '^(now|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2}))$',
      default: '2026-01-01T00:00:00Z',
      description: 'Event time of the first record: an ISO-8601 timestamp, or `now`.',
      examples: ['2026-01-01T00:00:00Z', 'now'],
    },
    eventsPerSecond: {
      type: 'number',
      exclusiveMinimum: 0,
      default: 1000,
      description: 'How fast event time advances: records per second of event time.',
    },
    publishers: integer('Number of distinct publishers.', 1, 6),
    advertisers: integer('Number of distinct advertisers.', 1, 20),
    websites: integer('Number of distinct websites.', 1, 50),
    cookies: integer('Size of the pool that cookies are drawn from.', 1, 1000000),
    unknownGeoRatio: {
      type: 'number',
      minimum: 0,
      maximum: 1,
      default: 0.05,
      description: 'Share of records whose geo is `unknown` (unresolved).',
    },
    jitter: duration('Largest random delay subtracted from a record\'s event time, so records arrive out of order.', '0s'),
  }),
  examples: [
    { title: 'One million impressions', yaml: 'generator:\n  count: 1000000\n  seed: 42\n' },
    { title: 'A live feed at 5,000 records/s', yaml: 'generator:\n  rate: 5000\n  startTime: now\n  jitter: 2s\n' },
  ],
  async create(config, { signal }) {
    const d = impressionDefaults;
    const generator = new ImpressionGenerator({
      seed: config.seed ?? d.seed,
      startTime: config.startTime === 'now' ? Date.now() : config.startTime ? Date.parse(config.startTime) : d.startTime,
      eventsPerSecond: config.eventsPerSecond ?? d.eventsPerSecond,
      publishers: config.publishers ?? d.publishers,
      advertisers: config.advertisers ?? d.advertisers,
      websites: config.websites ?? d.websites,
      cookies: config.cookies ?? d.cookies,
      unknownGeoRatio: config.unknownGeoRatio ?? d.unknownGeoRatio,
      jitterMs: parseDuration(config.jitter ?? '0s'),
    });
    return new GeneratorRuntime(generator, config.count ?? Infinity, config.rate, signal);
  },
};

const PARTITION = 'generator';

class GeneratorRuntime implements SourceRuntime {
  private readonly startedAt = Date.now();

  constructor(
    private readonly generator: ImpressionGenerator,
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
    const offsets = new Array<number>(allowed);
    const payloads = new Array<unknown>(allowed);
    for (let i = 0; i < allowed; i++) {
      offsets[i] = this.generator.position;
      payloads[i] = this.generator.next();
    }
    return [{ partition: PARTITION, offsets, payloads }];
  }

  async commit(): Promise<void> {
    // a generated sequence is replayed from its seed, not from stored offsets
  }

  async close(): Promise<void> {}
}

/**
 * The shapes of `npm run bench:e2e` (BENCH_SHAPE=<name>): the load each one puts on the runner
 * and the database. A shape's topic is produced once per record count and reused; shapes with the
 * same records share one.
 */

/** The records of a topic: `runner produce` options beyond --topic and --count, and the tag in the topic's name. */
export interface TopicShape {
  tag: string;
  produce: string[];
}

export interface Shape {
  name: ShapeName;
  about: string;
  /** Absent for `raw`, which writes the documents of a `backfill` run itself. */
  topic?: TopicShape;
  /** Runs into collections that already hold this many documents of earlier days (`grown`). */
  preloadDocs?: number;
  /** The pipeline file, when not BENCH_PIPELINE's default (pipelines/impressions.yaml). */
  pipeline?: string;
  /** Records when BENCH_RECORDS is not set, when not 5,000,000. */
  records?: number;
}

export type ShapeName = 'steady' | 'backfill' | 'keys' | 'grown' | 'replay' | 'raw';

/** Event time as fast as a busy ad network's: each batch touches one or two minutes of 72 keys (6 publishers x 12 geos). */
const STEADY: TopicShape = { tag: '', produce: ['--events-per-second', '400000'] };

export const shapes: Record<ShapeName, Shape> = {
  steady: { name: 'steady', about: '72 keys, event time at 400,000 records/s', topic: STEADY },
  backfill: {
    name: 'backfill',
    about: '72 keys over 24 h of event time: about 104,000 minute documents, 1,700 hourly, 72 daily',
    topic: { tag: 'backfill-', produce: ['--span', '24h'] },
  },
  keys: {
    name: 'keys',
    about: '1,000 publishers x 10 geos, drawn uniformly: 10,000 keys per minute, event time at 400,000 records/s',
    topic: { tag: 'keys-', produce: ['--events-per-second', '400000', '--publishers', '1000', '--geos', '10', '--uniform'] },
  },
  grown: {
    name: 'grown',
    about: 'steady, into collections that already hold 1,000,000 documents of earlier days',
    topic: STEADY,
    preloadDocs: 1_000_000,
  },
  replay: {
    name: 'replay',
    about:
      'a day of 40 keys (8 publishers x 5 geos) replayed from a topic whose every partition spans the whole day, as `runner produce` ' +
      'fills it; bench/pipelines/replay.yaml: batches of at most 20,000, count, sum, avg, exact and approximate distinct, an hourly rollup',
    topic: { tag: 'replay-', produce: ['--span', '24h', '--publishers', '8', '--geos', '5'] },
    pipeline: 'bench/pipelines/replay.yaml',
    records: 2_000_000,
  },
  raw: {
    name: 'raw',
    about: "the documents of a backfill run, written by a plain bulkWrite of replaceOne upserts by _id (the database's own rate)",
  },
};

export function shapeNamed(name: string): Shape {
  if (!Object.hasOwn(shapes, name)) throw new Error(`BENCH_SHAPE=${name}: expected one of ${Object.keys(shapes).join(', ')}`);
  return shapes[name as ShapeName];
}

/** `runnel-bench-<count>` for steady (the name bench:e2e always used), `runnel-bench-<tag><count>` for the others. */
export function topicName(topic: TopicShape, count: number): string {
  return `runnel-bench-${topic.tag}${count}`;
}

/** Where the event time of every shape's topic starts (the generator's default): documents of earlier days lie before it. */
export const EVENT_TIME_START = Date.parse('2026-01-01T00:00:00Z');

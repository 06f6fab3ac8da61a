/**
 * One entry per registered source, sink and dead-letter destination, by name: how the compliance
 * suites feed it and read it back. A new component gets the whole suite by adding its entry here;
 * without one, its suite fails (see the first tests of sources, sinks and dead-letters.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { MongoClient } from 'mongodb';
import { ImpressionGenerator } from '../../src/components/sources/impressions.js';
import { impressionDefaults } from '../../src/components/sources/generator.js';
import type { WrittenDeadLetter } from '../../src/engine/runtime.js';
import { mongoUri } from '../helpers/stack.js';
import { RowTopicReader } from '../helpers/kafka.js';
import type { EmitMode } from '../../src/components/sinks/row-sink.js';
import type { DeadLetterHarness, SinkFixture, SinkHarness, SourceFixture, SourceHarness } from './harness.js';
import {
  byteOffsets,
  createTopic,
  deleteTopics,
  pause,
  produce,
  readTopic,
  sampleLines,
  uniqueName,
  withProcessStream,
} from './support.js';

const nothingToClean = async (): Promise<void> => {};

/** The parsed lines of a JSONL file; none when it does not exist (yet). */
function readJsonl(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A file of sample lines: records with byte offsets as the file source's documentation gives them. */
function fileFixture(dir: string, count: number): SourceFixture {
  const lines = sampleLines(count);
  writeFileSync(join(dir, 'in.jsonl'), lines.join('\n') + '\n');
  const offsets = byteOffsets(lines);
  return {
    yaml: 'file:\n  path: in.jsonl\n',
    // the partition is the path as configured
    expected: lines.map((payload, i) => ({ partition: 'in.jsonl', offset: offsets[i], payload })),
    cleanup: nothingToClean,
  };
}

/** Standard input as a stream of its own, fed in pieces that cut lines and characters anywhere, then ended (unless idle). */
function stdinFixture(lines: string[], end: boolean): SourceFixture {
  const stream = new PassThrough();
  const bytes = Buffer.from(lines.length > 0 ? lines.join('\n') + '\n' : '');
  const offsets = byteOffsets(lines);
  return {
    yaml: 'stdin: {}\n',
    expected: lines.map((payload, i) => ({ partition: 'stdin', offset: offsets[i], payload })),
    async open(create) {
      const runtime = await withProcessStream('stdin', stream, create);
      void (async () => {
        for (let at = 0; at < bytes.length && !stream.destroyed; at += 4093) {
          stream.write(bytes.subarray(at, at + 4093));
          await pause(0);
        }
        if (end && !stream.destroyed) stream.end();
      })();
      return runtime;
    },
    cleanup: () => {
      stream.destroy();
      return Promise.resolve();
    },
  };
}

function kafkaSourceYaml(topic: string, group: string): string {
  return `kafka:\n  brokers: \${KAFKA_BROKERS}\n  topics: ${topic}\n  group: ${group}\n  start: earliest\n  connectTimeout: 20s\n`;
}

// Partial, as are the two below: a registered component may have no entry yet (its suite then fails, saying so)
export const sourceHarnesses: Partial<Record<string, SourceHarness>> = {
  kafka: {
    services: ['kafka'],
    bounded: false,
    replayable: true,
    async withRecords(count) {
      const topic = uniqueName('runnel-compliance');
      await createTopic(topic, 2);
      const lines = sampleLines(count);
      const placed = await produce(topic, 2, lines);
      return {
        yaml: kafkaSourceYaml(topic, uniqueName('compliance')),
        expected: lines.map((payload, i) => ({ partition: `${topic}/${placed[i].partition}`, offset: placed[i].offset, payload })),
        cleanup: () => deleteTopics([topic]),
      };
    },
    async idle() {
      const topic = uniqueName('runnel-compliance-idle');
      await createTopic(topic, 1);
      return { yaml: kafkaSourceYaml(topic, uniqueName('compliance')), expected: [], cleanup: () => deleteTopics([topic]) };
    },
  },
  file: {
    services: [],
    bounded: true,
    replayable: false,
    withRecords(count, dir) {
      return Promise.resolve(fileFixture(dir, count));
    },
    idle(dir) {
      writeFileSync(join(dir, 'idle.jsonl'), '');
      return Promise.resolve({ yaml: 'file:\n  path: idle.jsonl\n  follow: true\n', expected: [], cleanup: nothingToClean });
    },
  },
  generator: {
    services: [],
    bounded: true,
    replayable: false,
    withRecords(count) {
      const start = Date.UTC(2026, 0, 1);
      // "record i of a seed is always the same, whoever generates it": the reference is a generator of its own
      const reference = new ImpressionGenerator({ ...impressionDefaults, seed: 7, startTime: start, eventsPerSecond: 1000 });
      const expected = Array.from({ length: count }, (_, i) => ({ partition: 'generator', offset: i, payload: reference.next() }));
      // and it fits the config on its own terms: no jitter, one record per millisecond of event time
      expected.forEach(({ payload }, i) => assert.equal(payload.timestamp, start + i));
      return Promise.resolve({
        yaml: `generator:\n  count: ${count}\n  seed: 7\n  startTime: 2026-01-01T00:00:00Z\n  eventsPerSecond: 1000\n`,
        expected,
        cleanup: nothingToClean,
      });
    },
    idle() {
      // one record per 1000 s of wall-clock time: the first is not due for a long while
      return Promise.resolve({ yaml: 'generator:\n  rate: 0.001\n', expected: [], cleanup: nothingToClean });
    },
  },
  stdin: {
    services: [],
    bounded: true,
    replayable: false,
    withRecords(count) {
      return Promise.resolve(stdinFixture(sampleLines(count), true));
    },
    idle() {
      return Promise.resolve(stdinFixture([], false));
    },
  },
};

/** A writable standing in for standard output; collects what is written. */
class Capture extends Writable {
  text = '';

  constructor() {
    super({ decodeStrings: false });
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
}

function fileSinkFixture(dir: string, emit: EmitMode): SinkFixture {
  const path = join(dir, 'out', 'rows.jsonl');
  return {
    yaml: `file:\n  path: out/rows.jsonl\n  emit: ${emit}\n`,
    open: async (create) => ({ sink: await create(), output: () => Promise.resolve(readJsonl(path)) }),
    cleanup: nothingToClean,
  };
}

function consoleSinkFixture(emit: EmitMode): SinkFixture {
  return {
    yaml: `console:\n  emit: ${emit}\n  format: jsonl\n`,
    async open(create) {
      const out = new Capture();
      const sink = await withProcessStream('stdout', out, create);
      return {
        sink,
        output: () =>
          Promise.resolve(
            out.text
              .split('\n')
              .filter((line) => line !== '')
              .map((line) => JSON.parse(line) as Record<string, unknown>),
          ),
      };
    },
    cleanup: nothingToClean,
  };
}

async function mongoSinkFixture(): Promise<SinkFixture> {
  const database = uniqueName('runnel_compliance').replace(/-/g, '_');
  const client = new MongoClient(mongoUri(), { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  const rows = client.db(database).collection('rows');
  return {
    yaml: `mongodb:\n  uri: \${MONGODB_URI}\n  database: ${database}\n  collection: rows\n  connectTimeout: 10s\n`,
    open: async (create) => ({
      sink: await create(),
      // the user's fields of every document, as a reader of the collection sees them
      output: async () =>
        (await rows.find({}, { projection: { _runnel: 0 } }).toArray()).map((doc) =>
          Object.fromEntries(Object.entries(doc).filter(([name]) => name !== '_id')),
        ),
    }),
    async cleanup() {
      await client.db(database).dropDatabase();
      await client.close();
    },
  };
}

/** A row topic of its own, read back as a read_committed consumer sees it; an instance's output is what came after it opened. */
async function kafkaSinkFixture(emit: EmitMode): Promise<SinkFixture> {
  const topic = uniqueName('runnel-compliance-rows');
  await createTopic(topic, 2);
  const reader = await RowTopicReader.start(topic);
  return {
    yaml: `kafka:\n  brokers: \${KAFKA_BROKERS}\n  topic: ${topic}\n  emit: ${emit}\n  connectTimeout: 20s\n`,
    async open(create) {
      const sink = await create();
      const from = (await reader.settled()).length;
      return { sink, output: async () => (await reader.settled()).slice(from).map((m) => m.row) };
    },
    async cleanup() {
      await reader.stop();
      await deleteTopics([topic]);
    },
  };
}

export const sinkHarnesses: Partial<Record<string, SinkHarness>> = {
  kafka: {
    services: ['kafka'],
    persistent: false,
    variants: [
      { label: 'emit: updates', delivery: 'updates', fixture: () => kafkaSinkFixture('updates') },
      { label: 'emit: final', delivery: 'final', fixture: () => kafkaSinkFixture('final') },
    ],
  },
  mongodb: {
    services: ['mongodb'],
    persistent: true,
    variants: [{ label: 'one collection', delivery: 'stored', fixture: mongoSinkFixture }],
  },
  file: {
    services: [],
    persistent: false,
    variants: [
      { label: 'emit: final', delivery: 'final', fixture: (dir) => Promise.resolve(fileSinkFixture(dir, 'final')) },
      { label: 'emit: updates', delivery: 'updates', fixture: (dir) => Promise.resolve(fileSinkFixture(dir, 'updates')) },
    ],
  },
  console: {
    services: [],
    persistent: false,
    variants: [
      { label: 'emit: final, jsonl', delivery: 'final', fixture: () => Promise.resolve(consoleSinkFixture('final')) },
      { label: 'emit: updates, jsonl', delivery: 'updates', fixture: () => Promise.resolve(consoleSinkFixture('updates')) },
    ],
  },
};

export const deadLetterHarnesses: Partial<Record<string, DeadLetterHarness>> = {
  file: {
    services: [],
    fixture(dir) {
      return Promise.resolve({
        yaml: 'file:\n  path: dead/letters.jsonl\n',
        readBack: () => Promise.resolve(readJsonl(join(dir, 'dead', 'letters.jsonl')) as unknown as WrittenDeadLetter[]),
        cleanup: nothingToClean,
      });
    },
  },
  kafka: {
    services: ['kafka'],
    fixture() {
      const topic = uniqueName('runnel-compliance-dead');
      return Promise.resolve({
        yaml: `kafka:\n  brokers: \${KAFKA_BROKERS}\n  topic: ${topic}\n`,
        async readBack() {
          return (await readTopic(topic)).map(({ key, headers, value }) => {
            const deadLetter = JSON.parse(value) as WrittenDeadLetter;
            // the framing the destination documents: keyed by source partition, with a reason header
            assert.equal(key, deadLetter.partition, 'message key');
            assert.equal(headers.reason, deadLetter.reason, 'reason header');
            return deadLetter;
          });
        },
        cleanup: () => deleteTopics([topic]),
      });
    },
  },
};

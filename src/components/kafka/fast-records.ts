/**
 * kafkajs 2.2.4 (its last release) works out every record's offset and timestamp with BigInt:
 * a varlong read byte by byte into BigInt Longs, then `Long.fromValue(string).add(delta).toString()`
 * twice per record, then again `Long.fromValue(offset)` in the consumer's Batch to drop records
 * below the fetch offset. On the Kafka thread of bench:e2e that was about 15% of its time, plus
 * the garbage. These replacements of two of its private modules compute the same strings with
 * plain numbers whenever the values are safe integers (offsets and epoch-millisecond timestamps
 * always are in practice) and hand anything else to kafkajs's own code. They produce exactly what
 * kafkajs's code produces (test/components/kafka/fast-records.test.ts compares them on generated
 * record batches), and are installed only for the version they were written against.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The kafkajs release whose private modules these replace; any other keeps its own code. */
export const PATCHED_KAFKAJS_VERSION = '2.2.4';
const RECORD_DECODER = 'kafkajs/src/protocol/recordBatch/record/v0/decoder.js';
const BATCH = 'kafkajs/src/consumer/batch.js';
const LOG_APPEND_TIME = 1; // kafkajs/src/protocol/timestampTypes.js

/** kafkajs's protocol Decoder, as far as the record decoder uses it. */
interface Decoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarIntBytes(): Buffer | null;
  readVarIntArray<T>(reader: (decoder: Decoder) => T): T[];
}

interface BatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
}

interface Header {
  key: string;
  value: Buffer | null;
}

export type RecordDecoder = (decoder: Decoder, batchContext?: BatchContext) => Record<string, unknown>;

/**
 * A zigzag varlong as a number, or undefined when it may not be a safe integer (more than 7
 * bytes: 49 bits); the decoder's position is then left where it was.
 */
function readSafeVarLong(decoder: Decoder): number | undefined {
  const { buffer } = decoder;
  let at = decoder.offset;
  let raw = 0;
  let scale = 1;
  for (let i = 0; ; i++) {
    if (i === 7) return undefined;
    const byte = buffer[at++];
    raw += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) break;
  }
  decoder.offset = at;
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

/** kafkajs's `Long.fromValue(base).add(delta).toString()`, or undefined when not safe as numbers. */
function addSafely(base: string | undefined, delta: number): string | undefined {
  const start = Number(base);
  const sum = start + delta;
  // '' is 0 to Number but an error to kafkajs's Long; undefined is NaN
  return base !== '' && Number.isSafeInteger(start) && Number.isSafeInteger(sum) ? String(sum) : undefined;
}

/** The same record objects as kafkajs's record decoder, field for field. */
export function fastRecordDecoder(original: RecordDecoder, decodeHeader: (decoder: Decoder) => Header): RecordDecoder {
  return (decoder, batchContext = {}) => {
    const start = decoder.offset;
    const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
    const attributes = decoder.readInt8();
    const timestampDelta = readSafeVarLong(decoder);
    const timestamp =
      timestampDelta === undefined
        ? undefined
        : timestampType === LOG_APPEND_TIME && maxTimestamp
          ? maxTimestamp
          : addSafely(firstTimestamp, timestampDelta);
    const offset = timestamp === undefined ? undefined : addSafely(firstOffset, decoder.readVarInt());
    if (timestamp === undefined || offset === undefined) {
      decoder.offset = start;
      return original(decoder, batchContext);
    }
    const key = decoder.readVarIntBytes();
    const value = decoder.readVarIntBytes();
    const list = decoder.readVarIntArray(decodeHeader);
    const headers: Partial<Record<string, Buffer | null | (Buffer | null)[]>> = {};
    for (const header of list) {
      const seen = headers[header.key];
      headers[header.key] = seen === undefined ? header.value : Array.isArray(seen) ? seen.concat([header.value]) : [seen, header.value];
    }
    return { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord: isControlBatch, batchContext };
  };
}

interface BatchMessage {
  offset: string;
  isControlRecord?: boolean;
}

interface PartitionData {
  partition: number;
  highWatermark: string;
  abortedTransactions: unknown[];
  messages: BatchMessage[];
}

type BatchClass = { new (topic: string, fetchedOffset: string, partitionData: PartitionData): object; prototype: object };
type AbortedFilter = (args: { messages: BatchMessage[]; abortedTransactions: unknown[] }) => BatchMessage[];

/**
 * kafkajs's consumer Batch with the offset filter done on numbers: the same fields and the same
 * prototype (its methods), so `instanceof` and every method behave as before.
 */
export function fastBatch(Original: BatchClass, filterAbortedMessages: AbortedFilter): BatchClass {
  function Batch(topic: string, fetchedOffset: string, partitionData: PartitionData): object {
    const fetched = Number(fetchedOffset);
    const { abortedTransactions, messages } = partitionData;
    const offsets = messages.map((message) => Number(message.offset));
    if (!Number.isSafeInteger(fetched) || !offsets.every(Number.isSafeInteger)) return new Original(topic, fetchedOffset, partitionData);
    const batch = Object.create(Original.prototype) as Record<string, unknown>;
    batch.fetchedOffset = fetchedOffset;
    batch.topic = topic;
    batch.partition = partitionData.partition;
    batch.highWatermark = partitionData.highWatermark;
    batch.rawMessages = messages;
    const within = messages.filter((_, i) => offsets[i] >= fetched);
    batch.messagesWithinOffset = within;
    batch.messages = filterAbortedMessages({ messages: within, abortedTransactions }).filter((message) => !message.isControlRecord);
    return batch;
  }
  Batch.prototype = Original.prototype;
  return Batch as unknown as BatchClass;
}

/**
 * Puts the replacements in kafkajs's module cache. Must run before kafkajs is first loaded (its
 * consumer takes Batch at load); returns false, changing nothing, when that is too late or the
 * installed kafkajs is another version.
 */
export function installFastRecordDecoding(): boolean {
  const version = (require('kafkajs/package.json') as { version: string }).version;
  const paths = [RECORD_DECODER, BATCH].map((path) => require.resolve(path));
  if (version !== PATCHED_KAFKAJS_VERSION || paths.some((path) => require.cache[path])) return false;
  const [recordPath, batchPath] = paths;
  const decodeHeader = require('kafkajs/src/protocol/recordBatch/header/v0/decoder.js') as (decoder: Decoder) => Header;
  const filterAborted = require('kafkajs/src/consumer/filterAbortedMessages.js') as AbortedFilter;
  require(recordPath);
  require.cache[recordPath]!.exports = fastRecordDecoder(require.cache[recordPath]!.exports as RecordDecoder, decodeHeader);
  require(batchPath);
  require.cache[batchPath]!.exports = fastBatch(require.cache[batchPath]!.exports as BatchClass, filterAborted);
  return true;
}

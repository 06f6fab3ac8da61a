/**
 * The replacements of kafkajs's record decoder and consumer Batch produce exactly what kafkajs's
 * own code produces: records encoded with kafkajs's encoder are decoded by both and compared,
 * offsets and timestamps from small to past 2^53 (where the replacement hands over to kafkajs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { fastBatch, fastRecordDecoder, installFastRecordDecoding, type RecordDecoder } from '../../../src/components/kafka/fast-records.js';

const require = createRequire(import.meta.url);

/** kafkajs's protocol Decoder, as the record decoder takes it. */
type KafkajsDecoder = Parameters<RecordDecoder>[0];
type KafkajsBatch = Parameters<typeof fastBatch>[0];
/** kafkajs's record encoder (v0): the encoded record is in `buffer`. */
type RecordEncoder = (record: {
  offsetDelta: number;
  timestampDelta: number | bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | Buffer[]>;
}) => { buffer: Buffer };

// kafkajs's own modules, loaded before any replacement (this file never installs it in this process)
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (bytes: Buffer | null) => KafkajsDecoder;
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as RecordEncoder;
const originalDecoder = require('kafkajs/src/protocol/recordBatch/record/v0/decoder.js') as RecordDecoder;
const decodeHeader = require('kafkajs/src/protocol/recordBatch/header/v0/decoder.js') as Parameters<typeof fastRecordDecoder>[1];
const OriginalBatch = require('kafkajs/src/consumer/batch.js') as KafkajsBatch;
const filterAborted = require('kafkajs/src/consumer/filterAbortedMessages.js') as Parameters<typeof fastBatch>[1];

const fast = fastRecordDecoder(originalDecoder, decodeHeader);
const FastBatch = fastBatch(OriginalBatch, filterAborted);

/** A decoder positioned on one record's body, as kafkajs's record batch decoder hands it over. */
function recordDecoder(bytes: Buffer): KafkajsDecoder {
  return new Decoder(new Decoder(bytes).readVarIntBytes());
}

const int64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 40n }),
  fc.bigInt({ min: 2n ** 52n, max: 2n ** 54n }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);
const buffer = (maxLength: number) => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));
const bytes = fc.option(buffer(40), { nil: null });
// kafkajs's encoder takes no null header values; a repeated key is an array
const headers = fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(buffer(5), fc.array(buffer(5), { minLength: 2, maxLength: 3 })), {
  maxKeys: 3,
});

test('decodes records exactly as kafkajs does, offsets and timestamps of any size', () => {
  fc.assert(
    fc.property(
      int64,
      int64,
      fc.oneof(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 2 ** 31 - 1 })),
      fc.oneof(fc.integer({ min: -1000, max: 100_000 }), fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n })),
      bytes,
      bytes,
      headers,
      fc.constantFrom(0, 1),
      fc.boolean(),
      (firstOffset, firstTimestamp, offsetDelta, timestampDelta, key, value, headerMap, timestampType, isControlBatch) => {
        const encoded = encodeRecord({ offsetDelta, timestampDelta, key, value, headers: headerMap }).buffer;
        const context = {
          firstOffset: String(firstOffset),
          firstTimestamp: String(firstTimestamp),
          maxTimestamp: '1767225600123',
          magicByte: 2,
          timestampType,
          isControlBatch,
        };
        const expected = recordDecoder(encoded);
        const actual = recordDecoder(encoded);
        assert.deepStrictEqual(fast(actual, context), originalDecoder(expected, context));
        assert.equal(actual.offset, expected.offset, 'both read the whole record');
      },
    ),
    { numRuns: 3000 },
  );
});

test('hands a record to kafkajs when its numbers are past safe integers, with the same result', () => {
  const encoded = encodeRecord({ offsetDelta: 7, timestampDelta: 2n ** 60n, key: null, value: Buffer.from('v') }).buffer;
  const context = { firstOffset: '9007199254740990', firstTimestamp: '0', magicByte: 2 };
  const record = fast(recordDecoder(encoded), context);
  assert.equal(record.offset, '9007199254740997');
  assert.equal(record.timestamp, String(2n ** 60n));
  assert.deepStrictEqual(record, originalDecoder(recordDecoder(encoded), context));
});

test('builds the same Batch as kafkajs: offsets below the fetch offset, control records and aborted transactions dropped', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 2n ** 53n - 20n, max: 2n ** 53n + 20n })),
      fc.array(fc.record({ delta: fc.integer({ min: 0, max: 40 }), control: fc.boolean(), producer: fc.constantFrom('-1', '7') }), {
        maxLength: 30,
      }),
      fc.integer({ min: -5, max: 45 }),
      (base, specs, fetchDelta) => {
        const messages = specs.map((s) => ({
          offset: String(base + BigInt(s.delta)),
          isControlRecord: s.control,
          batchContext: { producerId: s.producer, inTransaction: s.producer === '7' },
        }));
        const data = () => ({
          partition: 3,
          highWatermark: String(base + 41n),
          abortedTransactions: [{ producerId: '7', firstOffset: String(base + 10n) }],
          messages,
        });
        const fetchedOffset = String(base + BigInt(fetchDelta));
        const expected = new OriginalBatch('t', fetchedOffset, data()) as Record<string, () => unknown>;
        const actual = new FastBatch('t', fetchedOffset, data()) as Record<string, () => unknown>;
        assert.ok(actual instanceof OriginalBatch);
        assert.deepStrictEqual({ ...actual }, { ...expected });
        for (const method of [
          'isEmpty',
          'isEmptyIncludingFiltered',
          'isEmptyControlRecord',
          'firstOffset',
          'lastOffset',
          'offsetLag',
          'offsetLagLow',
        ]) {
          assert.deepStrictEqual(actual[method](), expected[method](), method);
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test('installs only before kafkajs is loaded: here it is loaded already, and nothing changes', () => {
  assert.equal(installFastRecordDecoding(), false);
  assert.equal(require('kafkajs/src/consumer/batch.js'), OriginalBatch);
  assert.equal(require('kafkajs/src/protocol/recordBatch/record/v0/decoder.js'), originalDecoder);
});

test('installs in a process that has not loaded kafkajs yet, before the consumer takes the Batch class', () => {
  const module = new URL('../../../src/components/kafka/fast-records.js', import.meta.url).href;
  const script = `
    import { createRequire } from 'node:module';
    import { installFastRecordDecoding } from ${JSON.stringify(module)};
    const installed = installFastRecordDecoding();
    const require = createRequire(${JSON.stringify(module)});
    require('kafkajs');
    const source = (path) => Function.prototype.toString.call(require(path));
    process.stdout.write(JSON.stringify({
      installed,
      batch: source('kafkajs/src/consumer/batch.js').startsWith('function Batch('),
      records: source('kafkajs/src/protocol/recordBatch/record/v0/decoder.js').includes('readSafeVarLong'),
    }));`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  assert.deepStrictEqual(JSON.parse(result.stdout), { installed: true, batch: true, records: true });
});

/** The Kafka dead-letter destination against the real broker: every rejected record arrives once, as written. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kafkaDeadLetter } from '../../src/components/kafka/dead-letters.js';
import { applyDefaults } from '../../src/components/fragments.js';
import { silentLogger } from '../../src/log.js';
import { kafkaBrokers, requireStack } from '../helpers/stack.js';
import { testKafka } from '../helpers/kafka.js';
import { compileText } from '../helpers/pipeline.js';
import { BAD_RECORDS_PLAN, runBadRecords } from '../helpers/bad-records-run.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

interface Received {
  key: string;
  reason: string;
  value: Record<string, unknown>;
}

/** Every message of a one-partition topic, once `count` have arrived and nothing followed them for a moment. */
async function readDeadLetters(topic: string, count: number): Promise<Received[]> {
  const admin = testKafka().admin();
  await admin.connect();
  const [{ high }] = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  assert.equal(Number(high), count, `messages in ${topic}`);
  const consumer = testKafka().consumer({ groupId: `${topic}-reader` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received: Received[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${count} dead letters arrived`)), 30_000);
    void consumer.run({
      eachMessage: ({ message }) => {
        received.push({
          key: message.key!.toString(),
          reason: message.headers!.reason!.toString(),
          value: JSON.parse(message.value!.toString()) as Record<string, unknown>,
        });
        if (received.length >= count) {
          clearTimeout(timer);
          resolve();
        }
        return Promise.resolve();
      },
    });
  });
  await consumer.disconnect();
  return received;
}

describe('kafka dead-letter destination (integration)', await requireStack('kafka'), () => {
  test('each rejected record is one message: reason, partition, offset and payload, keyed by partition', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runnel-dlq-'));
    const topic = `runnel-dlq-${process.pid}-${Date.now().toString(36)}`;
    const input = join(dir, 'in.jsonl');
    const lines = ['{"ts":1000,"k":"a"}', '{"ts":', '[1,2]', '{"k":"b"}', '{"ts":2000,"k":"a"}', '"text"'];
    writeFileSync(input, lines.join('\n') + '\n');
    // expected from the input alone: byte offsets of the lines, and why each bad one is refused
    const offsets = lines.map((_, i) => lines.slice(0, i).reduce((sum, l) => sum + Buffer.byteLength(l) + 1, 0));
    const expected = [
      { reason: 'invalid-json', offset: offsets[1], payload: lines[1] },
      { reason: 'not-an-object', offset: offsets[2], payload: lines[2] },
      { reason: 'missing-time', offset: offsets[3], payload: lines[3] },
      { reason: 'not-an-object', offset: offsets[5], payload: lines[5] },
    ];
    const pipeline = join(dir, 'dlq.yaml');
    writeFileSync(
      pipeline,
      `name: dlq
source: { file: { path: ${JSON.stringify(input)} } }
time: { field: ts }
window: { tumbling: 1m }
groupBy: [k]
aggregate: { n: count }
sink: { file: { path: ${JSON.stringify(join(dir, 'out.jsonl'))} } }
deadLetter:
  kafka:
    brokers: ${kafkaBrokers().join(',')}
    topic: ${topic}
`,
    );
    const result = spawnSync(process.execPath, [cli, 'run', pipeline], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, RUNNEL_LOG_LEVEL: 'warn' },
    });
    assert.equal(result.status, 0, result.stderr);

    const received = await readDeadLetters(topic, expected.length);
    assert.equal(received.length, expected.length);
    received.forEach((message, i) => {
      assert.equal(message.key, input);
      assert.equal(message.reason, expected[i].reason);
      const { detail, at, ...rest } = message.value;
      assert.equal(typeof detail, 'string');
      assert.ok(!Number.isNaN(Date.parse(String(at))));
      assert.deepEqual(rest, { ...expected[i], partition: input });
    });
  });

  test('every bad record is one message when filling overlaps storing (many small batches, a slow store)', async () => {
    const topic = `runnel-dlq-overlap-${process.pid}-${Date.now().toString(36)}`;
    const context = { plan: compileText(BAD_RECORDS_PLAN), logger: silentLogger, cwd: process.cwd(), signal: new AbortController().signal };
    const deadLetters = await kafkaDeadLetter.create(applyDefaults(kafkaDeadLetter.config, { brokers: kafkaBrokers(), topic }), context);
    const { stats, expected } = await runBadRecords(deadLetters, { count: 3000 });
    await deadLetters.close();
    assert.ok(stats.batches > 10, `${stats.batches} batches`);
    const received = await readDeadLetters(topic, expected.size);
    assert.deepEqual(new Map(received.map((m) => [m.value.offset as number, m.reason])), expected);
    assert.equal(
      Object.values(stats.deadLetters).reduce((sum, n) => sum + n, 0),
      expected.size,
    );
  });
});

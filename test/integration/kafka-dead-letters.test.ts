/** The Kafka dead-letter destination against the real broker: every rejected record arrives once, as written. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kafkaBrokers, requireStack } from '../helpers/stack.js';
import { testKafka } from '../helpers/kafka.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');

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
    const result = spawnSync(process.execPath, [cli, 'run', pipeline], { cwd: dir, encoding: 'utf8', env: { ...process.env, RUNNEL_LOG_LEVEL: 'warn' } });
    assert.equal(result.status, 0, result.stderr);

    const kafka = testKafka();
    const consumer = kafka.consumer({ groupId: `${topic}-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received: { key: string; reason: string; value: Record<string, unknown> }[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} dead letters arrived`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          received.push({ key: message.key!.toString(), reason: message.headers!.reason!.toString(), value: JSON.parse(message.value!.toString()) });
          if (received.length >= expected.length) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    // nothing more behind them
    await new Promise((resolve) => setTimeout(resolve, 500));
    await consumer.disconnect();

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
});

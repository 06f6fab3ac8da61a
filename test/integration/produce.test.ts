/**
 * `runner produce` against the real broker: every partition holds its records in the order they
 * were generated (a pipeline's watermark assumes it), and the topic holds exactly what the
 * generator source would generate.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImpressionGenerator } from '../../src/components/sources/impressions.js';
import { generatorDefaults, impressionOptions } from '../../src/components/sources/generator.js';
import { kafkaBrokers, requireStack } from '../helpers/stack.js';
import { testKafka } from '../helpers/kafka.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
const COUNT = 30_000;
const START = '2026-03-01T00:00:00Z';

describe('runner produce (integration)', await requireStack('kafka'), () => {
  test('each partition holds its records in generated order, and the topic holds exactly the generated records', async () => {
    const topic = `runnel-produce-${process.pid}-${Date.now().toString(36)}`;
    const env = { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(','), RUNNEL_LOG_LEVEL: 'warn' };
    // 60 requests of 500 records, over an hour of event time (a request spans 1 minute of it)
    const args = ['produce', '--topic', topic, '--count', String(COUNT), '--partitions', '3', '--batch-size', '500'];
    const produced = spawnSync(process.execPath, [cli, ...args, '--span', '1h', '--start-time', START, '--seed', '5'], {
      env,
      encoding: 'utf8',
    });
    assert.equal(produced.status, 0, produced.stderr);

    const generator = new ImpressionGenerator(
      impressionOptions({ ...generatorDefaults, count: COUNT, seed: 5, startTime: START, span: '1h' }),
    );
    const expected = Array.from({ length: COUNT }, () => JSON.stringify(generator.next()));
    const order = new Map(expected.map((line, i) => [line, i]));

    const kafka = testKafka();
    const consumer = kafka.consumer({ groupId: `${topic}-check` });
    const byPartition = new Map<number, number[]>();
    let seen = 0;
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${seen} of ${COUNT} records read back`)), 60_000);
        void consumer.run({
          eachBatch: async ({ batch }) => {
            const list = byPartition.get(batch.partition) ?? [];
            byPartition.set(batch.partition, list);
            for (const message of batch.messages) {
              const index = order.get(message.value!.toString());
              assert.ok(index !== undefined, `a record the generator did not make: ${message.value!.toString()}`);
              list.push(index);
            }
            seen += batch.messages.length;
            if (seen >= COUNT) {
              clearTimeout(timer);
              resolve();
            }
            await Promise.resolve();
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }
    assert.equal(seen, COUNT);
    assert.equal(byPartition.size, 3);
    const all = [...byPartition.values()].flat().sort((a, b) => a - b);
    assert.deepEqual(
      all,
      Array.from({ length: COUNT }, (_, i) => i),
      'each generated record exactly once',
    );
    for (const [partition, indexes] of byPartition) {
      const firstOutOfOrder = indexes.findIndex((index, i) => i > 0 && index < indexes[i - 1]);
      assert.equal(
        firstOutOfOrder,
        -1,
        `partition ${partition}: record ${indexes[firstOutOfOrder]} at offset ${firstOutOfOrder} after ${indexes[firstOutOfOrder - 1]}`,
      );
    }
  });
});

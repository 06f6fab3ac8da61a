/**
 * The Kafka runtime against the real broker: a consumer that stays in its group but stops
 * fetching (as kafkajs can after a broker restart) is noticed and started again, and the records
 * it had not fetched arrive, each once and in order.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { Consumer } from 'kafkajs';
import { KafkaRuntime } from '../../../src/components/kafka/runtime.js';
import type { KafkaSourceConfig } from '../../../src/components/kafka/source.js';
import { kafkaBrokers, requireStack } from '../../helpers/stack.js';
import { testKafka } from '../../helpers/kafka.js';

const stack = await requireStack('kafka');

describe('KafkaRuntime against a real broker', stack, () => {
  const topic = `runnel-runtime-${randomBytes(4).toString('hex')}`;
  const kafka = testKafka();
  const stop = new AbortController();
  after(async () => {
    stop.abort();
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  async function produce(from: number, count: number): Promise<void> {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: count }, (_, i) => ({ value: JSON.stringify({ n: from + i }) })) });
    await producer.disconnect();
  }

  /** Until the group is stable with `members` members. */
  async function waitForStable(group: string, members: number): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
        const described = (await admin.describeGroups([group])).groups.at(0);
        if (described?.state === 'Stable' && described.members.length === members) return;
      }
      assert.fail(`group ${group} not stable with ${members} members`);
    } finally {
      await admin.disconnect();
    }
  }

  /** Offsets handed to the engine until `count` have come, or the deadline. */
  async function take(runtime: KafkaRuntime, count: number, deadlineMs: number): Promise<number[]> {
    const offsets: number[] = [];
    const deadline = Date.now() + deadlineMs;
    while (offsets.length < count && Date.now() < deadline)
      for (const chunk of (await runtime.next(1000, 200)) ?? []) offsets.push(...chunk.offsets);
    return offsets;
  }

  it('starts a consumer again that stays in its group without fetching, and loses or repeats no record', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    await produce(0, 50);
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const config: KafkaSourceConfig = {
      brokers: kafkaBrokers(),
      topics: topic,
      group: `runtime-${topic}`,
      start: 'earliest',
      maxBytesPerPartition: 1 << 20,
      connectTimeout: '20s',
      clientId: 'runnel-tests',
    };
    const runtime = await KafkaRuntime.start(testKafka(), config, 10_000, logger, stop.signal, 20_000, {}, 300);
    try {
      assert.deepEqual(
        await take(runtime, 50, 20_000),
        Array.from({ length: 50 }, (_, i) => i),
      );
      await runtime.commit(new Map([[`${topic}/0`, 29]]), new Map()); // the engine holds 30..49, uncommitted
      // kafkajs quiet but joined: the partition paused behind the runtime's back
      (runtime as unknown as { consumer: Consumer }).consumer.pause([{ topic }]);
      await produce(50, 25);
      assert.deepEqual(
        await take(runtime, 25, 30_000),
        Array.from({ length: 25 }, (_, i) => 50 + i),
        'the records after the stall, once',
      );
      assert.ok(
        lines.some((line) => line.includes('fetched nothing while its partitions hold records')),
        'the restart is logged as a warning',
      );
      assert.deepEqual(await take(runtime, 1, 1500), [], 'nothing more: 30..49 were not handed over again');
    } finally {
      await runtime.close();
    }
  });

  it('drops the records it fetched for partitions that moved to another runner, and hands the new owner the progress committed with them', async () => {
    const moving = `${topic}-moving`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: moving, numPartitions: 2 }], waitForLeaders: true });
    const producer = kafka.producer();
    await producer.connect();
    for (const partition of [0, 1])
      await producer.send({
        topic: moving,
        messages: Array.from({ length: 100 }, (_, n) => ({ partition, value: JSON.stringify({ n }) })),
      });
    await producer.disconnect();
    const logger = pino({ level: 'silent' });
    const config: KafkaSourceConfig = {
      brokers: kafkaBrokers(),
      topics: moving,
      group: `runtime-${moving}`,
      start: 'earliest',
      maxBytesPerPartition: 1_048_576,
      connectTimeout: '20s',
      clientId: 'runnel-tests',
    };
    const first = await KafkaRuntime.start(testKafka(), config, 10_000, logger, stop.signal, 20_000);
    let second: KafkaRuntime | undefined;
    try {
      // the first runner takes ten records of each partition and commits them; the rest waits in its queue
      const taken = new Map<string, number[]>();
      while ((taken.get(`${moving}/0`)?.length ?? 0) < 100 || (taken.get(`${moving}/1`)?.length ?? 0) < 100) {
        const chunks = await first.next(10, 500);
        for (const chunk of chunks ?? []) taken.set(chunk.partition, [...(taken.get(chunk.partition) ?? []), ...chunk.offsets]);
        if ([...taken.values()].flat().length >= 20) break;
      }
      const held = [...taken].map(([partition, offsets]) => [partition, Math.max(...offsets)] as const);
      assert.ok(held.length > 0, 'records came');
      const progress = new Map(held.map(([partition], i) => [partition, Date.UTC(2026, 5, 1) + i * 60_000]));
      await first.commit(new Map(held), progress);
      assert.ok(first.remaining() > 0, 'records wait in the queue');

      second = await KafkaRuntime.start(testKafka(), config, 10_000, logger, stop.signal, 20_000);
      // the group now splits the two partitions: each runner reads one, once both have joined
      await waitForStable(config.group, 2);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const seen = new Map<KafkaRuntime, Map<string, { offsets: number[]; progress?: number }>>();
      const delivered = (runtime: KafkaRuntime) => [...(seen.get(runtime)?.values() ?? [])].reduce((sum, p) => sum + p.offsets.length, 0);
      const deadline = Date.now() + 30_000;
      // the second runner's partition holds 100 records, of which at most the committed ones are skipped
      while (Date.now() < deadline && delivered(second) < 100 - Math.max(...held.map(([, offset]) => offset + 1))) {
        for (const runtime of [first, second]) {
          for (const chunk of (await runtime.next(1000, 100)) ?? []) {
            const byPartition = seen.get(runtime) ?? new Map<string, { offsets: number[]; progress?: number }>();
            seen.set(runtime, byPartition);
            const entry = byPartition.get(chunk.partition) ?? {
              offsets: [],
              ...(chunk.progress === undefined ? {} : { progress: chunk.progress }),
            };
            byPartition.set(chunk.partition, entry);
            entry.offsets.push(...chunk.offsets);
          }
        }
      }
      const fromSecond = seen.get(second);
      assert.ok(fromSecond && fromSecond.size === 1, 'the second runner was handed one partition');
      const [[partition, got]] = [...fromSecond];
      const committedAt = held.find(([p]) => p === partition)?.[1] ?? -1;
      assert.equal(got.offsets[0], committedAt + 1, 'it reads from the commit');
      assert.equal(got.progress, progress.get(partition) ?? -Infinity, 'with the progress committed there');
      const fromFirst = seen.get(first)?.get(partition)?.offsets ?? [];
      assert.deepEqual(fromFirst, [], `the first runner handed over none of ${partition} after it moved`);
    } finally {
      await second?.close();
      await first.close();
      await admin.deleteTopics({ topics: [moving] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});

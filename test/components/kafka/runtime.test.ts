/**
 * The Kafka runtime against the real broker: a consumer that stays in its group but stops
 * fetching (as kafkajs can after a broker restart) is noticed and started again, and the records
 * it had not fetched arrive, each once and in order; partitions that moved away are dropped; a
 * replay of partitions that each span the whole event time is handed out level in event time.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import type { Consumer } from 'kafkajs';
import { KafkaRuntime } from '../../../src/components/kafka/runtime.js';
import { ALIGNMENT_MS } from '../../../src/engine/partition-queues.js';
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

  /** A source on `name`, in a group of its own. */
  function configFor(name: string): KafkaSourceConfig {
    return {
      brokers: kafkaBrokers(),
      topics: name,
      group: `runtime-${name}`,
      start: 'earliest',
      maxBytesPerPartition: 1 << 20,
      connectTimeout: '20s',
      clientId: 'runnel-tests',
    };
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
    const config = configFor(topic);
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

  it('hands out partitions that each span the whole event time level in event time, not one partition after another', async () => {
    const replay = `${topic}-replay`;
    const partitions = 6;
    const perPartition = 3000;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: replay, numPartitions: partitions }], waitForLeaders: true });
    // record i of a partition is at i seconds; each partition written whole before the next, and
    // large enough that a fetch (1 MiB a partition, 10 MiB in all) holds only some partitions
    const padding = 'x'.repeat(1500);
    const producer = kafka.producer();
    await producer.connect();
    for (let partition = 0; partition < partitions; partition++)
      for (let from = 0; from < perPartition; from += 500)
        // requests under the broker's 1 MB
        await producer.send({
          topic: replay,
          messages: Array.from({ length: 500 }, (_, i) => ({ partition, value: JSON.stringify({ t: (from + i) * 1000, padding }) })),
        });
    await producer.disconnect();
    const config = configFor(replay);
    const runtime = await KafkaRuntime.start(testKafka(), config, 1200, pino({ level: 'silent' }), stop.signal, 20_000);
    try {
      // as the engine does: each take says how far each partition has been read
      const highest = new Map<string, number>();
      const read = new Map<string, number>();
      let widest = 0;
      for (const deadline = Date.now() + 60_000; [...read.values()].reduce((a, b) => a + b, 0) < partitions * perPartition;) {
        assert.ok(Date.now() < deadline, `read ${JSON.stringify(Object.fromEntries(read))} in a minute`);
        for (const chunk of (await runtime.next(100, 200, highest)) ?? []) {
          assert.equal(chunk.offsets[0], read.get(chunk.partition) ?? 0, `${chunk.partition} in order, none twice`);
          read.set(chunk.partition, (read.get(chunk.partition) ?? 0) + chunk.offsets.length);
          highest.set(chunk.partition, chunk.offsets.at(-1)! * 1000);
        }
        // the spread of the partitions still being read
        const open = [...highest].filter(([p]) => (read.get(p) ?? 0) < perPartition).map(([, t]) => t);
        if (open.length === partitions) widest = Math.max(widest, Math.max(...open) - Math.min(...open));
      }
      // a take of 100 adds at most 100 s to one partition past the alignment
      assert.ok(
        widest <= ALIGNMENT_MS + 100_000,
        `partitions ${widest / 1000} s apart at most (read one after another: ${perPartition} s)`,
      );
    } finally {
      await runtime.close();
      await admin.deleteTopics({ topics: [replay] }).catch(() => undefined);
      await admin.disconnect();
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
    const config = configFor(moving);
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

import { randomUUID } from 'node:crypto';
import { Partitioners, type Message, type Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { parseDuration } from '../../config/duration.js';
import { sleep } from '../../engine/pacing.js';
import type { ResultRow } from '../../engine/rows.js';
import type { StateDoc } from '../../engine/store.js';
import { RunnelError } from '../../errors.js';
import type { RowWriter } from '../sinks/row-sink.js';
import { brokerList, kafkaClient, withTimeout, type ConnectionLog } from './client.js';
import { committedOffsets, type CommitEntry } from './partitions.js';
import type { KafkaSinkConfig } from './sink.js';

/** Pauses between attempts of a transaction that failed (the broker away), growing to the last. */
const RETRY_MS = [500, 1000, 2000, 5000];

/** Errors no second attempt mends: another producer took this transactional id. */
const FATAL = new Set(['ProducerFencedError', 'INVALID_PRODUCER_EPOCH', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);

export interface RowWriterContext {
  pipeline: string;
  label: string;
  logger: Logger;
  signal: AbortSignal;
}

/**
 * Rows to a Kafka topic, each batch's in one transaction together with the source offsets the
 * batch consumed: a `read_committed` reader sees all of a batch's rows or none, and the offsets
 * move only with them. A row's key is `[window start, ...group key]` as JSON, so a compacted topic
 * keeps each row's latest value; header `runnel-version` carries its document's version (several
 * runners may write rows of one window: of two, the higher version is the later).
 */
export class KafkaRowWriter implements RowWriter {
  private constructor(
    private readonly producer: Producer,
    private readonly config: KafkaSinkConfig,
    private readonly groups: ReadonlyMap<string, string>,
    private readonly context: RowWriterContext,
  ) {}

  /** Connects, creates the topic if missing and initialises the transactional producer, within connectTimeout. */
  static async start(config: KafkaSinkConfig, groups: ReadonlyMap<string, string>, context: RowWriterContext): Promise<KafkaRowWriter> {
    const connectionLog: ConnectionLog = {};
    const startupMs = parseDuration(config.connectTimeout);
    const kafka = kafkaClient(config, context.logger, { connectionTimeout: Math.max(100, Math.min(5000, startupMs)) }, connectionLog);
    const where = `Kafka sink \`${context.label}\` (topic ${config.topic} at ${brokerList(config.brokers).join(',')})`;
    const producer = kafka.producer({
      transactionalId: config.transactionalId ?? `runnel-${context.pipeline}-${context.label}-${randomUUID()}`,
      transactionTimeout: parseDuration(config.transactionTimeout),
      maxInFlightRequests: 1,
      idempotent: true,
      allowAutoTopicCreation: false,
      // murmur2 of the key, as Java clients partition: a key's rows stay in one partition for any producer
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const admin = kafka.admin();
    try {
      await withTimeout(
        (async () => {
          await admin.connect();
          if (!(await admin.listTopics()).includes(config.topic)) {
            await admin.createTopics({
              topics: [
                { topic: config.topic, numPartitions: config.partitions, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
              ],
              waitForLeaders: true,
            });
            context.logger.info({ topic: config.topic }, 'created the compacted row topic');
          }
          await producer.connect();
        })(),
        startupMs,
        where,
        connectionLog,
      );
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    return new KafkaRowWriter(producer, config, groups, context);
  }

  /**
   * One transaction: the rows, then the offsets, then the commit. Tried again until it commits or
   * the run stops: rows carry whole values, so a row sent twice changes nothing.
   */
  async write(
    rows: ResultRow[],
    docs: readonly StateDoc[],
    offsets: ReadonlyMap<string, number>,
    progress: ReadonlyMap<string, number>,
  ): Promise<void> {
    const messages: Message[] = rows.map((row, i) => ({
      key: JSON.stringify([new Date(docs[i].windowStart).toISOString(), ...docs[i].key]),
      value: JSON.stringify(row),
      headers: { 'runnel-version': String(docs[i].version) },
    }));
    const byGroup = this.offsetsByGroup(offsets, progress);
    for (let attempt = 0; ; attempt++) {
      const transaction = await this.producer.transaction();
      try {
        await transaction.send({ topic: this.config.topic, messages });
        for (const [consumerGroupId, topics] of byGroup) await transaction.sendOffsets({ consumerGroupId, topics });
        await transaction.commit();
        return;
      } catch (error) {
        await transaction.abort().catch(() => undefined);
        const name = (error as { type?: string }).type ?? (error as Error).name;
        if (FATAL.has(name) || this.context.signal.aborted) {
          throw new RunnelError(
            `Kafka sink \`${this.context.label}\`: the transaction of ${messages.length} rows failed: ${(error as Error).message}`,
          );
        }
        const pause = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
        this.context.logger.warn(
          { err: (error as Error).message, rows: messages.length, attempt: attempt + 1 },
          `row transaction failed; trying again in ${pause} ms`,
        );
        await sleep(pause, this.context.signal);
      }
    }
  }

  /** The batch's offsets of the pipeline's Kafka topics, as Kafka commits them, by consumer group (other partitions left out). */
  private offsetsByGroup(offsets: ReadonlyMap<string, number>, progress: ReadonlyMap<string, number>) {
    const byGroup = new Map<string, { topic: string; partitions: Omit<CommitEntry, 'topic'>[] }[]>();
    for (const { topic, ...entry } of committedOffsets(offsets, progress)) {
      const group = this.groups.get(topic);
      if (group === undefined || !Number.isInteger(entry.partition)) continue;
      const topics = byGroup.get(group) ?? [];
      byGroup.set(group, topics);
      let forTopic = topics.find((t) => t.topic === topic);
      if (!forTopic) topics.push((forTopic = { topic, partitions: [] }));
      forTopic.partitions.push(entry);
    }
    return byGroup;
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Chunk } from '../../engine/records.js';
import type { SourceRuntime } from '../../engine/runtime.js';
import { sleep } from '../../engine/pacing.js';
import { RunnelError } from '../../errors.js';
import type { KafkaSourceConfig } from './kafka.js';

/** `topic/partition`: the partition id records carry and stored documents key their offsets by. */
export function partitionId(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

function parsePartitionId(id: string): { topic: string; partition: number } {
  const slash = id.lastIndexOf('/');
  return { topic: id.slice(0, slash), partition: Number(id.slice(slash + 1)) };
}

const STARTUP_TIMEOUT_MS = 30_000;
const BACKPRESSURE_POLL_MS = 500;

/**
 * Adapts kafkajs's push-based consumer to the engine's pull: eachBatch queues messages and
 * returns, unless the queue is full, in which case it waits (sending heartbeats) so fetching pauses
 * instead of buffering without bound. Offsets are committed only when the engine says the batch
 * is stored; kafkajs never auto-commits.
 */
export class KafkaRuntime implements SourceRuntime {
  private readonly queue: Chunk[] = [];
  private queued = 0;
  /** Highest offset handed to the engine per partition; a refetch after a rejoin is dropped up to it. */
  private readonly delivered = new Map<string, number>();
  /** Last offset committed per partition by this runner. */
  private readonly committed = new Map<string, number>();
  /** The partition's high watermark (offset of the next record) as of its last fetch: for lag. */
  private readonly highWatermarks = new Map<string, number>();
  private wake: (() => void) | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly kafka: Kafka,
    private readonly group: string,
    private readonly consumer: Consumer,
    private readonly topics: string[],
    private readonly maxQueued: number,
    private readonly logger: Logger,
    private readonly signal: AbortSignal,
  ) {}

  static async start(kafka: Kafka, config: KafkaSourceConfig, maxQueued: number, logger: Logger, signal: AbortSignal): Promise<KafkaRuntime> {
    const topics = ([] as string[]).concat(config.topics);
    const consumer = kafka.consumer({
      groupId: config.group,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: config.maxBytesPerPartition ?? 1048576,
      // a runner that dies hands its partitions on after 10 s (the broker's minimum is 6 s)
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      retry: { retries: 8 },
    });
    const runtime = new KafkaRuntime(kafka, config.group, consumer, topics, maxQueued, logger, signal);
    await withTimeout(
      (async () => {
        const admin = kafka.admin();
        await admin.connect();
        try {
          await checkTopics(admin, topics);
          if (config.start && !['earliest', 'latest'].includes(config.start)) await seekGroupToTime(admin, config.group, topics, Date.parse(config.start), logger);
        } finally {
          await admin.disconnect();
        }
        await consumer.connect();
        await consumer.subscribe({ topics, fromBeginning: config.start !== 'latest' });
      })(),
      STARTUP_TIMEOUT_MS,
      `Kafka at ${([] as string[]).concat(config.brokers).join(',')}`,
    );
    consumer.on(consumer.events.CRASH, (event) => {
      const error = event.payload.error;
      if (!event.payload.restart) runtime.fail(new RunnelError(`Kafka consumer stopped: ${error.message}`));
      else logger.warn({ err: error.message }, 'Kafka consumer restarting after an error');
    });
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      logger.info({ assignment: event.payload.memberAssignment }, 'joined the consumer group');
    });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (payload) => runtime.take(payload) });
    return runtime;
  }

  private async take({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const partition = partitionId(batch.topic, batch.partition);
    const seen = this.delivered.get(partition) ?? -1;
    this.highWatermarks.set(partition, Number(batch.highWatermark));
    const chunk: Chunk = { partition, offsets: [], payloads: [] };
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      if (offset <= seen) continue; // fetched again after a rejoin: already with the engine
      chunk.offsets.push(offset);
      chunk.payloads.push(message.value === null ? null : message.value.toString('utf8'));
    }
    if (chunk.offsets.length > 0) {
      this.delivered.set(partition, chunk.offsets[chunk.offsets.length - 1]);
      this.queue.push(chunk);
      this.queued += chunk.offsets.length;
      this.wake?.();
    }
    // Marks the batch fetched (kafkajs fetches from resolved offsets); committing is separate.
    if (batch.messages.length > 0) resolveOffset(batch.lastOffset());
    while (this.queued >= this.maxQueued && isRunning() && !isStale() && !this.signal.aborted) {
      await heartbeat();
      await sleep(BACKPRESSURE_POLL_MS, this.signal);
    }
  }

  private fail(error: Error): void {
    this.failure = error;
    this.wake?.();
  }

  async next(maxRecords: number, waitMs: number): Promise<Chunk[] | null> {
    if (this.queue.length === 0 && !this.failure && !this.signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        this.wake = done;
        this.signal.addEventListener('abort', done, { once: true });
      });
      this.wake = undefined;
    }
    if (this.failure) throw this.failure;
    const chunks: Chunk[] = [];
    let taken = 0;
    while (this.queue.length > 0 && taken < maxRecords) {
      const chunk = this.queue.shift()!;
      taken += chunk.offsets.length;
      chunks.push(chunk);
    }
    this.queued -= taken;
    return chunks;
  }

  async commit(offsets: ReadonlyMap<string, number>): Promise<void> {
    const entries = [...offsets].map(([id, offset]) => ({ ...parsePartitionId(id), offset: String(offset + 1) }));
    try {
      await this.consumer.commitOffsets(entries);
      for (const [id, offset] of offsets) this.committed.set(id, offset);
    } catch (err) {
      // After a rebalance the partition belongs to another runner, which replays from the last
      // commit; the stored offsets in each document keep that replay from counting twice.
      this.logger.warn({ err: (err as Error).message, offsets: Object.fromEntries(offsets) }, 'offset commit refused (rebalance?); the new owner replays these records');
    }
  }

  /** Records per partition not yet committed: high watermark minus the next offset to commit. */
  lag(): Map<string, number> {
    const lag = new Map<string, number>();
    for (const [partition, high] of this.highWatermarks) lag.set(partition, Math.max(0, high - ((this.committed.get(partition) ?? this.delivered.get(partition) ?? -1) + 1)));
    return lag;
  }

  async rewind(): Promise<void> {
    this.queue.length = 0;
    this.queued = 0;
    const groupCommitted = await this.fetchGroupOffsets();
    for (const id of this.delivered.keys()) {
      const offset = this.committed.get(id) ?? groupCommitted.get(id) ?? -1;
      this.delivered.set(id, offset);
      const { topic, partition } = parsePartitionId(id);
      try {
        this.consumer.seek({ topic, partition, offset: String(offset + 1) });
      } catch (err) {
        this.logger.debug({ partition: id, err: (err as Error).message }, 'not assigned any more; its owner replays it');
      }
    }
  }

  private async fetchGroupOffsets(): Promise<Map<string, number>> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = new Map<string, number>();
      for (const { topic, partitions } of await admin.fetchOffsets({ groupId: this.group, topics: this.topics })) {
        // the group stores the next offset to read, -1 when it has none
        for (const p of partitions) offsets.set(partitionId(topic, p.partition), Math.max(-1, Number(p.offset) - 1));
      }
      return offsets;
    } finally {
      await admin.disconnect();
    }
  }

  async close(): Promise<void> {
    await this.consumer.disconnect();
  }
}

async function checkTopics(admin: Admin, topics: string[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t));
  if (missing.length > 0) {
    throw new RunnelError(`Kafka topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')} do${missing.length > 1 ? '' : 'es'} not exist; create ${missing.length > 1 ? 'them' : 'it'} first (for example with \`runner produce\`)`);
  }
}

/** `start: <timestamp>`: a group with no committed offsets starts at the first record at or after it. */
async function seekGroupToTime(admin: Admin, group: string, topics: string[], time: number, logger: Logger): Promise<void> {
  const committed = await admin.fetchOffsets({ groupId: group, topics });
  for (const { topic, partitions } of committed) {
    if (partitions.some((p) => Number(p.offset) >= 0)) continue;
    const positions = await admin.fetchTopicOffsetsByTimestamp(topic, time);
    await admin.setOffsets({ groupId: group, topic, partitions: positions });
    logger.info({ topic, time: new Date(time).toISOString(), positions }, 'group starts at the requested time');
  }
}

/** Startup within a bounded time, with a message that says what failed rather than a kafkajs stack. */
async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RunnelError(`${what} did not answer within ${ms / 1000} s`)), ms);
      }),
    ]);
  } catch (err) {
    if (err instanceof RunnelError) throw err;
    throw new RunnelError(`${what}: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

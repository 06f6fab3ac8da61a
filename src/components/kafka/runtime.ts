import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from 'pino';
import type { Chunk } from '../../engine/records.js';
import { PartitionQueues } from '../../engine/partition-queues.js';
import type { SourceRuntime } from '../../engine/runtime.js';
import { sleep } from '../../engine/pacing.js';
import { RunnelError } from '../../errors.js';
import type { KafkaSourceConfig } from './source.js';
import { withTimeout, type ConnectionLog } from './client.js';
import { committedOffsets, parsePartitionId, partitionId, progressOf, topicList } from './partitions.js';

/**
 * How long kafkajs waits before it fetches again when every partition is paused (see take), and
 * how long the broker holds a fetch open for records to arrive: kafkajs's 5 s would leave the
 * engine without records for seconds after a partition is resumed.
 */
const MAX_FETCH_WAIT_MS = 100;
/** Longest a take waits for a partition further behind in event time than all those queued (see awaited). */
const HOLD_BACK_MS = 200;
/** Consumer restarts after final errors, 2 s more apart each time: about a minute in all. */
const MAX_RESTARTS = 7;
const RESTART_PAUSE_MS = 2000;
const COMMIT_TIMEOUT_MS = 15_000;
/** Pause between attempts to commit offsets the group refused. */
const COMMIT_RETRY_MS = 1000;
/**
 * How long the consumer may fetch nothing before the runtime asks whether its topics still exist:
 * kafkajs retries the fetches of a deleted topic's partitions for ever, quietly but for an error log.
 */
const TOPIC_CHECK_MS = 15_000;
/** How long leaving the group may take at the end (kafkajs can wait for ever on a deleted topic). */
const CLOSE_TIMEOUT_MS = 5000;
/**
 * Idle checks in a row that must find records waiting in owned partitions before the consumer is
 * started again: after a broker restart, kafkajs can stay joined and quiet without fetching
 * (tulios/kafkajs#659), and the run would wait for ever without a word.
 */
const STALLED_CHECKS = 2;

/** A partition's commit: the last stored offset (inclusive) and the event-time progress up to it. */
interface Checkpoint {
  offset: number;
  progress: number;
}

/**
 * Adapts kafkajs's push-based consumer to the engine's pull: eachBatch queues messages, one queue
 * per partition, and the engine takes from all partitions evenly (PartitionQueues). A partition
 * that holds its share of maxQueued is paused, so kafkajs fetches the others (a fetch fills its
 * partitions in a fixed order, up to 10 MiB: unpaused, the first partitions would be read to their
 * end before the last were read at all), and is resumed once the engine has taken it below its
 * share. So at most maxQueued records plus one fetch per partition wait for the engine. Offsets
 * are committed only when the engine says the batch is stored; kafkajs never auto-commits.
 */
export class KafkaRuntime implements SourceRuntime {
  private readonly queue = new PartitionQueues();
  /** Partitions paused because they hold their share of the queue. */
  private readonly paused = new Set<string>();
  /** Partitions whose awaited records did not come (see awaited). */
  private readonly notAwaited = new Set<string>();
  /** Highest offset handed to the engine per partition; a refetch after a rejoin is dropped up to it. */
  private readonly delivered = new Map<string, number>();
  /** Last commit per partition by this runner. */
  private readonly committed = new Map<string, Checkpoint>();
  /** What the sink stored whose commit has not gone through yet (the broker away, a rebalance). */
  private readonly uncommitted = new Map<string, Checkpoint>();
  /**
   * Partitions read again from a commit (new here, or rewound) whose next chunk has not been handed
   * over yet, with that commit's progress when it is known (a rewind), undefined when the group's
   * commit must be read for it (a new assignment).
   */
  private readonly resuming = new Map<string, number | undefined>();
  /** The group's commits as read once after the last join, for the partitions new here. */
  private groupCommits: Promise<Map<string, Checkpoint>> | undefined;
  /** The partitions of the last group join; undefined before the first. */
  private owned: Set<string> | undefined;
  private committing: Promise<void> = Promise.resolve();
  private commitRetry: NodeJS.Timeout | undefined;
  /** The partition's high watermark (offset of the next record) as of its last fetch: for lag. */
  private readonly highWatermarks = new Map<string, number>();
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  /** Restarts of the consumer since it last joined the group. */
  private restarts = 0;
  /** When kafkajs last handed over a batch or went back to fetching; an idle consumer checks its topics (see TOPIC_CHECK_MS). */
  private lastFetch = Date.now();
  private topicCheck: NodeJS.Timeout | undefined;
  /** Idle checks in a row that found records waiting (see STALLED_CHECKS). */
  private stalledChecks = 0;

  private constructor(
    private readonly kafka: Kafka,
    private readonly group: string,
    private readonly consumer: Consumer,
    private readonly topics: string[],
    private readonly maxQueued: number,
    private readonly logger: Logger,
    private readonly signal: AbortSignal,
    /** How long the consumer may fetch nothing before the topics and partitions are checked (TOPIC_CHECK_MS). */
    private readonly idleCheckMs: number,
  ) {}

  static async start(
    kafka: Kafka,
    config: KafkaSourceConfig,
    maxQueued: number,
    logger: Logger,
    signal: AbortSignal,
    startupTimeoutMs: number,
    connectionLog: ConnectionLog = {},
    idleCheckMs = TOPIC_CHECK_MS,
  ): Promise<KafkaRuntime> {
    const topics = topicList(config.topics);
    const consumer = kafka.consumer({
      groupId: config.group,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: config.maxBytesPerPartition,
      // a runner that dies hands its partitions on after 10 s (the broker's minimum is 6 s)
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: MAX_FETCH_WAIT_MS,
      retry: { retries: 8 },
    });
    const runtime = new KafkaRuntime(kafka, config.group, consumer, topics, maxQueued, logger, signal, idleCheckMs);
    await withTimeout(
      (async () => {
        const admin = kafka.admin();
        await admin.connect();
        try {
          await checkTopics(admin, topics);
          if (config.start && !['earliest', 'latest'].includes(config.start))
            await seekGroupToTime(admin, config.group, topics, Date.parse(config.start), logger);
        } finally {
          await admin.disconnect();
        }
        await consumer.connect();
        await consumer.subscribe({ topics, fromBeginning: config.start !== 'latest' });
      })(),
      startupTimeoutMs,
      `Kafka at ${([] as string[]).concat(config.brokers).join(',')}`,
      connectionLog,
    );
    consumer.on(consumer.events.CRASH, (event) => {
      const error = event.payload.error;
      if (!event.payload.restart) void runtime.restart(error);
      else logger.warn({ err: error.message }, 'Kafka consumer restarting after an error');
    });
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      runtime.restarts = 0;
      logger.info({ assignment: event.payload.memberAssignment }, 'joined the consumer group');
      runtime.joined(event.payload.memberAssignment);
    });
    await runtime.run();
    runtime.topicCheck = setInterval(() => void runtime.checkTopicsWhenIdle(), idleCheckMs);
    runtime.topicCheck.unref();
    return runtime;
  }

  /**
   * A topic deleted while the run reads it ends the run with a message: its partitions never come
   * back as they were (a topic created again under the name starts its offsets at 0, and records
   * at offsets the stored documents hold would be taken for ones already counted).
   */
  private async checkTopicsWhenIdle(): Promise<void> {
    if (this.failure || this.signal.aborted || Date.now() - this.lastFetch < this.idleCheckMs) {
      this.stalledChecks = 0;
      return;
    }
    const admin = this.kafka.admin();
    let missing: string[];
    let waiting: number;
    try {
      await admin.connect();
      missing = await missingTopics(admin, this.topics);
      waiting = missing.length === 0 ? await this.waitingUnfetched(admin) : 0;
    } catch {
      return; // the broker away: the consumer's own retries deal with that
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    if (missing.length === 0) {
      this.stalledChecks = waiting > 0 ? this.stalledChecks + 1 : 0;
      // what a run that waits without a word shows (a broker restart kafkajs did not recover from)
      this.logger.info(
        { idleMs: Date.now() - this.lastFetch, waiting, queued: this.queue.size, owned: this.owned?.size ?? 0, check: this.stalledChecks },
        'Kafka consumer idle: checked its partitions for records it has not fetched',
      );
      if (this.stalledChecks >= STALLED_CHECKS) await this.restartStalled(waiting);
      return;
    }
    this.fail(
      new RunnelError(
        `${topicsMissing(missing)} any more: deleted while this run read ${missing.length > 1 ? 'them' : 'it'}. A topic created again under the name starts its offsets at 0, ` +
          'and records at offsets the stored documents hold would be taken for ones already counted: read it into a new collection with a new consumer group',
      ),
    );
  }

  /**
   * Records in the partitions this runner owns that it has not fetched, while nothing waits for
   * the engine: a consumer that fetches them would have handed them over by now.
   */
  private async waitingUnfetched(admin: Admin): Promise<number> {
    if (!this.owned || this.owned.size === 0 || this.queue.size > 0) return 0;
    const group = new Map<string, number>();
    for (const { topic, partitions } of await admin.fetchOffsets({ groupId: this.group, topics: this.topics }))
      for (const p of partitions) group.set(partitionId(topic, p.partition), Number(p.offset) - 1);
    let waiting = 0;
    for (const topic of this.topics) {
      for (const end of await admin.fetchTopicOffsets(topic)) {
        const id = partitionId(topic, end.partition);
        if (!this.owned.has(id)) continue;
        const seen = Math.max(this.delivered.get(id) ?? -1, group.get(id) ?? -1);
        waiting += Math.max(0, Number(end.high) - 1 - seen);
      }
    }
    return waiting;
  }

  /** Stops the consumer and runs it again (it rejoins the group and fetches from the committed offsets). */
  private async restartStalled(waiting: number): Promise<void> {
    this.stalledChecks = 0;
    this.logger.warn(
      { waiting, idleMs: Date.now() - this.lastFetch },
      'Kafka consumer fetched nothing while its partitions hold records; starting it again',
    );
    try {
      await withTimeout(this.consumer.stop(), CLOSE_TIMEOUT_MS * 2, 'Kafka consumer stop');
      this.lastFetch = Date.now();
      await this.run();
    } catch (error) {
      this.fail(new RunnelError(`Kafka consumer stopped fetching and could not be started again: ${(error as Error).message}`));
    }
  }

  private run(): Promise<void> {
    return this.consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (payload) => this.take(payload) });
  }

  /**
   * kafkajs gives up on errors it deems final, among them a broker that stays away through its
   * retries ("Failed to find group coordinator" while it restarts): start the consumer again,
   * with growing pauses, and fail the run only when that keeps failing for about a minute.
   */
  private async restart(error: Error): Promise<void> {
    if (this.signal.aborted) return;
    if (++this.restarts > MAX_RESTARTS) {
      this.fail(new RunnelError(`Kafka consumer stopped: ${error.message}`));
      return;
    }
    this.logger.warn({ err: error.message, attempt: this.restarts }, 'Kafka consumer stopped; starting it again');
    await sleep(RESTART_PAUSE_MS * this.restarts, this.signal);
    // a stop may come during the sleep; TypeScript keeps the narrowing across await
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changes during the await
    if (this.signal.aborted) return;
    // a restart that crashes again comes back here through the CRASH event
    await this.run().catch((err: Error) => this.restart(err));
  }

  private async take(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    // fetched before a rewind's seek: the fetch from the seek position follows
    if (payload.isStale()) return;
    this.lastFetch = Date.now();
    const partition = partitionId(batch.topic, batch.partition);
    const seen = this.delivered.get(partition) ?? -1;
    this.highWatermarks.set(partition, Number(batch.highWatermark));
    const chunk = toChunk(partition, batch.messages, seen);
    if (chunk.offsets.length > 0 && this.resuming.has(partition)) {
      // a failure to read the group's commit fails the batch: kafkajs fetches it again
      chunk.progress = await this.resumedProgress(partition, chunk.offsets[0]);
      if (payload.isStale()) return;
      this.resuming.delete(partition);
    }
    if (chunk.offsets.length > 0) {
      this.delivered.set(partition, chunk.offsets[chunk.offsets.length - 1]);
      this.queue.push(chunk);
      this.notAwaited.delete(partition);
      this.wake?.();
    }
    // Marks the batch fetched (kafkajs fetches from resolved offsets); committing is separate.
    if (batch.messages.length > 0) payload.resolveOffset(batch.lastOffset());
    // paused before kafkajs builds its next fetch: that fetch goes to the other partitions
    if (this.queue.sizeOf(partition) >= this.share() && !this.paused.has(partition)) {
      this.paused.add(partition);
      this.consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
    }
    this.lastFetch = Date.now(); // kafkajs fetches again from here: idle time starts now
  }

  /** A partition's share of the queue: it is paused once it holds that many records. */
  private share(): number {
    return Math.ceil(this.maxQueued / Math.max(1, this.owned?.size ?? 1));
  }

  /** Resumes the paused partitions the engine has taken below their share, and those that moved away. */
  private resumeBelowShare(): void {
    const share = this.share();
    for (const id of [...this.paused]) {
      if (this.owned?.has(id) && this.queue.sizeOf(id) >= share) continue;
      this.paused.delete(id);
      const { topic, partition } = parsePartitionId(id);
      this.consumer.resume([{ topic, partitions: [partition] }]);
    }
  }

  private fail(error: Error): void {
    this.failure = error;
    this.wake?.();
  }

  async next(maxRecords: number, waitMs: number, eventTimes?: ReadonlyMap<string, number>): Promise<Chunk[] | null> {
    if (this.queue.size === 0) await this.arrival(waitMs);
    this.throwFailure();
    let chunks = this.queue.take(maxRecords, eventTimes, this.awaited());
    if (chunks.length === 0 && this.queue.size > 0) {
      // every partition queued is ahead of one further behind whose records are on their way
      await this.arrival(Math.min(waitMs, HOLD_BACK_MS));
      this.throwFailure();
      chunks = this.queue.take(maxRecords, eventTimes, this.awaited());
      if (chunks.length === 0) {
        // they did not come (a transaction's markers can end a partition past its last record)
        for (const id of this.awaited()) this.notAwaited.add(id);
        chunks = this.queue.take(maxRecords, eventTimes);
      }
    }
    this.resumeBelowShare();
    return chunks;
  }

  /** What failed the consumer, thrown to the engine. */
  private throwFailure(): void {
    if (this.failure) throw this.failure;
  }

  /** Until records are queued, the run stops, or ms have passed. */
  private async arrival(ms: number): Promise<void> {
    if (this.failure || this.signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      this.signal.addEventListener('abort', done, { once: true });
    });
    this.wake = undefined;
  }

  /**
   * Owned partitions with nothing queued that have not been fetched yet, or whose last fetch saw
   * records beyond what it handed over: more may be on their way, so the partitions ahead of them
   * wait (PartitionQueues.take), for at most HOLD_BACK_MS; one whose records did not come is not
   * waited for again until it hands some over.
   */
  private awaited(): string[] {
    const awaited: string[] = [];
    for (const id of this.owned ?? []) {
      if (this.queue.sizeOf(id) > 0 || this.notAwaited.has(id)) continue;
      if (!this.highWatermarks.has(id) || this.unfetched(id) > 0) awaited.push(id);
    }
    return awaited;
  }

  /**
   * Where the engine's verdicts on a partition read again from a commit resume: the progress that
   * commit recorded. The first record read must be the one after it; a chunk from elsewhere (no
   * commit: the start of the partition) resumes with no progress.
   */
  private async resumedProgress(partition: string, first: number): Promise<number> {
    const known = this.resuming.get(partition);
    if (known !== undefined) return known;
    this.groupCommits ??= this.fetchGroupOffsets();
    let commits: Map<string, Checkpoint>;
    try {
      commits = await this.groupCommits;
    } catch (error) {
      this.groupCommits = undefined; // read again with the batch kafkajs fetches again
      throw error;
    }
    const commit = commits.get(partition);
    if (!commit || commit.offset < 0) return -Infinity;
    if (first <= commit.offset) {
      this.logger.warn(
        { partition, first, committed: commit.offset },
        'read again from before the group commit: lateness resumes with no progress',
      );
      return -Infinity;
    }
    return commit.progress;
  }

  async commit(offsets: ReadonlyMap<string, number>, progress: ReadonlyMap<string, number>): Promise<void> {
    for (const [id, offset] of offsets)
      if (offset > (this.uncommitted.get(id)?.offset ?? -1)) this.uncommitted.set(id, { offset, progress: progress.get(id) ?? -Infinity });
    await this.commitStored();
  }

  /**
   * Commits what the sink has stored, for the partitions this runner owns. A refused commit (the
   * broker away, a rebalance under way) is tried again every second until the group takes it:
   * the partition's last records may never come again to carry a later commit. Offsets of a
   * partition that moved to another runner are not committed: its new owner replays from the
   * group's commit, and the stored offsets in each document keep that replay from counting twice
   * (committing them would move the new owner's progress back).
   */
  private commitStored(): Promise<void> {
    this.committing = this.committing.then(async () => {
      clearTimeout(this.commitRetry);
      this.commitRetry = undefined;
      const checkpoints = [...this.uncommitted].filter(([id]) => !this.owned || this.owned.has(id));
      if (checkpoints.length === 0) return;
      const offsets = checkpoints.map(([id, { offset }]) => [id, offset] as const);
      const entries = committedOffsets(offsets, new Map(checkpoints.map(([id, { progress }]) => [id, progress])));
      try {
        // kafkajs can wait without end for a coordinator while the broker restarts
        await withTimeout(this.consumer.commitOffsets(entries), COMMIT_TIMEOUT_MS, 'Kafka offset commit');
        for (const [id, checkpoint] of checkpoints) {
          this.committed.set(id, checkpoint);
          if (this.uncommitted.get(id) === checkpoint) this.uncommitted.delete(id);
        }
      } catch (err) {
        this.logger.warn(
          { err: (err as Error).message, offsets: Object.fromEntries(offsets) },
          'offset commit refused (rebalance or broker away); trying again',
        );
        if (!this.signal.aborted) this.commitRetry = setTimeout(() => void this.commitStored(), COMMIT_RETRY_MS);
      }
    });
    return this.committing;
  }

  /**
   * A (re)join: offsets stored for partitions that moved away are dropped; a partition that is
   * new here is read from the group's commit again, even records this runner had before (they
   * may be stored with nothing committed for them), and the engine skips those it holds; its
   * first chunk carries the progress of the group's commit (resumedProgress).
   */
  private joined(assignment: Record<string, number[]>): void {
    const owned = new Set(Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((p) => partitionId(topic, p))));
    for (const id of [...this.uncommitted.keys()]) if (!owned.has(id)) this.uncommitted.delete(id);
    for (const id of [...this.highWatermarks.keys()]) if (!owned.has(id)) this.highWatermarks.delete(id); // its lag is its owner's
    for (const id of [...this.resuming.keys()]) if (!owned.has(id)) this.resuming.delete(id);
    for (const id of owned) {
      if (this.owned?.has(id)) continue;
      this.delivered.delete(id);
      this.resuming.set(id, undefined);
    }
    this.groupCommits = undefined;
    this.owned = owned;
    this.dropQueuedOf(owned);
    if (this.uncommitted.size > 0) void this.commitStored();
  }

  /**
   * Chunks fetched for partitions that moved away are their new owner's to read: a runner that
   * was stopped (a stale one) would otherwise merge thousands of records another runner has
   * stored since, and commit none of them.
   */
  private dropQueuedOf(owned: ReadonlySet<string>): void {
    const dropped = this.queue.dropUnless((partition) => owned.has(partition));
    this.resumeBelowShare();
    if (dropped > 0) this.logger.info({ records: dropped }, 'dropped the records fetched for partitions that moved to another runner');
  }

  remaining(): number {
    let waiting = this.queue.size;
    for (const partition of this.highWatermarks.keys()) waiting += this.unfetched(partition);
    return waiting;
  }

  /** Records of a partition beyond what was handed over, as its last fetch saw them (0 before one). */
  private unfetched(partition: string): number {
    const high = this.highWatermarks.get(partition);
    return high === undefined ? 0 : Math.max(0, high - 1 - (this.delivered.get(partition) ?? -1));
  }

  /** Records per partition not yet committed: high watermark minus the next offset to commit. */
  lag(): Map<string, number> {
    const lag = new Map<string, number>();
    for (const [partition, high] of this.highWatermarks)
      lag.set(partition, Math.max(0, high - ((this.committed.get(partition)?.offset ?? this.delivered.get(partition) ?? -1) + 1)));
    return lag;
  }

  async rewind(): Promise<void> {
    const groupCommitted = await this.fetchGroupOffsets();
    // only now: chunks queued while the offsets were fetched must go too, or they would come
    // before the re-read records, out of offset order
    this.queue.clear();
    this.resumeBelowShare();
    for (const id of this.delivered.keys()) {
      const { offset, progress } = this.committed.get(id) ?? groupCommitted.get(id) ?? { offset: -1, progress: -Infinity };
      this.delivered.set(id, offset);
      this.resuming.set(id, progress);
      const { topic, partition } = parsePartitionId(id);
      try {
        this.consumer.seek({ topic, partition, offset: String(offset + 1) });
      } catch (err) {
        this.logger.debug({ partition: id, err: (err as Error).message }, 'not assigned any more; its owner replays it');
      }
    }
  }

  /** The group's commits: per partition the last stored offset (-1: none) and the progress recorded with it. */
  private async fetchGroupOffsets(): Promise<Map<string, Checkpoint>> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const commits = new Map<string, Checkpoint>();
      for (const { topic, partitions } of await admin.fetchOffsets({ groupId: this.group, topics: this.topics })) {
        // the group stores the next offset to read, -1 when it has none
        for (const p of partitions)
          commits.set(partitionId(topic, p.partition), { offset: Math.max(-1, Number(p.offset) - 1), progress: progressOf(p.metadata) });
      }
      return commits;
    } finally {
      await admin.disconnect();
    }
  }

  async close(): Promise<void> {
    clearTimeout(this.commitRetry);
    clearInterval(this.topicCheck);
    await this.committing;
    try {
      await withTimeout(this.consumer.disconnect(), CLOSE_TIMEOUT_MS, 'Kafka leaving the consumer group');
    } catch (err) {
      // the group hands the partitions on after its session timeout anyway
      this.logger.warn({ err: (err as Error).message }, 'could not leave the consumer group cleanly');
    }
  }
}

async function missingTopics(admin: Admin, topics: string[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  return topics.filter((t) => !existing.has(t));
}

/** `Kafka topic t does not exist` / `Kafka topics a, b do not exist`. */
function topicsMissing(missing: string[]): string {
  return `Kafka topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')} do${missing.length > 1 ? '' : 'es'} not exist`;
}

async function checkTopics(admin: Admin, topics: string[]): Promise<void> {
  const missing = await missingTopics(admin, topics);
  if (missing.length > 0)
    throw new RunnelError(
      `${topicsMissing(missing)}; create ${missing.length > 1 ? 'them' : 'it'} first (for example with \`runner produce\`)`,
    );
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

/**
 * The messages after offset `seen` as one chunk. Values stay bytes, copied into one buffer (the
 * engine decodes them without making strings); a chunk with a tombstone (null value) keeps
 * payloads instead, so the null is dead-lettered as what it is.
 */
function toChunk(partition: string, messages: readonly KafkaMessage[], seen: number): Chunk {
  const fresh = messages.filter((m) => Number(m.offset) > seen); // fetched again after a rejoin: already with the engine
  const offsets = fresh.map((m) => Number(m.offset));
  if (fresh.some((m) => m.value === null)) {
    return { partition, offsets, payloads: fresh.map((m) => (m.value === null ? null : m.value.toString('utf8'))) };
  }
  const values = fresh.map((m) => m.value!);
  const starts = new Array<number>(values.length);
  const ends = new Array<number>(values.length);
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    starts[i] = at;
    ends[i] = at += values[i].length;
  }
  // memory of its own, never the shared pool of small Buffers: the chunk may be moved to another thread
  const bytes = Buffer.allocUnsafeSlow(at);
  for (let i = 0; i < values.length; i++) values[i].copy(bytes, starts[i]);
  return { partition, offsets, payloads: [], lines: { bytes, starts, ends } };
}

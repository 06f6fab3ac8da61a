import type { Logger } from 'pino';
import { DEFAULT_IDLE_TIMEOUT, stateSink, type Plan } from './plan.js';
import { parseDuration } from '../config/duration.js';
import { BatchState } from './batch-state.js';
import { Fences } from './fences.js';
import { mergeBatch, raiseFences, StraddleError, type RecentDocs } from './merge.js';
import { rollupBatch } from './rollups.js';
import { metrics } from '../metrics.js';
import { RecordProcessor } from './processor.js';
import type { DeadLetter, DeadLetterReason } from './records.js';
import type { DeadLetterRuntime, RunStatus, SinkRuntime, SourceRuntime } from './runtime.js';
import type { StateDoc } from './store.js';
import { Watermarks } from './watermark.js';

export interface RunStats {
  records: number;
  batches: number;
  deadLetters: Partial<Record<DeadLetterReason, number>>;
  /** Event-time watermark in epoch ms; -Infinity before the first record. */
  watermark: number;
  startedAt: number;
  /** Wall-clock duration of the last batch's flush, in ms. */
  lastFlushMs: number;
  /** Wall-clock time (epoch ms) the last non-empty batch was stored; absent before the first. */
  lastBatchAt?: number;
  /** Records per source partition beyond the committed offsets (Kafka), as of the last batch. */
  lag: Record<string, number>;
  /** How the run ended, once it has. */
  ended?: 'drained' | 'stopped';
  /** The first window start and the last window end stored so far (base windows). */
  windows?: { first: number; last: number };
}

export interface RunParts {
  source: SourceRuntime;
  sink: SinkRuntime;
  deadLetters: DeadLetterRuntime;
}

/** A batch closed and handed to the store, with the event-time progress as it was at its close. */
interface ClosedBatch {
  batch: BatchState;
  watermark: number;
  /** Per-partition progress at the close: where a rewind to this batch's end starts again. */
  progress: ReadonlyMap<string, number>;
  finalFlush: boolean;
}

/** How storing a batch ended: stored, or the source was rewound and later records come again. */
type Stored = 'stored' | 'rewind';

/**
 * The micro-batch loop: fill a batch from the source until the interval or maxRecords is reached,
 * then store it (the merge into the sink's store, then the batch's dead letters), emit, and commit
 * the source offsets, in that order, so nothing is committed before it is stored.
 *
 * Storing overlaps the next batch: while batch N is written, batch N+1 fills, and it closes only
 * once N is stored (or at maxHeldRecords or maxGroups), so under load batches grow to cover the
 * store's latency instead of the store's latency capping throughput, and a document that many
 * records touch is written once per store. Batches are stored and committed strictly in order:
 * however large a batch grows, its offsets are committed only after all of it is stored, and a
 * crash replays it whole from the commit before. When storing N must rewind the source (another
 * writer holds some of its offsets), batch N+1 is dropped unstored: its records come again from
 * the last commit.
 */
export class PipelineRun {
  readonly stats: RunStats;
  private readonly watermarks: Watermarks;
  private readonly processor: RecordProcessor;
  /** Event-time progress as of the last stored batch. */
  private committedProgress: ReadonlyMap<string, number> = new Map();
  /** Up to where a crashed run may have stored each partition: read as partitions arrive, forgotten on a rewind. */
  private readonly fences = new Fences();
  /** Per store level, base first: its documents as this runner last wrote them. */
  private readonly recentDocs: RecentDocs[];
  /** False while a batch is being stored: the next one then fills past its interval. */
  private storingDone = true;

  constructor(
    private readonly plan: Plan,
    private readonly parts: RunParts,
    private readonly logger: Logger,
    private readonly signal: AbortSignal,
    private readonly onBatch: (stats: RunStats) => void = () => {},
  ) {
    this.stats = { records: 0, batches: 0, deadLetters: {}, watermark: -Infinity, startedAt: Date.now(), lastFlushMs: 0, lag: {} };
    this.watermarks = new Watermarks(plan.time?.maxOutOfOrderMs ?? 0, plan.time?.idleTimeoutMs ?? parseDuration(DEFAULT_IDLE_TIMEOUT));
    this.recentDocs = [parts.sink.store, ...(parts.sink.rollups ?? [])].map((): RecentDocs => new Map());
    const reasonsSeen = new Set<DeadLetterReason>();
    const onReject = ({ reason, detail, partition, offset }: DeadLetter): void => {
      if (reasonsSeen.has(reason)) return;
      reasonsSeen.add(reason);
      // the first of each kind is worth a line of its own; the counts follow in the progress lines
      this.logger.warn({ reason, detail, partition, offset }, `first dead letter of reason ${reason}`);
    };
    this.processor = new RecordProcessor(plan, this.watermarks, this.fences, { onReject, signal });
  }

  async run(): Promise<RunStats> {
    let drained = false;
    let storing: Promise<Stored> | undefined;
    while (!drained && !this.signal.aborted) {
      const batch = new BatchState();
      try {
        drained = await this.fill(batch);
      } catch (err) {
        // a fault while filling (a runaway expression) ends the run once the batch before it is stored
        await storing?.catch(() => undefined);
        throw err;
      }
      // A stopped run emits its open windows too: the local stores do not outlive the process.
      const closed: ClosedBatch = {
        batch,
        watermark: this.watermarks.current,
        progress: this.watermarks.snapshot(),
        finalFlush: drained || this.signal.aborted,
      };
      if (storing && (await storing) === 'rewind') {
        storing = undefined;
        await this.rewind();
        drained = false; // only a source that can rewind gets here, and it has more to give
        continue;
      }
      this.storingDone = false;
      storing = this.store(closed).finally(() => (this.storingDone = true));
      // a failed store ends the run now, not after the next batch fills
      storing.catch(() => {});
    }
    // Stopped with the last batch rewound: nothing after the last commit is kept, nothing is lost.
    await storing;
    this.stats.ended = drained ? 'drained' : 'stopped';
    await this.publishStatus();
    return this.stats;
  }

  /**
   * Takes records into the batch until, with the store before it ended, its interval or maxRecords
   * is reached; while that store runs, until maxHeldRecords or maxGroups (the batch then waits for
   * the store); or until the run is stopped. True when the source is drained. The limits are
   * checked between reads: a read adds at most what the source holds (maxRecords at most).
   *
   * Going on past maxRecords while a store runs is what keeps a replay's documents written about
   * once per store: a store's cost is per document, and a batch of records that spread over many
   * windows (a day read back from Kafka) pays for each of their documents, whatever its size.
   */
  private async fill(batch: BatchState): Promise<boolean> {
    const { batch: limits } = this.plan;
    const started = Date.now();
    const deadline = started + limits.intervalMs;
    let tailEnd: number | undefined;
    while (batch.records < limits.maxHeldRecords && batch.partials.length < limits.maxGroups && !this.signal.aborted) {
      const now = Date.now();
      const wait = deadline - now;
      if (this.storingDone && batch.records >= limits.maxRecords) return false;
      if (wait <= 0 && this.storingDone) {
        const remaining = this.parts.source.remaining?.() ?? 0;
        tailEnd ??= batchTailMs(batch.records, remaining, now - started, this.stats.lastFlushMs) + now;
        if (now >= tailEnd || remaining === 0) return false;
      }
      // while the store runs, a read at a time of up to maxRecords, so its end is seen soon
      const room = this.storingDone
        ? limits.maxRecords - batch.records
        : Math.min(limits.maxRecords, limits.maxHeldRecords - batch.records);
      const chunks = await this.parts.source.next(room, wait > 0 ? wait : STORING_POLL_MS, this.watermarks.highestTimes);
      if (chunks === null) return true;
      for (const chunk of chunks) {
        // a stop cuts the batch where it is: what was fetched beyond is read again next run
        // (a stop may come during the awaits; TypeScript keeps the narrowing across them)
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- changes during the awaits
        if (this.signal.aborted) break;
        await this.fences.load(chunk.partition, this.parts.sink.store);
        await this.processor.process(chunk, batch);
      }
    }
    return false;
  }

  /** Back to the last commit: the source re-reads from there, record by record up to the fences. */
  private async rewind(): Promise<void> {
    await this.parts.source.rewind!();
    this.fences.clear();
    // another writer holds some of these documents now: start from what the store holds
    for (const docs of this.recentDocs) docs.clear();
    this.watermarks.restore(this.committedProgress);
  }

  private async store({ batch, watermark, progress, finalFlush }: ClosedBatch): Promise<Stored> {
    const started = Date.now();
    let written: StateDoc[] = [];
    const unchanged: StateDoc[] = [];
    try {
      if (!batch.isEmpty) written = await this.mergeLevels(batch, unchanged);
    } catch (err) {
      if (!(err instanceof StraddleError) || !this.parts.source.rewind) throw err;
      // Another runner wrote some of these offsets meanwhile (a rebalance).
      this.logger.warn({ reason: err.message }, 'batch overlaps what another writer stored; re-reading from the last commit');
      return 'rewind';
    }
    // after the merge, so a batch that must be read again has written none of them yet
    await this.writeDeadLetters(batch);
    const offsets = batch.maxOffsets();
    const finalUpTo = finalFlush ? Infinity : watermark - (this.plan.time?.allowedLatenessMs ?? 0);
    const committedProgress = progressAt(offsets, progress);
    await this.parts.sink.afterBatch(written, finalUpTo, { unchanged, offsets, progress: committedProgress });
    if (this.parts.sink.forgetsFinalWindows) this.processor.forgetWindowsEndingBy(finalUpTo);
    if (!batch.isEmpty) await this.parts.source.commit(offsets, committedProgress);
    this.committedProgress = progress;
    const stats = this.stats;
    stats.records += batch.records;
    stats.batches += batch.isEmpty ? 0 : 1;
    stats.watermark = watermark;
    stats.lastFlushMs = Date.now() - started;
    const pipeline = this.plan.name;
    if (Number.isFinite(watermark)) metrics.watermark.set({ pipeline }, watermark / 1000);
    for (const [partition, lag] of this.parts.source.lag?.() ?? []) {
      stats.lag[partition] = lag;
      metrics.consumerLag.set({ pipeline, partition }, lag);
    }
    for (const doc of written) {
      stats.windows ??= { first: doc.windowStart, last: doc.windowEnd };
      if (doc.windowStart < stats.windows.first) stats.windows.first = doc.windowStart;
      if (doc.windowEnd > stats.windows.last) stats.windows.last = doc.windowEnd;
    }
    if (!batch.isEmpty) {
      stats.lastBatchAt = Date.now();
      metrics.recordsIn.inc({ pipeline }, batch.records);
      for (const sink of this.plan.sinks) metrics.sinkRecords.inc({ pipeline, sink: sink.label }, batch.records);
      metrics.batches.inc({ pipeline });
      metrics.batchSeconds.observe({ pipeline }, stats.lastFlushMs / 1000);
    }
    if (!batch.isEmpty) {
      this.logger.debug({ records: batch.records, documents: written.length, flushMs: stats.lastFlushMs }, 'batch stored');
    }
    if (!batch.isEmpty) await this.publishStatus();
    this.onBatch(stats);
    return 'stored';
  }

  /** The batch's dead letters, counted as they are written (a rewound batch's are read again). */
  private async writeDeadLetters({ deadLetters }: BatchState): Promise<void> {
    if (deadLetters.length === 0) return;
    const at = new Date().toISOString();
    await this.parts.deadLetters.write(deadLetters.map((d) => ({ ...d, at })));
    for (const { reason } of deadLetters) {
      this.stats.deadLetters[reason] = (this.stats.deadLetters[reason] ?? 0) + 1;
      metrics.deadLetters.inc({ pipeline: this.plan.name, reason });
    }
  }

  /**
   * Merges a batch into the base store and every rollup level at once. The base store's fences
   * are raised before any level is written: after a crash, the records up to them are re-read one
   * by one and every level skips those it holds.
   */
  private async mergeLevels(batch: BatchState, unchanged: StateDoc[]): Promise<StateDoc[]> {
    const { store, rollups = [] } = this.parts.sink;
    const { name: pipeline, aggregates } = this.plan;
    await this.parts.sink.verify?.();
    await raiseFences(store, batch);
    const timed = async (level: string, work: () => Promise<StateDoc[]>): Promise<StateDoc[]> => {
      const started = Date.now();
      const written = await work();
      metrics.sinkWriteSeconds.observe({ pipeline, level }, (Date.now() - started) / 1000);
      metrics.sinkDocuments.inc({ pipeline, sink: stateSink(this.plan).label, level }, written.length);
      return written;
    };
    const outcomes = await Promise.allSettled([
      timed('base', () => mergeBatch(store, batch, aggregates, this.recentDocs[0], unchanged)),
      // the levels keep no fences of their own: the base store's govern every level (see above)
      ...rollups.map((level, i) =>
        timed(level.label, () =>
          mergeBatch(level.store, rollupBatch(batch, level.sizeMs, aggregates, this.fences), aggregates, this.recentDocs[i + 1]),
        ),
      ),
    ]);
    // every level has ended before a failure (a straddle: rewind) is acted upon
    const failed = outcomes.find((o) => o.status === 'rejected');
    if (failed) throw failed.reason;
    return (outcomes[0] as PromiseFulfilledResult<StateDoc[]>).value;
  }

  /** The run's live status, for the serving layer. */
  status(): RunStatus {
    const s = this.stats;
    return {
      pipeline: this.plan.name,
      state: s.ended ?? 'running',
      records: s.records,
      batches: s.batches,
      deadLetters: { ...s.deadLetters },
      watermark: Number.isFinite(s.watermark) ? s.watermark : null,
      lastBatchAt: s.lastBatchAt ?? null,
      lastFlushMs: s.lastFlushMs,
      lag: { ...s.lag },
      startedAt: s.startedAt,
      updatedAt: Date.now(),
      windows: s.windows ? { ...s.windows } : null,
    };
  }

  private async publishStatus(): Promise<void> {
    if (!this.parts.sink.reportStatus) return;
    try {
      await this.parts.sink.reportStatus(this.status());
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'could not publish the run status');
    }
  }
}

/** The progress of the partitions a batch holds, as of its close: what goes with their commits. */
function progressAt(offsets: ReadonlyMap<string, number>, progress: ReadonlyMap<string, number>): Map<string, number> {
  return new Map([...offsets.keys()].map((partition) => [partition, progress.get(partition) ?? -Infinity]));
}

/**
 * How much longer (ms) a batch that may close, of `records` taken in `elapsedMs`, goes on taking
 * records, when the source has `remaining` more and the last store took `lastStoreMs`. Left to
 * the next batch, the remainder would wait for this batch's store and then pay a whole store of
 * its own (the end of a backlog); taken now, at this batch's pace, it costs less when that is
 * quicker than a store. So: none when reading the remainder would take longer than the last
 * store, else up to twice that reading time (at most the last store's). The batch still closes as
 * soon as the source has nothing left.
 */
export function batchTailMs(records: number, remaining: number, elapsedMs: number, lastStoreMs: number): number {
  if (remaining === 0 || records === 0) return 0;
  const reading = (remaining * elapsedMs) / records;
  return reading > lastStoreMs ? 0 : Math.min(lastStoreMs, 2 * reading);
}

/** How long a batch past its interval waits for more records while the previous one is being stored. */
const STORING_POLL_MS = 50;

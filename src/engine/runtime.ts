import type { Logger } from 'pino';
import type { Plan, SinkUse } from './plan.js';
import type { Chunk, DeadLetter } from './records.js';
import type { StateDoc, StateStore } from './store.js';
import type { RollupLevel } from './rollups.js';

/** What a running source offers the engine. */
export interface SourceRuntime {
  /**
   * Up to `maxRecords` records, waiting at most `waitMs` for the first; an empty list when none
   * came in time, null when a bounded source is drained. `eventTimes` is how far the engine has
   * read each partition (its highest event time there): a source that holds records of several
   * partitions hands out those furthest behind first (see PartitionQueues).
   */
  next(maxRecords: number, waitMs: number, eventTimes?: ReadonlyMap<string, number>): Promise<Chunk[] | null>;
  /**
   * Records up to these offsets (inclusive, per partition) are stored; called only after the sink
   * wrote them. `progress` is each partition's highest event time counted up to its offset: a
   * source that can be read again from its commits keeps it with them and hands it back on the
   * first chunk read after one (Chunk.progress).
   */
  commit(offsets: ReadonlyMap<string, number>, progress: ReadonlyMap<string, number>): Promise<void>;
  /**
   * Goes back to the last committed offsets, dropping whatever was fetched since; replayable
   * sources only. The engine calls it when a batch cannot be merged exactly once as it was cut.
   */
  rewind?(): Promise<void>;
  /** Records per partition that the source holds beyond what is committed (Kafka consumer lag). */
  lag?(): ReadonlyMap<string, number>;
  /**
   * Records not yet handed to the engine that the source holds or knows are waiting (for Kafka:
   * fetched and queued, plus up to each partition's high watermark as of its last fetch).
   */
  remaining?(): number;
  close(): Promise<void>;
}

/** What a running sink offers: the store that batches merge into, and delivery of finished rows. */
export interface SinkRuntime {
  readonly store: StateStore;
  /**
   * One store per declared rollup level (plan.window.rollups, same order), when the sink keeps
   * them; each batch is merged into every level after the base store. Local sinks keep none.
   */
  readonly rollups?: readonly RollupLevel[];
  /**
   * After each batch: the documents it wrote, and the time up to which windows are final (every
   * window ending at or before it may be emitted and forgotten; +Infinity when the source is drained).
   */
  afterBatch(written: readonly StateDoc[], finalUpTo: number, batch?: StoredBatch): Promise<void>;
  /**
   * True when its store drops the windows afterBatch made final (an in-process store): a record
   * of such a window that comes later (from a partition that was idle) cannot be counted.
   */
  readonly forgetsFinalWindows?: boolean;
  /**
   * Before each batch is merged: throws when what the sink stores no longer means what this
   * pipeline computes (another runner, of another version of the pipeline, recorded its own
   * meaning since), so the run stops before it writes. Sinks that keep nothing between runs omit it.
   */
  verify?(): Promise<void>;
  /**
   * Publishes the run's live status (last batch, watermark, lag) where a separate `runner serve`
   * can read it; best effort, called after each stored batch. Sinks without shared storage omit it.
   */
  reportStatus?(status: RunStatus): Promise<void>;
  close(): Promise<void>;
}

/** What else afterBatch may need of the batch just stored. */
export interface StoredBatch {
  /**
   * Documents the batch touched that already held all of its records for them: a batch read
   * again after a crash. Their rows may never have reached a sink that writes elsewhere.
   */
  unchanged: readonly StateDoc[];
  /** The batch's highest offset per source partition: committed once afterBatch has ended. */
  offsets: ReadonlyMap<string, number>;
  /** Each partition's event-time progress at those offsets, committed with them (SourceRuntime.commit). */
  progress: ReadonlyMap<string, number>;
}

/** The live status of a run, as the serving layer shows it. */
export interface RunStatus {
  pipeline: string;
  state: 'running' | 'drained' | 'stopped';
  records: number;
  batches: number;
  deadLetters: Record<string, number>;
  /** Epoch ms; null before the first record. */
  watermark: number | null;
  lastBatchAt: number | null;
  lastFlushMs: number;
  lag: Record<string, number>;
  startedAt: number;
  updatedAt: number;
  /** The first window start and the last window end this run stored; null before its first store. */
  windows: { first: number; last: number } | null;
  /**
   * As published to a store and read back: the first window start and last window end of every
   * run so far (each run's windows are folded in), so a server knows what is stored without reading it.
   */
  extent?: { first: number; last: number };
}

/** A dead letter as written: stamped with the time its batch was stored. */
export type WrittenDeadLetter = DeadLetter & { at: string };

export interface DeadLetterRuntime {
  /**
   * Durably stores one batch's dead letters, all or none (a failure is thrown); called before the
   * batch's offsets are committed, never with an empty list.
   */
  write(deadLetters: readonly WrittenDeadLetter[]): Promise<void>;
  close(): Promise<void>;
}

export interface ComponentContext {
  plan: Plan;
  logger: Logger;
  /** Resolves relative paths; the working directory of the run. */
  cwd: string;
  /** Aborted when the run is asked to stop; unbounded sources end their waits. */
  signal: AbortSignal;
  /** A source's name in `sources:`, for a source whose partitions would otherwise be named alike. */
  sourceName?: string;
  /** For a sink: its use in the plan (its name in `sinks:` and its document mapping). */
  sink?: SinkUse;
}

import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Chunk } from '../../engine/records.js';
import type { SourceRuntime } from '../../engine/runtime.js';
import { RunnelError, type RuntimeErrorCode } from '../../errors.js';
import type { KafkaSourceConfig } from './source.js';

/** What the main thread asks the worker (src/components/kafka/worker.ts). */
export type KafkaCall =
  | { method: 'start' }
  | { method: 'next'; maxRecords: number; waitMs: number; eventTimes: [string, number][] }
  | { method: 'commit'; offsets: [string, number][]; progress: [string, number][] }
  | { method: 'rewind' }
  | { method: 'abort' }
  | { method: 'close' };

export interface KafkaWorkerData {
  config: KafkaSourceConfig;
  maxQueued: number;
  logLevel: string;
  logBindings: Record<string, unknown>;
}

export type KafkaReply =
  { id: number; result?: Chunk[] | null; lag?: [string, number][]; remaining?: number } | { id: number; error: ThreadError };

/** An error as it crosses from the worker: a RunnelError keeps its exit code and its code, which callers tell errors apart by. */
export type ThreadError = { message: string; runnel: false } | { message: string; runnel: true; exitCode: number; code?: RuntimeErrorCode };

/** The worker's side of the crossing: a message port would keep neither the error's class nor its fields. */
export function toThreadError(error: Error): ThreadError {
  return error instanceof RunnelError
    ? { message: error.message, runnel: true, exitCode: error.exitCode, code: error.code }
    : { message: error.message, runnel: false };
}

/** The main thread's side: the error as the worker threw it. */
export function fromThreadError(error: ThreadError): Error {
  return error.runnel ? new RunnelError(error.message, error.exitCode, error.code) : new Error(error.message);
}

/**
 * The worker's young generation: kafkajs allocates a few short-lived objects per record (the
 * message, its headers object, buffer slices, a decoder), and a larger nursery means fewer
 * scavenges. With 96 MB (V8's default is 16-32 MB) bench:e2e's medians of 3 were 274,651 to
 * 305,531 records/s (four benches, before fast-records.ts) against 278,195 and 281,643 without,
 * for ~30 MB of RSS.
 */
const YOUNG_GENERATION_MB = 96;

/**
 * The Kafka source with its consumer in a worker thread: kafkajs's fetching and decoding of the
 * wire protocol (as much CPU as the engine's own work per record) runs on the second core while
 * the main thread aggregates. Calls go over the worker's message port; record bytes are moved,
 * not copied.
 */
export class KafkaThread implements SourceRuntime {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (value: Chunk[] | null | undefined) => void; reject: (error: Error) => void }>();
  private failure: Error | undefined;
  /** The consumer lag and remaining records as of the last records taken: every answer to `next` brings them along. */
  private lastLag: ReadonlyMap<string, number> = new Map();
  private lastRemaining = 0;

  private constructor(
    private readonly worker: Worker,
    signal: AbortSignal,
  ) {
    worker.on('message', (reply: KafkaReply) => this.settle(reply));
    worker.on('error', (error) => this.fail(new RunnelError(`Kafka source thread failed: ${error.message}`)));
    worker.on('exit', (code) => this.fail(new RunnelError(`Kafka source thread exited (code ${code})`)));
    // ends the worker's waits for records, as the signal does for a source on this thread
    signal.addEventListener('abort', () => void this.call({ method: 'abort' }).catch(() => undefined), { once: true });
  }

  static async start(config: KafkaSourceConfig, maxQueued: number, logger: Logger, signal: AbortSignal): Promise<KafkaThread> {
    const workerData: KafkaWorkerData = { config, maxQueued, logLevel: logger.level, logBindings: logger.bindings() };
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    const thread = new KafkaThread(worker, signal);
    try {
      await thread.call({ method: 'start' });
    } catch (error) {
      await thread.worker.terminate();
      throw error;
    }
    return thread;
  }

  async next(maxRecords: number, waitMs: number, eventTimes?: ReadonlyMap<string, number>): Promise<Chunk[] | null> {
    const chunks = (await this.call({ method: 'next', maxRecords, waitMs, eventTimes: [...(eventTimes ?? [])] })) as Chunk[] | null;
    // a Buffer arrives as a plain Uint8Array over the moved memory: the engine wants Buffer's decoders
    for (const chunk of chunks ?? []) {
      if (chunk.lines)
        chunk.lines.bytes = Buffer.from(chunk.lines.bytes.buffer, chunk.lines.bytes.byteOffset, chunk.lines.bytes.byteLength);
    }
    return chunks;
  }

  lag(): ReadonlyMap<string, number> {
    return this.lastLag;
  }

  remaining(): number {
    return this.lastRemaining;
  }

  async commit(offsets: ReadonlyMap<string, number>, progress: ReadonlyMap<string, number>): Promise<void> {
    await this.call({ method: 'commit', offsets: [...offsets], progress: [...progress] });
  }

  async rewind(): Promise<void> {
    await this.call({ method: 'rewind' });
  }

  async close(): Promise<void> {
    try {
      if (!this.failure) await this.call({ method: 'close' });
    } finally {
      await this.worker.terminate();
    }
  }

  private call(call: KafkaCall): Promise<Chunk[] | null | undefined> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, call });
    });
  }

  private settle(reply: KafkaReply): void {
    const waiter = this.pending.get(reply.id);
    if (!waiter) return;
    this.pending.delete(reply.id);
    if ('error' in reply) waiter.reject(fromThreadError(reply.error));
    else {
      if (reply.lag) this.lastLag = new Map(reply.lag);
      if (reply.remaining !== undefined) this.lastRemaining = reply.remaining;
      waiter.resolve(reply.result);
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.pending.values()) waiter.reject(this.failure);
    this.pending.clear();
  }
}

import { COUNTED_TWICE, type SourceSpec } from '../spec.js';
import { strictObject } from '../fragments.js';
import { takeRecords, type Chunk } from '../../engine/records.js';
import type { SourceRuntime } from '../../engine/runtime.js';
import { LineSplitter } from './lines.js';

const config = strictObject('Read JSON lines from standard input; takes no settings: write `stdin: {}`.', {});

export const stdinSource: SourceSpec<typeof config> = {
  slot: 'source',
  name: 'stdin',
  summary: 'Reads JSON lines from standard input until it closes.',
  config,
  examples: [{ title: 'Pipe records in', yaml: 'stdin: {}\n' }],
  holds: () => [{ what: 'standard input', why: COUNTED_TWICE }],
  async create(_config, { signal, plan }) {
    return new StreamRuntime(process.stdin, new LineSplitter('stdin', plan.limits.maxRecordBytes), signal);
  },
};

/** Lines from a readable byte stream; exported for tests, which feed it a stream of their own. */
export class StreamRuntime implements SourceRuntime {
  private readonly queue: Buffer[] = [];
  /** Lines split off the queue but not handed out yet: more than maxRecords arrived. */
  private readonly pending: Chunk[] = [];
  private ended = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    stream: NodeJS.ReadableStream,
    private readonly lines: LineSplitter,
    private readonly signal: AbortSignal,
  ) {
    stream.on('data', (data: Buffer | string) => {
      this.queue.push(typeof data === 'string' ? Buffer.from(data) : data);
      this.wake?.();
    });
    stream.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    stream.on('error', (err: Error) => {
      this.failure = err;
      this.wake?.();
    });
    signal.addEventListener('abort', () => this.wake?.(), { once: true });
  }

  async next(maxRecords: number, waitMs: number): Promise<Chunk[] | null> {
    if (this.pending.length > 0) return takeRecords(this.pending, maxRecords);
    if (this.queue.length === 0 && !this.ended && !this.failure && !this.signal.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    if (this.failure) throw this.failure;
    this.pending.push(...this.queue.splice(0).flatMap((bytes) => this.lines.push(bytes)));
    if (this.ended && this.pending.length === 0) {
      const rest = this.lines.end();
      if (rest.length === 0) return null;
      this.pending.push(...rest);
    }
    return takeRecords(this.pending, maxRecords);
  }

  async commit(): Promise<void> {
    // standard input cannot be replayed
  }

  async close(): Promise<void> {}
}

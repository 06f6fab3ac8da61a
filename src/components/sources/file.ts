import { open, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { COUNTED_TWICE, type SourceSpec } from '../spec.js';
import { boolean, strictObject, text } from '../fragments.js';
import { takeRecords, type Chunk } from '../../engine/records.js';
import type { SourceRuntime } from '../../engine/runtime.js';
import { RunnelError } from '../../errors.js';
import { sleep } from '../../engine/pacing.js';
import { LineSplitter } from './lines.js';

const config = strictObject('Read JSON lines (one record per line) from a file.', {
  path: text('Path of the JSONL file, relative to the working directory.', { examples: ['data/impressions.jsonl'] }),
  follow: boolean('Keep reading as the file grows (like `tail -f`); without it the run ends at the end of the file.', { default: false }),
});

export const fileSource: SourceSpec<typeof config> = {
  slot: 'source',
  name: 'file',
  summary: "Reads JSON lines from a file; the partition is the path and the offset is the line's byte offset.",
  config,
  examples: [{ title: 'Replay a file of impressions', yaml: 'file:\n  path: data/impressions.jsonl\n' }],
  files: (config) => [{ path: config.path, at: ['path'], writes: false }],
  holds: (config) => [{ what: `the file \`${config.path}\``, why: COUNTED_TWICE }],
  async create(config, { cwd, signal, plan }) {
    let handle: FileHandle;
    try {
      handle = await open(resolve(cwd, config.path), 'r');
    } catch (err) {
      throw new RunnelError(`source file ${config.path}: ${(err as Error).message}`);
    }
    return new FileRuntime(handle, new LineSplitter(config.path, plan.limits.maxRecordBytes), config.follow, signal);
  },
};

const READ_BYTES = 1 << 20;
const FOLLOW_POLL_MS = 200;

interface Read {
  buffer: Buffer;
  bytesRead: number;
}

class FileRuntime implements SourceRuntime {
  private position = 0;
  private ended = false;
  /** Lines read but not handed out yet: a read holds more than maxRecords of them. */
  private readonly pending: Chunk[] = [];
  /** The next read, started as soon as the previous one returned: the disk works while records are processed. */
  private ahead: Promise<Read> | undefined;

  constructor(
    private readonly handle: FileHandle,
    private readonly lines: LineSplitter,
    private readonly follow: boolean,
    private readonly signal: AbortSignal,
  ) {}

  async next(maxRecords: number, waitMs: number): Promise<Chunk[] | null> {
    if (this.pending.length > 0) return takeRecords(this.pending, maxRecords);
    if (this.ended) return null;
    const { buffer, bytesRead } = await (this.ahead ?? this.read());
    this.ahead = undefined;
    if (bytesRead > 0) {
      this.position += bytesRead;
      this.ahead = this.read();
      this.pending.push(...this.lines.push(buffer.subarray(0, bytesRead)));
      return takeRecords(this.pending, maxRecords);
    }
    if (this.follow) {
      await sleep(Math.min(waitMs, FOLLOW_POLL_MS), this.signal);
      return [];
    }
    this.ended = true;
    this.pending.push(...this.lines.end());
    return takeRecords(this.pending, maxRecords);
  }

  /** Reads at the current position into a fresh buffer: the chunk keeps the bytes of its lines. */
  private read(): Promise<Read> {
    const buffer = Buffer.allocUnsafe(READ_BYTES);
    const read = this.handle.read(buffer, 0, READ_BYTES, this.position).then(({ bytesRead }) => ({ buffer, bytesRead }));
    read.catch(() => {}); // a failed read ahead is reported by the next call, or dropped at close
    return read;
  }

  async commit(): Promise<void> {
    // a file is replayed from its start; byte offsets identify its records
  }

  async close(): Promise<void> {
    await this.ahead?.catch(() => {});
    await this.handle.close();
  }
}

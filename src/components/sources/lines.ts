import type { Chunk } from '../../engine/records.js';

const NEWLINE = 0x0a;

/**
 * Splits bytes into JSON lines, each with the byte offset where it starts, as the file and stdin
 * sources' record offsets. A line cut by a read boundary waits for the rest; blank lines are skipped.
 */
export class LineSplitter {
  private carry: Buffer | undefined;
  private carryStart = 0;

  constructor(
    readonly partition: string,
    /** Byte offset of the next byte pushed. */
    private position = 0,
  ) {}

  push(bytes: Buffer): Chunk {
    const chunk: Chunk = { partition: this.partition, offsets: [], payloads: [] };
    let data = bytes;
    let base = this.position;
    if (this.carry) {
      data = Buffer.concat([this.carry, bytes]);
      base = this.carryStart;
      this.carry = undefined;
    }
    this.position += bytes.length;
    let start = 0;
    for (let nl = data.indexOf(NEWLINE); nl >= 0; nl = data.indexOf(NEWLINE, start)) {
      this.emit(chunk, data, start, nl, base);
      start = nl + 1;
    }
    if (start < data.length) {
      this.carry = data.subarray(start);
      this.carryStart = base + start;
    }
    return chunk;
  }

  /** The last line when the input ends without a newline. */
  end(): Chunk {
    const chunk: Chunk = { partition: this.partition, offsets: [], payloads: [] };
    if (this.carry) this.emit(chunk, this.carry, 0, this.carry.length, this.carryStart);
    this.carry = undefined;
    return chunk;
  }

  private emit(chunk: Chunk, data: Buffer, start: number, end: number, base: number): void {
    let stop = end;
    if (stop > start && data[stop - 1] === 0x0d) stop--; // CRLF files
    if (stop === start) return;
    chunk.offsets.push(base + start);
    chunk.payloads.push(data.toString('utf8', start, stop));
  }
}

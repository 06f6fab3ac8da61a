import type { Chunk } from '../../engine/records.js';

const NEWLINE = 0x0a;
const RETURN = 0x0d;

/**
 * Splits bytes into JSON lines, each with the byte offset where it starts, as the file and stdin
 * sources' record offsets. A line cut by a read boundary waits for the rest; blank lines are skipped.
 * Lines stay bytes (`Chunk.lines`): the engine decodes them without making strings first.
 */
export class LineSplitter {
  private carry: Buffer | undefined;
  private carryStart = 0;

  constructor(
    readonly partition: string,
    /** Byte offset of the next byte pushed. */
    private position = 0,
  ) {}

  /** The complete lines so far; `bytes` must not change afterwards (the chunk keeps it). */
  push(bytes: Buffer): Chunk {
    let data = bytes;
    let base = this.position;
    if (this.carry) {
      data = Buffer.concat([this.carry, bytes]);
      base = this.carryStart;
      this.carry = undefined;
    }
    this.position += bytes.length;
    const offsets: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    let start = 0;
    for (let nl = data.indexOf(NEWLINE); nl >= 0; nl = data.indexOf(NEWLINE, start)) {
      const stop = nl > start && data[nl - 1] === RETURN ? nl - 1 : nl; // CRLF files
      if (stop > start) {
        offsets.push(base + start);
        starts.push(start);
        ends.push(stop);
      }
      start = nl + 1;
    }
    if (start < data.length) {
      this.carry = data.subarray(start);
      this.carryStart = base + start;
    }
    return { partition: this.partition, offsets, payloads: [], lines: { bytes: data, starts, ends } };
  }

  /** The last line, as text, when the input ends without a newline. */
  end(): Chunk {
    const chunk: Chunk = { partition: this.partition, offsets: [], payloads: [] };
    const carry = this.carry;
    this.carry = undefined;
    let stop = carry?.length ?? 0;
    if (carry && stop > 0 && carry[stop - 1] === RETURN) stop--;
    if (carry && stop > 0) {
      chunk.offsets.push(this.carryStart);
      chunk.payloads.push(carry.toString('utf8', 0, stop));
    }
    return chunk;
  }
}

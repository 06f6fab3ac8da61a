import { OversizedRecord, TOO_LARGE_PREVIEW_BYTES, type Chunk } from '../../engine/records.js';

const NEWLINE = 0x0a;
const RETURN = 0x0d;
/** What an oversized line keeps of its start: the dead letter's preview, and a few bytes to end it on a character boundary. */
const HEAD_BYTES = TOO_LARGE_PREVIEW_BYTES + 4;

/**
 * Splits bytes into JSON lines, each with the byte offset where it starts, as the file and stdin
 * sources' record offsets. A line cut by a read boundary waits for the rest; blank lines are skipped.
 * Lines stay bytes (`Chunk.lines`): the engine decodes them without making strings first.
 *
 * A line still unfinished past `maxLineBytes` is not kept: its first bytes and its size are, and
 * it comes out as an OversizedRecord payload once its newline (or the end) arrives, so one endless
 * line (binary garbage, a file without newlines) costs neither unbounded memory nor quadratic copying.
 */
export class LineSplitter {
  /** The unfinished line's pieces, joined only when its newline arrives. */
  private carry: Buffer[] = [];
  private carryLength = 0;
  private carryStart = 0;
  /** The line being skipped because it is longer than maxLineBytes. */
  private oversized: { start: number; size: number; head: Buffer; lastWasReturn: boolean } | undefined;

  constructor(
    readonly partition: string,
    private readonly maxLineBytes = Infinity,
    /** Byte offset of the next byte pushed. */
    private position = 0,
  ) {}

  /** The complete lines so far, in order; `bytes` must not change afterwards (the chunks keep it). */
  push(bytes: Buffer): Chunk[] {
    const chunks: Chunk[] = [];
    const position = this.position;
    this.position += bytes.length;
    let from = 0;
    const skipping = this.oversized;
    if (skipping) {
      const nl = bytes.indexOf(NEWLINE);
      const taken = nl < 0 ? bytes : bytes.subarray(0, nl);
      if (skipping.head.length < HEAD_BYTES)
        skipping.head = Buffer.concat([skipping.head, taken.subarray(0, HEAD_BYTES - skipping.head.length)]);
      if (nl < 0) {
        skipping.size += bytes.length;
        if (bytes.length > 0) skipping.lastWasReturn = bytes[bytes.length - 1] === RETURN;
        return chunks;
      }
      const returnBefore = nl > 0 ? bytes[nl - 1] === RETURN : skipping.lastWasReturn;
      skipping.size += nl - (returnBefore ? 1 : 0);
      chunks.push(this.takeOversized());
      from = nl + 1;
    }
    let data: Buffer;
    let base: number;
    if (this.carryLength > 0) {
      if (bytes.indexOf(NEWLINE, from) < 0) {
        this.keep(bytes.subarray(from), position + from);
        return chunks;
      }
      data = Buffer.concat([...this.carry, bytes.subarray(from)]);
      base = this.carryStart;
      this.carry = [];
      this.carryLength = 0;
    } else {
      data = from === 0 ? bytes : bytes.subarray(from);
      base = position + from;
    }
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
    if (offsets.length > 0) chunks.push({ partition: this.partition, offsets, payloads: [], lines: { bytes: data, starts, ends } });
    if (start < data.length) this.keep(data.subarray(start), base + start);
    return chunks;
  }

  /** The last line, when the input ends without a newline. */
  end(): Chunk[] {
    if (this.oversized) {
      if (this.oversized.lastWasReturn) this.oversized.size--;
      return [this.takeOversized()];
    }
    if (this.carryLength === 0) return [];
    const data = Buffer.concat(this.carry);
    const base = this.carryStart;
    this.carry = [];
    this.carryLength = 0;
    const stop = data[data.length - 1] === RETURN ? data.length - 1 : data.length;
    return stop > 0
      ? [{ partition: this.partition, offsets: [base], payloads: [], lines: { bytes: data, starts: [0], ends: [stop] } }]
      : [];
  }

  /** Adds a piece to the unfinished line; past the limit the line is skipped from here on. */
  private keep(piece: Buffer, at: number): void {
    if (this.carryLength === 0) this.carryStart = at;
    this.carry.push(piece);
    this.carryLength += piece.length;
    if (this.carryLength <= this.maxLineBytes) return;
    this.oversized = {
      start: this.carryStart,
      size: this.carryLength,
      // a copy: the read buffers it came from are not kept alive by it
      head: Buffer.concat(this.carry, Math.min(this.carryLength, HEAD_BYTES)),
      lastWasReturn: piece.length > 0 && piece[piece.length - 1] === RETURN,
    };
    this.carry = [];
    this.carryLength = 0;
  }

  private takeOversized(): Chunk {
    const { start, size, head } = this.oversized!;
    this.oversized = undefined;
    return { partition: this.partition, offsets: [start], payloads: [new OversizedRecord(size, head)] };
  }
}

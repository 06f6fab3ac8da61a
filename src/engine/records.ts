/**
 * Records travel in chunks from one partition: offsets[i] belongs to record i and offsets
 * strictly increase within a partition. A record is a payload (raw JSON text, or an already decoded
 * value: the generator skips the JSON round trip), or a line of `lines` (the file and stdin
 * sources hand over the bytes they read, so the engine decodes without making a string first).
 */
export interface Chunk {
  partition: string;
  offsets: number[];
  /** One per offset; empty when `lines` holds the records. */
  payloads: unknown[];
  lines?: Lines;
  /** Index of its source in plan.sources (set by the union of several; absent: the first). */
  source?: number;
  /**
   * Set on the first chunk a source hands over after it started reading the partition again from
   * a commit (a new assignment, a restart, a rewind): the partition's event-time progress recorded
   * with that commit (SourceRuntime.commit), -Infinity when none was. Lateness verdicts resume from it.
   */
  progress?: number;
}

/** JSON texts in one buffer: record i is the UTF-8 text of bytes[starts[i], ends[i]). */
export interface Lines {
  bytes: Buffer;
  starts: number[];
  /** Exclusive; a line's newline or carriage return is not part of it. */
  ends: number[];
}

/** Record i's payload: its line's text for a chunk of lines. */
export function payloadAt(chunk: Chunk, i: number): unknown {
  const { lines } = chunk;
  return lines ? lines.bytes.toString('utf8', lines.starts[i], lines.ends[i]) : chunk.payloads[i];
}

/**
 * Takes up to `max` records off the front of `queue` (chunks a source holds for the engine), so
 * that next() hands out at most maxRecords: a chunk longer than the room left is split, and its
 * rest stays first in the queue. The part taken of a chunk of lines gets its bytes copied into
 * memory of its own, as every chunk's may be moved to another thread (the Kafka source's is).
 */
export function takeRecords(queue: Chunk[], max: number): Chunk[] {
  const taken: Chunk[] = [];
  let room = max;
  while (queue.length > 0 && room > 0) {
    const chunk = queue[0];
    if (chunk.offsets.length <= room) {
      taken.push(queue.shift()!);
      room -= chunk.offsets.length;
    } else {
      const [head, rest] = splitChunk(chunk, room);
      taken.push(head);
      queue[0] = rest;
      room = 0;
    }
  }
  return taken;
}

/** The first `count` records of a chunk (in bytes of their own), and the others. */
function splitChunk({ partition, offsets, payloads, lines, progress }: Chunk, count: number): [Chunk, Chunk] {
  // the progress a chunk resumes from belongs to its first record: the head keeps it
  const resumes = progress === undefined ? {} : { progress };
  if (!lines) {
    return [
      { partition, offsets: offsets.slice(0, count), payloads: payloads.slice(0, count), ...resumes },
      { partition, offsets: offsets.slice(count), payloads: payloads.slice(count) },
    ];
  }
  const from = lines.starts[0];
  const to = lines.ends[count - 1];
  const bytes = Buffer.allocUnsafeSlow(to - from);
  lines.bytes.copy(bytes, 0, from, to);
  const head: Lines = {
    bytes,
    starts: lines.starts.slice(0, count).map((start) => start - from),
    ends: lines.ends.slice(0, count).map((end) => end - from),
  };
  const rest: Lines = { bytes: lines.bytes, starts: lines.starts.slice(count), ends: lines.ends.slice(count) };
  return [
    { partition, offsets: offsets.slice(0, count), payloads: [], lines: head, ...resumes },
    { partition, offsets: offsets.slice(count), payloads: [], lines: rest },
  ];
}

/**
 * Why a record was rejected; each lands in the dead-letter destination with its payload. The
 * README's "Bad input" table lists them with the setting that governs each.
 */
export type DeadLetterReason =
  | 'invalid-json'
  | 'invalid-utf8'
  | 'not-an-object'
  | 'too-large'
  | 'too-deep'
  | 'missing-time'
  | 'invalid-time'
  | 'time-out-of-range'
  | 'late'
  | 'missing-key'
  | 'invalid-value'
  | 'expression-error'
  | 'expression-timeout';

export interface DeadLetter {
  reason: DeadLetterReason;
  detail: string;
  partition: string;
  offset: number;
  /** The record as it was read: its text, or (payloadEncoding) its bytes. */
  payload: unknown;
  /** `base64`: the payload is the record's bytes in base64, because they are not UTF-8 text. */
  payloadEncoding?: 'base64';
  /** Set for `too-large`: the record's size in bytes; the payload holds only its first bytes. */
  size?: number;
  truncated?: true;
}

/** How much of a too-large record its dead letter keeps. */
export const TOO_LARGE_PREVIEW_BYTES = 1024;

/**
 * A record longer than `limits.maxRecordBytes` that a source did not keep whole (a line that
 * went on over several reads): its size and its first bytes. It arrives as a payload and is
 * dead-lettered as `too-large`, so a source never holds more than the limit of one record.
 */
export class OversizedRecord {
  constructor(
    readonly size: number,
    readonly head: Buffer,
  ) {}
}

/** The text of the first TOO_LARGE_PREVIEW_BYTES bytes, cut at a character boundary. */
export function previewText(bytes: Buffer): string {
  let end = Math.min(bytes.length, TOO_LARGE_PREVIEW_BYTES);
  // step back over continuation bytes so no character is cut in two
  if (end < bytes.length) while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

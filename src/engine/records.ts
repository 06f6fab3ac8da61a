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

/** Why a record was rejected; each lands in the dead-letter destination with its payload. */
export type DeadLetterReason =
  | 'invalid-json'
  | 'not-an-object'
  | 'missing-time'
  | 'invalid-time'
  | 'expression-error'
  | 'invalid-value'
  | 'late'
  | 'too-large';

export interface DeadLetter {
  reason: DeadLetterReason;
  detail: string;
  partition: string;
  offset: number;
  payload: unknown;
}

/**
 * Records travel in chunks from one partition: offsets[i] belongs to payloads[i] and offsets
 * strictly increase within a partition. A payload is raw JSON text, or an already decoded value
 * (the generator skips the JSON round trip).
 */
export interface Chunk {
  partition: string;
  offsets: number[];
  payloads: unknown[];
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

import type { Document } from 'mongodb';

/**
 * Runnel's bookkeeping under `_runnel` in a document the MongoDB store wrote, as stored (encoded:
 * see src/components/mongodb/store.ts): the driver types a read document's fields as `any`.
 */
export interface StoredRunnel {
  v: number;
  start: Date;
  end: Date;
  key: unknown[];
  states: Record<string, unknown>;
  offsets: Record<string, number>;
  partial?: Record<string, Record<string, number>>;
  w: string;
}

/** A stored document: the rendered output fields beside `_runnel`. */
export interface StoredDocument {
  [field: string]: unknown;
  _runnel: StoredRunnel;
}

/** The `_runnel` part of a document read back from a Runnel collection. */
export function runnelOf(doc: Document): StoredRunnel {
  return doc._runnel as StoredRunnel;
}

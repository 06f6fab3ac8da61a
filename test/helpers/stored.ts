import type { Document } from 'mongodb';
import type { RunnelFields } from '../../src/components/mongodb/store.js';

/** `_runnel` of a document read back: the driver types a read document's fields as `any`. */
export type StoredRunnel = RunnelFields;

/** A stored document: the rendered output fields beside `_runnel`. */
export interface StoredDocument {
  [field: string]: unknown;
  _runnel: StoredRunnel;
}

/** The `_runnel` part of a document read back from a Runnel collection. */
export function runnelOf(doc: Document): StoredRunnel {
  return doc._runnel as StoredRunnel;
}

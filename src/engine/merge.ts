import type { AggregationState, StoredValue } from './aggregation.js';
import type { AggregateUse } from './plan.js';
import type { Partial } from './batch-state.js';
import type { PartialBatch } from './rollups.js';
import { restoreState, stateDocId, type ConditionalWrite, type StateDoc, type StateStore } from './store.js';

/**
 * A partial covers offsets on both sides of what a document already holds: the batch cannot be
 * merged exactly once as it is, and must be re-read from the last committed offsets.
 */
export class StraddleError extends Error {
  constructor(
    readonly docId: string,
    readonly partition: string,
    readonly storedOffset: number,
    readonly partial: { minOffset: number; maxOffset: number },
  ) {
    super(
      `document ${docId} holds partition ${partition} up to offset ${storedOffset}, but this batch's part covers ${partial.minOffset}..${partial.maxOffset}`,
    );
    this.name = 'StraddleError';
  }
}

export class WriteConflictError extends Error {
  constructor(ids: string[], attempts: number) {
    super(`${ids.length} documents kept changing under concurrent writers after ${attempts} attempts (first: ${ids[0]})`);
    this.name = 'WriteConflictError';
  }
}

const MAX_ATTEMPTS = 8;

/**
 * The documents of one store level as this runner last wrote them: the next batch merges into
 * them without reading them back (their states live, not deserialized). One that another writer
 * changed since fails its conditional write and is read again, so these save reads and never
 * decide an outcome. Only the last batch's documents are kept.
 */
export type RecentDocs = Map<string, StateDoc>;

/**
 * Merges a batch into the store exactly once: one read of the touched documents (none for a store
 * that writes blind), merge in memory, one conditional write; documents whose version changed
 * meanwhile are read and merged again.
 * A partial is skipped for a document that already holds its partition past the partial's offsets;
 * a document that held all of the batch's partials is added to `unchanged` as stored.
 * The caller raises the fences first (raiseFences).
 */
export async function mergeBatch(
  store: StateStore,
  batch: PartialBatch,
  aggregates: readonly AggregateUse[],
  recent?: RecentDocs,
  unchanged?: StateDoc[],
): Promise<StateDoc[]> {
  const byDoc = new Map<string, Partial[]>();
  for (const partial of batch.partials) {
    const id = stateDocId(partial.windowStart, partial.key);
    const list = byDoc.get(id);
    if (list) list.push(partial);
    else byDoc.set(id, [partial]);
  }

  const written: StateDoc[] = [];
  let pending = [...byDoc.keys()];
  for (let attempt = 1; pending.length > 0; attempt++) {
    if (attempt > MAX_ATTEMPTS) throw new WriteConflictError(pending, MAX_ATTEMPTS);
    const known = attempt === 1 && recent ? pending.filter((id) => recent.has(id)) : [];
    // a blind first attempt takes the documents it does not hold for absent; those that exist fail and are read
    const stored =
      attempt === 1 && store.writesBlind
        ? new Map<string, StateDoc>()
        : await store.read(known.length === 0 ? pending : pending.filter((id) => !recent!.has(id)));
    for (const id of known) stored.set(id, recent!.get(id)!);
    const writes: ConditionalWrite[] = [];
    for (const id of pending) {
      const doc = stored.get(id);
      const write = mergeDoc(id, doc, byDoc.get(id)!, aggregates);
      if (write) writes.push(write);
      else if (doc) unchanged?.push(doc);
    }
    const conflicts = new Set(await store.write(writes));
    for (const w of writes) if (!conflicts.has(w.doc.id)) written.push(w.doc);
    pending = [...conflicts];
  }
  if (recent) {
    recent.clear();
    for (const doc of written) recent.set(doc.id, doc);
  }
  return written;
}

/** The fences go first: if we crash after writing data, a restart knows which offsets to check one by one. */
export async function raiseFences(store: StateStore, batch: PartialBatch): Promise<void> {
  await Promise.all([...batch.maxOffsets()].map(([partition, offset]) => store.raiseFence(partition, offset)));
}

function mergeDoc(
  id: string,
  stored: StateDoc | undefined,
  partials: Partial[],
  aggregates: readonly AggregateUse[],
): ConditionalWrite | undefined {
  const first = partials[0];
  const offsets = { ...(stored?.offsets ?? {}) };
  const fresh: Partial[] = [];
  for (const partial of partials) {
    const held = stored?.offsets[partial.partition] ?? -1;
    if (partial.maxOffset <= held) continue; // counted by an earlier write of these offsets
    if (partial.minOffset <= held) throw new StraddleError(id, partial.partition, held, partial);
    offsets[partial.partition] = Math.max(offsets[partial.partition] ?? -1, partial.maxOffset);
    fresh.push(partial);
  }
  if (fresh.length === 0) return undefined;
  // a stored document stays as it was read: the write may yet fail on a concurrent change
  const states = aggregates.map((a, i) => {
    if (!stored) return a.kind.create(a.options);
    if (!stored.live) return restoreState(a, stored.states);
    const copy = a.kind.create(a.options);
    copy.merge(stored.live[i]);
    return copy;
  });
  for (const partial of fresh) for (let i = 0; i < states.length; i++) states[i].merge(partial.states[i]);
  const doc = new MergedDoc(
    id,
    (stored?.version ?? 0) + 1,
    first.windowStart,
    first.windowEnd,
    first.key,
    offsets,
    states,
    aggregates,
    stored && partialAggregates(stored, aggregates),
  );
  return { doc, expectedVersion: stored?.version ?? null };
}

/**
 * The aggregates a stored document holds only in part: those it marked so before, and those it
 * lacks a state of (the pipeline gained them since): from here on they count the records after
 * the offsets the document holds now. Aggregates the pipeline no longer has are dropped.
 */
function partialAggregates(stored: StateDoc, aggregates: readonly AggregateUse[]): StateDoc['partial'] {
  let partial: StateDoc['partial'];
  for (const { name } of aggregates) {
    const since = stored.partial?.[name] ?? (stored.live || name in stored.states ? undefined : stored.offsets);
    if (since) (partial ??= {})[name] = since;
  }
  return partial;
}

/** A document just merged: it keeps its states live and serializes them only for a store that reads `states`. */
class MergedDoc implements StateDoc {
  private serialized: Record<string, StoredValue> | undefined;

  constructor(
    readonly id: string,
    readonly version: number,
    readonly windowStart: number,
    readonly windowEnd: number,
    readonly key: unknown[],
    readonly offsets: Record<string, number>,
    readonly live: readonly AggregationState[],
    private readonly aggregates: readonly AggregateUse[],
    readonly partial: StateDoc['partial'],
  ) {}

  get states(): Record<string, StoredValue> {
    this.serialized ??= Object.fromEntries(this.aggregates.map((a, i) => [a.name, this.live[i].serialize()]));
    return this.serialized;
  }
}

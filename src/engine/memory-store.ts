import type { ConditionalWrite, StateDoc, StateStore } from './store.js';

/**
 * The in-process store used by the local sinks: documents live in a Map. Finished windows are
 * taken out (evicted) once emitted, so memory stays bounded by the open windows.
 */
export class MemoryStore implements StateStore {
  private readonly docs = new Map<string, StateDoc>();
  private readonly fences = new Map<string, number>();

  async read(ids: readonly string[]): Promise<Map<string, StateDoc>> {
    const found = new Map<string, StateDoc>();
    for (const id of ids) {
      const doc = this.docs.get(id);
      if (doc) found.set(id, doc);
    }
    return found;
  }

  async write(writes: readonly ConditionalWrite[]): Promise<string[]> {
    const conflicts: string[] = [];
    for (const { doc, expectedVersion } of writes) {
      const current = this.docs.get(doc.id);
      if ((current?.version ?? null) !== expectedVersion) conflicts.push(doc.id);
      else this.docs.set(doc.id, doc);
    }
    return conflicts;
  }

  async readFence(partition: string): Promise<number> {
    return this.fences.get(partition) ?? -1;
  }

  async raiseFence(partition: string, offset: number): Promise<void> {
    if (offset > (this.fences.get(partition) ?? -1)) this.fences.set(partition, offset);
  }

  /** Removes and returns the documents of windows that end at or before `end`, oldest first. */
  takeWindowsEndingBy(end: number): StateDoc[] {
    const taken: StateDoc[] = [];
    for (const [id, doc] of this.docs) {
      if (doc.windowEnd <= end) {
        taken.push(doc);
        this.docs.delete(id);
      }
    }
    return taken.sort((a, b) => a.windowStart - b.windowStart || (a.id < b.id ? -1 : 1));
  }

  get size(): number {
    return this.docs.size;
  }
}

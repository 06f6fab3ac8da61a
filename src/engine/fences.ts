import type { StateStore } from './store.js';

/**
 * Per partition, the offset up to which a crashed run may have merged records already (the base
 * store's fence, read once when the partition's first records arrive). Records at or below it are
 * merged record by record, in the base store and in every rollup level, so each can be checked
 * against the offsets a document holds. The run loop owns one and hands it to the processor and
 * the rollups; a rewind forgets it, and the fences are read again.
 */
export class Fences {
  private readonly offsets = new Map<string, number>();

  /** The partition's fence, read from the store the first time the partition is seen. */
  async load(partition: string, store: StateStore): Promise<void> {
    if (!this.offsets.has(partition)) this.offsets.set(partition, await store.readFence(partition));
  }

  /** The fence of a partition (-1: none, every record may be merged in bulk). */
  of(partition: string): number {
    return this.offsets.get(partition) ?? -1;
  }

  clear(): void {
    this.offsets.clear();
  }
}

import { takeRecords, type Chunk } from './records.js';

/**
 * How far ahead in event time of the partition furthest behind a partition may be and still be
 * taken from (when both have records queued): a minute, the usual window, so a batch of a replay
 * covers one stretch of event time in every partition.
 */
export const ALIGNMENT_MS = 60_000;

/**
 * Records a source fetched ahead of the engine, one queue per partition, handed out evenly and
 * aligned in event time. A topic filled without keys (`runner produce`) spreads each stretch of
 * event time over all its partitions; a batch taken from one partition at a time covers hours of
 * event time with it, and every minute window is written again for each partition that holds its
 * records. So a take gives each partition with records queued an equal share of its room, but
 * skips those more than ALIGNMENT_MS ahead of the one furthest behind (the engine says how far
 * each has got: the highest event time it has read there; a partition it has not read yet counts
 * as furthest behind), as Flink's watermark alignment pauses the splits that run ahead. A take
 * never comes back empty while records are queued, unless it is told to wait for a partition
 * further behind (`awaited`).
 */
export class PartitionQueues {
  private readonly queues = new Map<string, Chunk[]>();
  private readonly counts = new Map<string, number>();
  /** Records queued in all partitions. */
  size = 0;

  push(chunk: Chunk): void {
    const count = chunk.offsets.length;
    if (count === 0) return;
    const queue = this.queues.get(chunk.partition);
    if (queue) queue.push(chunk);
    else this.queues.set(chunk.partition, [chunk]);
    this.counts.set(chunk.partition, (this.counts.get(chunk.partition) ?? 0) + count);
    this.size += count;
  }

  /** Records queued for a partition. */
  sizeOf(partition: string): number {
    return this.counts.get(partition) ?? 0;
  }

  /**
   * Up to `max` records, an equal share from each partition within ALIGNMENT_MS of the one
   * furthest behind in `eventTimes` (a partition with fewer records gives its rest to the others);
   * each partition's records in offset order. `awaited` partitions have nothing queued but more on
   * their way: one of them may be the one furthest behind, and the take then comes back empty
   * when every partition queued is too far ahead of it.
   */
  take(max: number, eventTimes: ReadonlyMap<string, number> = new Map(), awaited: Iterable<string> = []): Chunk[] {
    const timeOf = (partition: string) => eventTimes.get(partition) ?? -Infinity;
    let behind = Infinity;
    for (const partition of this.queues.keys()) behind = Math.min(behind, timeOf(partition));
    for (const partition of awaited) behind = Math.min(behind, timeOf(partition));
    const aligned = [...this.queues.keys()].filter((partition) => timeOf(partition) <= behind + ALIGNMENT_MS);
    const taken: Chunk[] = [];
    let room = max;
    while (room > 0 && aligned.length > 0) {
      const share = Math.ceil(room / aligned.length);
      for (const partition of [...aligned]) {
        if (room <= 0) break;
        const chunks = takeRecords(this.queues.get(partition)!, Math.min(share, room));
        const count = chunks.reduce((sum, chunk) => sum + chunk.offsets.length, 0);
        taken.push(...chunks);
        room -= count;
        this.size -= count;
        const left = this.counts.get(partition)! - count;
        if (left > 0) {
          this.counts.set(partition, left);
          continue;
        }
        this.remove(partition);
        aligned.splice(aligned.indexOf(partition), 1);
      }
    }
    return taken;
  }

  /** Drops the records of the partitions `keep` rejects; returns how many went. */
  dropUnless(keep: (partition: string) => boolean): number {
    let dropped = 0;
    for (const partition of [...this.queues.keys()]) {
      if (keep(partition)) continue;
      dropped += this.counts.get(partition)!;
      this.remove(partition);
    }
    this.size -= dropped;
    return dropped;
  }

  clear(): void {
    this.queues.clear();
    this.counts.clear();
    this.size = 0;
  }

  private remove(partition: string): void {
    this.queues.delete(partition);
    this.counts.delete(partition);
  }
}

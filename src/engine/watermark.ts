/**
 * Event-time progress, per partition: the highest event time counted so far. It does two jobs.
 *
 * Lateness: a record is late when it lies more than the out-of-orderness plus the allowed
 * lateness behind the highest event time counted before it *in its own partition*. A verdict so
 * depends only on the partition's own records, in their order, and on where it was resumed from
 * (see resume): the same input gets the same verdicts whichever runner reads a partition, after
 * any rebalance or restart, and however the partitions of one runner advance against each other.
 *
 * Finality: the pipeline's watermark is the minimum, over the active partitions (those that
 * handed over records within the idle timeout, wall-clock time), of the highest event time minus
 * the out-of-orderness; windows ending by it, less the lateness, are final. A partition that goes
 * quiet holds the watermark back for the idle timeout and no longer. A pause of the whole input (a
 * broker outage) makes no partition idle: the timeout counts from when records came again.
 */
export class Watermarks {
  private readonly highest = new Map<string, number>();
  /** Wall-clock time each partition last handed over records. */
  private readonly lastSeen = new Map<string, number>();
  /** When any partition last handed over records, and when records came after a pause of the whole input. */
  private lastAny = -Infinity;
  private resumedAt = -Infinity;

  constructor(
    readonly delayMs: number,
    /** Infinity: a partition is never idle. */
    readonly idleMs = Infinity,
    private readonly now: () => number = Date.now,
  ) {}

  highestOf(partition: string): number {
    return this.highest.get(partition) ?? -Infinity;
  }

  /** A chunk of the partition is in hand (called before its records, whatever their times). */
  arrived(partition: string): void {
    const now = this.now();
    if (now - this.lastAny > this.idleMs) this.resumedAt = now;
    this.lastAny = now;
    this.lastSeen.set(partition, now);
  }

  setHighest(partition: string, eventTime: number): void {
    if (eventTime > this.highestOf(partition)) this.highest.set(partition, eventTime);
  }

  /**
   * The partition is read again from a commit (a new assignment, a restart, a rewind): its
   * progress is what it was at that commit, lower than what this runner saw of it or not.
   */
  resume(partition: string, eventTimeHigh: number): void {
    if (eventTimeHigh === -Infinity) this.highest.delete(partition);
    else this.highest.set(partition, eventTimeHigh);
  }

  get current(): number {
    if (this.highest.size === 0) return -Infinity;
    const activeSince = this.now() - this.idleMs;
    // with the whole input quiet, every partition still counts
    const everyone = this.now() - this.lastAny > this.idleMs;
    let lowest = Infinity;
    for (const [p, t] of this.highest) {
      if (t < lowest && (everyone || Math.max(this.lastSeen.get(p) ?? -Infinity, this.resumedAt) >= activeSince)) lowest = t;
    }
    return lowest - this.delayMs;
  }

  /** Each partition's highest event time, as it is now (a live view, not a copy). */
  get highestTimes(): ReadonlyMap<string, number> {
    return this.highest;
  }

  /** The per-partition progress, to go back to when the source is rewound to this point. */
  snapshot(): ReadonlyMap<string, number> {
    return new Map(this.highest);
  }

  restore(snapshot: ReadonlyMap<string, number>): void {
    this.highest.clear();
    for (const [partition, time] of snapshot) this.highest.set(partition, time);
  }
}

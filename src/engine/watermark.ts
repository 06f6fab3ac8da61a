/**
 * Event-time progress. Per partition, the highest event time seen minus the allowed
 * out-of-orderness; the pipeline's watermark is the minimum over the active partitions, those
 * that handed over records within the idle timeout (wall-clock time). A partition that goes
 * quiet (a topic nobody writes to, a source with nothing left) holds the watermark back for that
 * long and no longer; when it speaks again it counts again, and its records behind the watermark
 * by more than the allowed lateness are late. A pause of the whole input (a broker outage) makes
 * no partition idle: the timeout counts from when records came again, so the first partition
 * back does not carry the watermark past the others.
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

  /** The minimum over all partitions but one, so a chunk can track its own partition in a local. */
  lowestExcept(partition: string): number {
    return this.lowest(partition);
  }

  get current(): number {
    if (this.highest.size === 0) return -Infinity;
    // with the whole input quiet, every partition still counts
    const lowest = this.now() - this.lastAny > this.idleMs ? Math.min(...this.highest.values()) : this.lowest(undefined);
    return lowest - this.delayMs;
  }

  private lowest(except: string | undefined): number {
    const activeSince = this.now() - this.idleMs;
    let lowest = Infinity;
    for (const [p, t] of this.highest) {
      if (p !== except && t < lowest && Math.max(this.lastSeen.get(p) ?? -Infinity, this.resumedAt) >= activeSince) lowest = t;
    }
    return lowest;
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

/**
 * Event-time progress. Per partition, the highest event time seen minus the allowed
 * out-of-orderness; the pipeline's watermark is the minimum over the partitions seen.
 */
export class Watermarks {
  private readonly highest = new Map<string, number>();

  constructor(readonly delayMs: number) {}

  highestOf(partition: string): number {
    return this.highest.get(partition) ?? -Infinity;
  }

  setHighest(partition: string, eventTime: number): void {
    if (eventTime > this.highestOf(partition)) this.highest.set(partition, eventTime);
  }

  /** The minimum over all partitions but one, so a chunk can track its own partition in a local. */
  lowestExcept(partition: string): number {
    let lowest = Infinity;
    for (const [p, t] of this.highest) if (p !== partition && t < lowest) lowest = t;
    return lowest;
  }

  get current(): number {
    if (this.highest.size === 0) return -Infinity;
    let lowest = Infinity;
    for (const t of this.highest.values()) if (t < lowest) lowest = t;
    return lowest - this.delayMs;
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

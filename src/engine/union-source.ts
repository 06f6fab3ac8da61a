import { RunnelError } from '../errors.js';
import { settleAll } from '../util/settle.js';
import type { Chunk } from './records.js';
import type { SourceRuntime } from './runtime.js';

/** Waits between rounds when none of the sources had records. */
const IDLE_ROUND_MS = 20;

/**
 * Several sources read side by side as one (`sources:`). Each chunk is tagged with its source's
 * index; commits, rewinds and lag go to the runtime that hands over each partition. One runtime
 * may read several sources (one Kafka consumer for the sources of a group): `sourceOf` then says
 * whose a partition is. Sources take turns
 * in handing over records, so a busy one cannot starve a quiet one, and the union is drained once
 * every source is. Two sources must never name a partition alike: offsets and fences are kept
 * per partition, so they would be merged as one (the compiler refuses sources that read the same
 * topic or file; this is the guard for what it cannot see).
 */
export class UnionSource implements SourceRuntime {
  /** Partition -> the runtime that hands it over, and its source (sourceOf, asked once per partition). */
  private readonly owner = new Map<string, { runtime: number; source: number }>();
  private readonly drained: boolean[];
  private turn = 0;
  /** Only when every source can go back to its last commit. */
  readonly rewind?: () => Promise<void>;

  constructor(
    private readonly sources: readonly SourceRuntime[],
    private readonly labels: readonly string[],
    /** The source (index in labels) of a partition that runtime `runtime` hands over; by default runtime i reads source i. */
    private readonly sourceOf: (runtime: number, partition: string) => number = (runtime) => runtime,
  ) {
    this.drained = sources.map(() => false);
    if (sources.every((s) => s.rewind !== undefined)) {
      this.rewind = async () => {
        await Promise.all(sources.map((s) => s.rewind!()));
        this.drained.fill(false);
      };
    }
  }

  async next(maxRecords: number, waitMs: number, eventTimes?: ReadonlyMap<string, number>): Promise<Chunk[] | null> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      let room = maxRecords;
      const taken: Chunk[] = [];
      // a round: each source once, starting with a different one each time
      for (let k = 0; k < this.sources.length && room > 0; k++) {
        const index = (this.turn + k) % this.sources.length;
        if (this.drained[index]) continue;
        const chunks = await this.sources[index].next(room, 0, eventTimes);
        if (chunks === null) {
          this.drained[index] = true;
          continue;
        }
        for (const chunk of chunks) {
          chunk.source = this.claim(chunk.partition, index);
          room -= chunk.offsets.length;
          taken.push(chunk);
        }
      }
      this.turn = (this.turn + 1) % this.sources.length;
      if (taken.length > 0) return taken;
      if (this.drained.every(Boolean)) return null;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await new Promise((resolve) => setTimeout(resolve, Math.min(left, IDLE_ROUND_MS)));
    }
  }

  /** The source of a partition that runtime `runtime` hands over; a partition two runtimes hand over stops the run. */
  private claim(partition: string, runtime: number): number {
    const owner = this.owner.get(partition);
    if (owner === undefined) {
      const source = this.sourceOf(runtime, partition);
      this.owner.set(partition, { runtime, source });
      return source;
    }
    if (owner.runtime !== runtime) {
      throw new RunnelError(
        `sources \`${this.labels[owner.source]}\` and \`${this.labels[this.sourceOf(runtime, partition)]}\` both hand over partition ${JSON.stringify(partition)}: each source must read its own topics and files`,
      );
    }
    return owner.source;
  }

  async commit(offsets: ReadonlyMap<string, number>, progress: ReadonlyMap<string, number>): Promise<void> {
    const bySource = this.sources.map(() => new Map<string, number>());
    for (const [partition, offset] of offsets) bySource[this.owner.get(partition)!.runtime].set(partition, offset);
    await Promise.all(this.sources.map((source, i) => (bySource[i].size > 0 ? source.commit(bySource[i], progress) : Promise.resolve())));
  }

  lag(): ReadonlyMap<string, number> {
    return new Map(this.sources.flatMap((s) => [...(s.lag?.() ?? [])]));
  }

  remaining(): number {
    return this.sources.reduce((sum, s) => sum + (s.remaining?.() ?? 0), 0);
  }

  async close(): Promise<void> {
    await settleAll(this.sources.map((s) => s.close()));
  }
}

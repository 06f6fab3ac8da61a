/**
 * A run whose storing overlaps filling: many small batches of records with a bad one among every
 * few good ones, into a store that takes a while to write, through a given dead-letter destination.
 * What every destination must show afterwards: one entry per bad record, no more, no fewer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryStore } from '../../src/engine/memory-store.js';
import { PipelineRun, type RunStats } from '../../src/engine/pipeline-run.js';
import type { Chunk } from '../../src/engine/records.js';
import type { DeadLetterRuntime, SinkRuntime, SourceRuntime } from '../../src/engine/runtime.js';
import type { ConditionalWrite } from '../../src/engine/store.js';
import { silentLogger } from '../../src/log.js';
import { compileText } from './pipeline.js';

const T0 = Date.UTC(2026, 0, 1);

export const BAD_RECORDS_PLAN = `
name: bad-records
source: { stdin: {} }
batch: { interval: 1ms, maxRecords: 100, maxHeldRecords: 100 }
time: { field: ts, maxOutOfOrder: 1h }
window: { tumbling: 1m }
groupBy: [k]
aggregate:
  n: count
sink: { console: {} }
`;

/** The kinds of bad record the scenario cycles through, each with the reason it is refused for. */
const BAD = [
  ['{"ts":', 'invalid-json'],
  ['[1,2,3]', 'not-an-object'],
  ['42', 'not-an-object'],
  ['{"k":"a"}', 'missing-time'],
  ['{"ts":"yesterday","k":"a"}', 'invalid-time'],
] as const;

/** Record `offset` of the scenario: every `badEvery`-th one is bad. */
export function scenarioRecord(offset: number, badEvery: number): { payload: string; reason?: string } {
  if (offset % badEvery === badEvery - 1) {
    const [payload, reason] = BAD[Math.floor(offset / badEvery) % BAD.length];
    return { payload, reason };
  }
  return { payload: JSON.stringify({ ts: T0 + offset, k: offset % 3 === 0 ? 'a' : 'b' }) };
}

/** `count` records on one partition, `per` per fetch, each fetch taking a moment. */
class ScenarioSource implements SourceRuntime {
  private position = 0;
  committed = -1;

  constructor(
    private readonly count: number,
    private readonly per: number,
    private readonly badEvery: number,
  ) {}

  async next(): Promise<Chunk[] | null> {
    if (this.position >= this.count) return null;
    await sleep(1);
    const offsets: number[] = [];
    const payloads: string[] = [];
    for (; this.position < this.count && offsets.length < this.per; this.position++) {
      offsets.push(this.position);
      payloads.push(scenarioRecord(this.position, this.badEvery).payload);
    }
    return [{ partition: 'p', offsets, payloads }];
  }

  commit(offsets: ReadonlyMap<string, number>): Promise<void> {
    this.committed = offsets.get('p') ?? this.committed;
    return Promise.resolve();
  }

  async close(): Promise<void> {}
}

/** A store whose every write takes `writeMs`: the next batch fills (and dead-letters) meanwhile. */
class SlowStore extends MemoryStore {
  constructor(private readonly writeMs: number) {
    super();
  }

  override async write(writes: readonly ConditionalWrite[]): Promise<string[]> {
    await sleep(this.writeMs);
    return super.write(writes);
  }
}

export interface ScenarioOutcome {
  stats: RunStats;
  /** Offset -> reason of every bad record the scenario produced. */
  expected: Map<number, string>;
  committed: number;
}

/** Runs the scenario through `deadLetters`; the caller reads back what the destination holds. */
export async function runBadRecords(
  deadLetters: DeadLetterRuntime,
  options: { count?: number; per?: number; badEvery?: number; writeMs?: number } = {},
): Promise<ScenarioOutcome> {
  const { count = 6000, per = 40, badEvery = 7, writeMs = 15 } = options;
  const plan = compileText(BAD_RECORDS_PLAN);
  const source = new ScenarioSource(count, per, badEvery);
  const sink: SinkRuntime = { store: new SlowStore(writeMs), afterBatch: async () => {}, close: async () => {} };
  const stats = await new PipelineRun(plan, { source, sink, deadLetters }, silentLogger, new AbortController().signal).run();
  const expected = new Map<number, string>();
  for (let offset = 0; offset < count; offset++) {
    const { reason } = scenarioRecord(offset, badEvery);
    if (reason) expected.set(offset, reason);
  }
  return { stats, expected, committed: source.committed };
}

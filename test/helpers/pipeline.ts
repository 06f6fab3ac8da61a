import { parsePipelineText } from '../../src/config/load.js';
import { compileLoaded } from '../../src/compiler/compile.js';
import type { ComponentUse, Plan } from '../../src/engine/plan.js';
import type { Slot } from '../../src/components/spec.js';
import { RowSink, type EmitMode } from '../../src/components/sinks/row-sink.js';
import { PipelineRun, type RunStats } from '../../src/engine/pipeline-run.js';
import type { Chunk, DeadLetter } from '../../src/engine/records.js';
import type { ResultRow } from '../../src/engine/rows.js';
import type { SourceRuntime } from '../../src/engine/runtime.js';
import { silentLogger } from '../../src/log.js';
import { collectDeadLetters } from '../../src/components/dead-letters/memory.js';

/** Each diagnostic of a pipeline text as `code: message`. */
export function diagnosticsOf(yaml: string): string[] {
  return compileLoaded(parsePipelineText('t.yaml', yaml, {})).diagnostics.map((d) => `${d.code}: ${d.message}`);
}

export function compileText(yaml: string, env: Record<string, string> = {}): Plan {
  const compiled = compileLoaded(parsePipelineText('test.yaml', yaml, env));
  if (!compiled.plan) throw new Error(`pipeline does not compile: ${JSON.stringify(compiled.diagnostics)}`);
  return compiled.plan;
}

/** The component a runnable slot of a plan holds (a plan of `source:` has one source). */
export function slotUse(plan: Plan, slot: 'source' | 'sink' | 'deadLetter'): ComponentUse {
  return slot === 'source' ? plan.sources[0] : slot === 'sink' ? plan.sinks[0] : plan[slot];
}

const plainSlots: Record<Slot, string> = {
  source: 'source:\n  generator: {}\n',
  window: 'window:\n  tumbling: 1m\n',
  sink: 'sink:\n  console: {}\n',
  deadLetter: '',
};

/** A pipeline that counts per minute with this YAML in one slot (e.g. a component's example) and plain components in the others. */
export function pipelineWith(slot: Slot, slotYaml: string): string {
  const block = `${slot}:\n${slotYaml
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n`;
  const parts = { ...plainSlots, [slot]: block };
  return `name: example\n${parts.source}${parts.window}aggregate:\n  n: count\n${parts.sink}${parts.deadLetter}`;
}

/** The variables components' examples use. */
export const exampleEnvironment = { KAFKA_BROKERS: 'kafka:9092', MONGODB_URI: 'mongodb://db:27017' };

/** A pipeline of 1-minute windows by `k`, from stdin to the console, with these aggregates (YAML lines, indented). */
export function pipelineOfAggregates(aggregates: string): Plan {
  return compileText(`name: aggregates
source: { stdin: {} }
time: { field: t, maxOutOfOrder: 1h }
window: { tumbling: 1m }
groupBy: [k]
aggregate:
${aggregates}
sink: { console: {} }
`);
}

/**
 * Hands out prepared chunks, one call each; `null` ends a bounded run. A `batchEnd` entry returns an
 * empty list so the batch loop flushes when its interval is short.
 */
export class ScriptedSource implements SourceRuntime {
  private index = 0;
  committed = new Map<string, number>();
  /** The progress committed with each partition's last commit. */
  progress = new Map<string, number>();

  constructor(private readonly script: Chunk[][]) {}

  next(): Promise<Chunk[] | null> {
    if (this.index >= this.script.length) return Promise.resolve(null);
    return Promise.resolve(this.script[this.index++]);
  }

  commit(offsets: ReadonlyMap<string, number>, progress: ReadonlyMap<string, number>): Promise<void> {
    for (const [p, o] of offsets) {
      this.committed.set(p, o);
      this.progress.set(p, progress.get(p)!);
    }
    return Promise.resolve();
  }

  async close(): Promise<void> {}
}

export interface Outcome {
  rows: ResultRow[];
  /** The rows of each write to the sink, in order: shows when windows were emitted. */
  emissions: ResultRow[][];
  deadLetters: DeadLetter[];
  stats: RunStats;
  sink: RowSink;
}

/** A local sink whose rows go to `rows` (and each write's to `emissions`). */
export function capturingSink(plan: Plan, rows: ResultRow[], emit: EmitMode = 'final', emissions: ResultRow[][] = []): RowSink {
  return new RowSink(
    plan,
    { emit, document: plan.sinks[0].document },
    {
      write(batch: ResultRow[]) {
        rows.push(...batch);
        emissions.push(batch);
        return Promise.resolve();
      },
      async close() {},
    },
  );
}

/** Runs a plan over scripted chunks with a capturing local sink. */
export function runScripted(plan: Plan, script: Chunk[][], emit: EmitMode = 'final'): Promise<Outcome> {
  return runFrom(plan, new ScriptedSource(script), emit);
}

/** Runs a plan over a source of the test's with a capturing local sink. */
export async function runFrom(plan: Plan, source: SourceRuntime, emit: EmitMode = 'final'): Promise<Outcome> {
  const rows: ResultRow[] = [];
  const emissions: ResultRow[][] = [];
  const deadLetters: DeadLetter[] = [];
  const sink = capturingSink(plan, rows, emit, emissions);
  const parts = {
    source,
    sink,
    deadLetters: collectDeadLetters(deadLetters),
  };
  const stats = await new PipelineRun(plan, parts, silentLogger, new AbortController().signal).run();
  return { rows, emissions, deadLetters, stats, sink };
}

/** Rows sorted by window and key, dates as ISO strings, for deep comparison. */
export function canonical(rows: ResultRow[]): Record<string, unknown>[] {
  return rows
    .map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v])))
    .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

import { compilePipelineFile } from '../compiler/compile.js';
import { formatLine, locateAll } from '../config/print.js';
import { RowSink } from '../components/sinks/row-sink.js';
import { PipelineRun } from '../engine/pipeline-run.js';
import type { Chunk, DeadLetter } from '../engine/records.js';
import type { ResultRow } from '../engine/rows.js';
import type { SourceRuntime } from '../engine/runtime.js';
import { stateSink, type Plan } from '../engine/plan.js';
import { UnionSource } from '../engine/union-source.js';
import { silentLogger } from '../log.js';
import { compareRows } from './compare.js';
import type { TestCase } from './test-file.js';
import { collectDeadLetters } from '../components/dead-letters/memory.js';

/** A source's test records as one partition: mappings become JSON text so decoding is tested too. */
class RecordsSource implements SourceRuntime {
  private done = false;

  constructor(
    private readonly partition: string,
    private readonly records: unknown[],
  ) {}

  async next(): Promise<Chunk[] | null> {
    if (this.done) return null;
    this.done = true;
    const payloads = this.records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r)));
    return [{ partition: this.partition, offsets: payloads.map((_, i) => i), payloads }];
  }

  async commit(): Promise<void> {}
  async close(): Promise<void> {}
}

const TEST_PARTITION = 'test';

/** The test's records in place of the pipeline's sources: one partition, or one per source of `sources:` (`test:<name>`). */
function testSource(plan: Plan, input: TestCase['input']): SourceRuntime | string {
  const named = plan.named.sources;
  if (Array.isArray(input)) {
    if (!named) return new RecordsSource(TEST_PARTITION, input);
    return `the pipeline reads several sources: give \`input\` as a map of source name to records (${plan.sources.map((s) => s.label).join(', ')})`;
  }
  if (!named) return 'the pipeline reads one source: give `input` as a list of records';
  const unknown = Object.keys(input).filter((name) => !plan.sources.some((s) => s.label === name));
  if (unknown.length > 0) return `\`input\` names ${unknown.map((n) => `\`${n}\``).join(', ')}, not a source of the pipeline`;
  return new UnionSource(
    plan.sources.map((s) => new RecordsSource(`${TEST_PARTITION}:${s.label}`, input[s.label] ?? [])),
    plan.sources.map((s) => s.label),
  );
}

/**
 * Runs one test case through the real compiled pipeline, swapping only its edges: the source
 * becomes the test's records and the sink captures final rows. Returns the differences found.
 */
export async function runTestCase(pipelinePath: string, testCase: TestCase): Promise<string[]> {
  const compilation = compilePipelineFile(pipelinePath, { ...process.env, ...testCase.env });
  const plan = compilation.plan;
  if (!plan) return locateAll(compilation.diagnostics, compilation.loaded.source).map(formatLine);

  const rows: ResultRow[] = [];
  const deadLetters: DeadLetter[] = [];
  // the rows as the sink that keeps the windows (else the first) makes them
  const { document } = stateSink(plan);
  const sink = new RowSink(
    plan,
    { emit: 'final', document },
    {
      async write(batch) {
        rows.push(...batch);
      },
      async close() {},
    },
  );
  const source = testSource(plan, testCase.input);
  if (typeof source === 'string') return [source];
  const parts = {
    source,
    sink,
    deadLetters: collectDeadLetters(deadLetters),
  };
  await new PipelineRun(plan, parts, silentLogger, new AbortController().signal).run();

  const problems = compareRows(plan, document, testCase.expect, rows, testCase.tolerance);
  if (testCase.deadLetters) {
    const sourceOf = (partition: string) => (partition === TEST_PARTITION ? '' : `${partition.slice(TEST_PARTITION.length + 1)}:`);
    const got = deadLetters.map((d) => `${d.reason}@${sourceOf(d.partition)}${d.offset}`).sort();
    const want = testCase.deadLetters.map((d) => `${d.reason}@${d.source === undefined ? '' : `${d.source}:`}${d.input}`).sort();
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      problems.push(`dead letters: expected [${want.join(', ')}], got [${got.join(', ')}] (reason@[source:]input index)`);
    }
  }
  return problems;
}

import { compilePipelineFile } from '../compiler/compile.js';
import { formatLine, locateAll } from '../config/print.js';
import { LocalRowSink } from '../components/sinks/local-rows.js';
import { PipelineRun } from '../engine/pipeline-run.js';
import type { Chunk, DeadLetter } from '../engine/records.js';
import type { ResultRow } from '../engine/rows.js';
import type { SourceRuntime } from '../engine/runtime.js';
import { silentLogger } from '../log.js';
import { compareRows } from './compare.js';
import type { TestCase } from './test-file.js';
import { collectDeadLetters } from '../components/dead-letters/memory.js';

/** The test's input as one partition: mappings become JSON text so decoding is tested too. */
class RecordsSource implements SourceRuntime {
  private done = false;

  constructor(private readonly records: unknown[]) {}

  async next(): Promise<Chunk[] | null> {
    if (this.done) return null;
    this.done = true;
    const payloads = this.records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r)));
    return [{ partition: 'test', offsets: payloads.map((_, i) => i), payloads }];
  }

  async commit(): Promise<void> {}
  async close(): Promise<void> {}
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
  const sink = new LocalRowSink(plan, 'final', {
    async write(batch) {
      rows.push(...batch);
    },
    async close() {},
  });
  const parts = {
    source: new RecordsSource(testCase.input),
    sink,
    deadLetters: collectDeadLetters(deadLetters),
  };
  await new PipelineRun(plan, parts, silentLogger, new AbortController().signal).run();

  const problems = compareRows(plan, testCase.expect, rows, testCase.tolerance);
  if (testCase.deadLetters) {
    const got = deadLetters.map((d) => `${d.reason}@${d.offset}`).sort();
    const want = testCase.deadLetters.map((d) => `${d.reason}@${d.input}`).sort();
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      problems.push(`dead letters: expected [${want.join(', ')}], got [${got.join(', ')}] (reason@input index)`);
    }
  }
  return problems;
}

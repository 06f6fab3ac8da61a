/**
 * One benchmark run, in its own process so peak RSS is this run's alone: the canonical
 * impressions pipeline (its filter, windows, keys and aggregates) reading a JSONL file into the
 * in-process store. Prints one JSON line with the figures.
 */
import { compilePipelineFile } from '../src/compiler/compile.js';
import { fileSource } from '../src/components/sources/file.js';
import { applyDefaults } from '../src/components/fragments.js';
import { RowSink } from '../src/components/sinks/row-sink.js';
import { assemble, closeParts } from '../src/cli/assemble.js';
import { PipelineRun } from '../src/engine/pipeline-run.js';
import { silentLogger } from '../src/log.js';
import { collectDeadLetters } from '../src/components/dead-letters/memory.js';

const [file, pipeline = 'pipelines/impressions.yaml'] = process.argv.slice(2);
const plan = compilePipelineFile(pipeline, {}).plan;
if (!plan || !file) throw new Error('usage: engine-run JSONL_FILE [PIPELINE]');

const signal = new AbortController().signal;
let rows = 0;
const context = { plan, logger: silentLogger, cwd: process.cwd(), signal };
const parts = await assemble(plan, silentLogger, signal, {
  source: await fileSource.create(applyDefaults(fileSource.config, { path: file }), context),
  sink: new RowSink(
    plan,
    { emit: 'final', document: plan.sinks[0].document },
    {
      async write(batch) {
        rows += batch.length;
      },
      async close() {},
    },
  ),
  deadLetters: collectDeadLetters(),
});
const started = process.hrtime.bigint();
const stats = await new PipelineRun(plan, parts, silentLogger, signal).run();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await closeParts(parts);
process.stdout.write(
  JSON.stringify({
    records: stats.records,
    seconds,
    recordsPerSecond: Math.round(stats.records / seconds),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    rows,
    batches: stats.batches,
    deadLetters: stats.deadLetters,
  }) + '\n',
);

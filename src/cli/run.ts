import { compilePipelineFile } from '../compiler/compile.js';
import { assemble, closeParts } from './assemble.js';
import { PipelineRun } from '../engine/pipeline-run.js';
import { RunnelError } from '../errors.js';
import { createLogger, registerSecrets } from '../log.js';
import { findComponent } from '../components/registry.js';
import { secretValues } from '../redact.js';
import type { Plan } from '../engine/plan.js';
import { Progress } from './progress.js';
import { printDiagnostics } from './report.js';
import type { FastifyInstance } from 'fastify';
import type { ServedPipeline } from '../serve/catalog.js';
import type { ServeOptions } from './serve.js';

/**
 * How long a stop may take. The first SIGINT or SIGTERM ends the batch being filled at the record
 * in hand, stores it and exits 0; when that has not happened within this time (a store waiting
 * for a database that is down, a start-up waiting for a broker), the run exits without storing
 * the batch, as a crash would: its offsets are uncommitted and its records are read again.
 */
export const STOP_GRACE_MS = 10_000;

/** Exit code of a run stopped by a signal before it could store its batch (128 + SIGINT, as shells use). */
const STOPPED_UNSTORED = 130;

/**
 * `runner run FILE`: compile, assemble the components, run the batch loop. A signal stops it (see
 * STOP_GRACE_MS); a second one exits at once.
 */
export async function runCommand(file: string, serve?: ServeOptions): Promise<number> {
  // Signals first: a stop asked for during start-up is honoured once the run begins, never fatal.
  const controller = new AbortController();
  let signals = 0;
  let logger = createLogger();
  let grace: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) process.exit(STOPPED_UNSTORED);
    logger.info({ signal }, 'stopping: storing the batch in hand (signal again to exit at once)');
    controller.abort();
    grace = setTimeout(() => {
      logger.warn(
        `not stopped within ${STOP_GRACE_MS / 1000} s: exiting now, as a crash would; whatever was read after the last commit is read again by the next run`,
      );
      process.exit(STOPPED_UNSTORED);
    }, STOP_GRACE_MS);
    grace.unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const compilation = compilePipelineFile(file);
    if (!compilation.plan) {
      printDiagnostics(compilation, process.stderr, Boolean(process.stderr.isTTY));
      return 1;
    }
    const plan = compilation.plan;
    registerSecrets(planSecrets(plan));
    logger = logger.child({ pipeline: plan.name });
    const parts = await assemble(plan, logger, controller.signal);
    const progress = new Progress(process.stderr, logger);
    const run = new PipelineRun(plan, parts, logger, controller.signal, (stats) => progress.update(stats));
    // the components are connected: from here a stop stores the batch in hand
    logger.info(
      { sources: plan.sources.map((s) => `${s.label} (${s.name})`), sinks: plan.sinks.map((s) => `${s.label} (${s.name})`) },
      'running',
    );
    let served: { app: FastifyInstance; pipeline: ServedPipeline } | undefined;
    try {
      if (serve) {
        // loaded only with --serve: a plain run loads neither Fastify nor the reader
        const { servePipeline } = await import('../serve/catalog.js');
        const { startServer } = await import('./serve.js');
        const pipeline = await servePipeline(
          plan,
          () => run.status(),
          { onError: (err) => logger.warn({ err: err.message }, 'refreshing the cached rollups failed; retrying') },
          logger,
        );
        served = { pipeline, app: await startServer([pipeline], serve, logger) };
      }
      const stats = await run.run();
      progress.done(stats);
    } finally {
      await served?.app.close();
      await served?.pipeline.reader?.close().catch(() => undefined);
      await closeParts(parts);
    }
    return 0;
  } catch (err) {
    if (err instanceof RunnelError) {
      logger.error(err.message);
      return err.exitCode;
    }
    logger.error({ err }, `run failed: ${(err as Error).message}`);
    return 1;
  } finally {
    clearTimeout(grace);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The credentials in a plan's components, for the logs to scrub. */
function planSecrets(plan: Plan): string[] {
  return (
    [
      ...plan.sources.map((source) => ['source', source] as const),
      ...plan.sinks.map((sink) => ['sink', sink] as const),
      ['deadLetter', plan.deadLetter],
    ] as const
  ).flatMap(([slot, use]) => secretValues(use.config, findComponent(slot, use.name)?.config));
}

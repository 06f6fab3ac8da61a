import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Plan } from '../engine/plan.js';
import { RunnelError } from '../errors.js';
import { createLogger } from '../log.js';
import type { ServedPipeline } from '../serve/catalog.js';
import { printDiagnostics } from './report.js';

export interface ServeOptions {
  port: number;
  host: string;
}

/** Starts the serving layer on host:port; resolves once it listens. */
export async function startServer(pipelines: ServedPipeline[], options: ServeOptions, logger: Logger): Promise<FastifyInstance> {
  const { buildServer } = await import('../serve/app.js');
  const app = await buildServer({ pipelines });
  try {
    await app.listen({ port: options.port, host: options.host });
  } catch (error) {
    await app.close().catch(() => undefined);
    throw new RunnelError(`cannot listen on ${options.host}:${options.port}: ${(error as Error).message}`);
  }
  const address = app.server.address();
  const where =
    typeof address === 'object' && address
      ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
      : String(address);
  logger.info({ url: where, pipelines: pipelines.map((p) => p.plan.name) }, `serving the API, metrics and dashboard on ${where}`);
  return app;
}

/** `runner serve [pipelines/]`: the query API, /metrics and the dashboard over the pipelines' stores, until a signal. */
export async function serveCommand(target: string, options: ServeOptions): Promise<number> {
  const logger = createLogger();
  let pipelines: ServedPipeline[] = [];
  try {
    const { loadPlans, servePipeline } = await import('../serve/catalog.js');
    const { plans, failed } = loadPlans(target);
    for (const compilation of failed) printDiagnostics(compilation, process.stderr, Boolean(process.stderr.isTTY));
    if (failed.length > 0) return 1;
    if (plans.length === 0) throw new RunnelError(`no pipeline files in ${target}`, 2);
    const onError = (plan: Plan) => (err: Error) =>
      logger.warn({ pipeline: plan.name, err: err.message }, 'refreshing the cached rollups failed; retrying');
    pipelines = await Promise.all(plans.map((plan) => servePipeline(plan, undefined, { onError: onError(plan) }, logger)));
    const app = await startServer(pipelines, options, logger);
    await new Promise<void>((resolve) => {
      let signals = 0;
      const stop = (signal: NodeJS.Signals) => {
        if (++signals > 1) process.exit(130);
        logger.info({ signal }, 'stopping the server (signal again to exit at once)');
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await app.close();
    return 0;
  } catch (err) {
    if (err instanceof RunnelError) {
      logger.error(err.message);
      return err.exitCode;
    }
    logger.error({ err }, `serve failed: ${(err as Error).message}`);
    return 1;
  } finally {
    for (const p of pipelines) await p.reader?.close().catch(() => undefined);
  }
}

import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { metrics } from '../metrics.js';
import type { ServedPipeline } from './catalog.js';
import { BadRequest } from './query.js';
import { apiRoutes } from './routes/api.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { opsRoutes } from './routes/ops.js';
import { didYouMean } from '../schema/suggest.js';

export interface ServeOptions {
  pipelines: readonly ServedPipeline[];
}

/** One ajv error as a sentence naming the query parameter it is about. */
function describeValidation(
  error: { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> },
  known: readonly string[],
): string {
  const parameter = error.instancePath.replace(/^\//, '');
  if (error.keyword === 'additionalProperties') {
    const name = String(error.params.additionalProperty);
    const hint = didYouMean(name, known);
    return `unknown query parameter \`${name}\`${hint ? ` (${hint})` : `; known: ${known.join(', ')}`}`;
  }
  if (error.keyword === 'required') return `query parameter \`${String(error.params.missingProperty)}\` is required`;
  if (error.keyword === 'enum') {
    return `query parameter \`${parameter}\` must be one of ${(error.params.allowedValues as unknown[]).map((v) => `\`${String(v)}\``).join(', ')}`;
  }
  if (error.keyword === 'pattern' && parameter === 'fields') {
    return "query parameter `fields` must be a comma-separated list of the pipeline's aggregates";
  }
  if (error.keyword === 'pattern' && (parameter === 'from' || parameter === 'to')) {
    return `query parameter \`${parameter}\` must be ISO 8601 (2026-01-01T00:00:00Z), epoch milliseconds, \`now\` or \`now-24h\``;
  }
  if (error.keyword === 'pattern' && parameter === 'granularity') {
    return 'query parameter `granularity` must be a duration such as `1m`, `1h` or `1d`';
  }
  return `query parameter \`${parameter}\` ${error.message ?? 'is invalid'}`;
}

/**
 * The serving layer: a Fastify app with one plugin per route group (the query API and its
 * OpenAPI document, health and Prometheus metrics, the dashboard). Every query parameter is
 * validated by Fastify's JSON Schema support (ajv, nothing coerced away or dropped silently).
 */
export async function buildServer(options: ServeOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    // a stop closes idle keep-alive connections instead of waiting for clients to hang up
    forceCloseConnections: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false } },
    schemaErrorFormatter(errors, dataVar) {
      const known = [
        ...new Set([
          'from',
          'to',
          'granularity',
          'fields',
          'format',
          'field',
          'by',
          'limit',
          ...options.pipelines.flatMap((p) => p.plan.groupBy.map((k) => k.name)),
        ]),
      ];
      const message = errors.length > 0 ? describeValidation(errors[0], known) : `${dataVar} is invalid`;
      const params = errors[0]?.params as { additionalProperty?: string; missingProperty?: string } | undefined;
      return new BadRequest(
        (errors[0]?.instancePath ?? '').replace(/^\//, '') || (params?.additionalProperty ?? params?.missingProperty ?? dataVar),
        message,
      );
    },
  });

  app.setErrorHandler((error: FastifyError | BadRequest, request, reply) => {
    if (error instanceof BadRequest) {
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: error.message, parameter: error.parameter });
    }
    const status = error.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ statusCode: status, error: 'Bad Request', message: error.message });
    }
    // the store did not answer: the API is up, its data is not
    request.log.error(error);
    return reply
      .code(503)
      .send({ statusCode: 503, error: 'Service Unavailable', message: `could not read the stored windows: ${error.message}` });
  });

  app.addHook('onResponse', async (request, reply) => {
    metrics.httpSeconds.observe(
      { route: request.routeOptions.url ?? 'unknown', method: request.method, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(apiRoutes, { pipelines: options.pipelines });
  await app.register(opsRoutes, { pipelines: options.pipelines });
  await app.register(dashboardRoutes);
  return app;
}

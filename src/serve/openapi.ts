import type { JsonSchema } from '../json-schema.js';
import type { ServedPipeline } from './catalog.js';
import { seriesQuerySchema, topQuerySchema } from './params.js';

function parameters(schema: JsonSchema): JsonSchema[] {
  const required = (schema.required as string[] | undefined) ?? [];
  return Object.entries(schema.properties as Record<string, JsonSchema>).map(([name, s]) => {
    const { description, ...rest } = s;
    return { name, in: 'query', required: required.includes(name), description, schema: rest };
  });
}

const errorResponse = (description: string): JsonSchema => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/** The OpenAPI 3.1 document of the API, from the same querystring schemas Fastify validates with. */
export function openApiDocument(pipelines: readonly ServedPipeline[]): JsonSchema {
  const paths: Record<string, JsonSchema> = {
    '/api/pipelines': {
      get: {
        summary: 'The served pipelines: sinks, granularities, fields, stored extent and live status (last batch, watermark, lag).',
        responses: { '200': { description: 'The pipelines.', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
    '/healthz': {
      get: {
        summary: "Liveness, and whether each pipeline's store answers.",
        responses: { '200': { description: 'Healthy.' }, '503': { description: 'A store does not answer.' } },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics (text exposition format).',
        responses: { '200': { description: 'Metrics.', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
  };
  for (const { plan, levels } of pipelines) {
    const both = { 'application/json': { schema: { type: 'object' } }, 'text/csv': { schema: { type: 'string' } } };
    paths[`/api/pipelines/${plan.name}/series`] = {
      get: {
        summary: `Time series of ${plan.name}, read from the best stored level (${levels.map((l) => l.label).join(', ')}), finer levels merged into coarser points.`,
        parameters: parameters(seriesQuerySchema(plan, levels)),
        responses: {
          '200': { description: 'One point per period.', content: both },
          '400': errorResponse('A parameter is invalid; `parameter` names it.'),
          '409': errorResponse('The pipeline keeps nothing to query.'),
        },
      },
    };
    paths[`/api/pipelines/${plan.name}/top`] = {
      get: {
        summary: `Top values of a group key of ${plan.name} by an aggregate over a range (states merged over the range and the other keys).`,
        parameters: parameters(topQuerySchema(plan)),
        responses: {
          '200': { description: 'The top values, largest first.', content: both },
          '400': errorResponse('A parameter is invalid; `parameter` names it.'),
          '409': errorResponse('The pipeline keeps nothing to query.'),
        },
      },
    };
  }
  paths['/api/pipelines/{name}/series'] = {
    get: {
      summary: 'Any other pipeline name.',
      parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '404': errorResponse('Unknown pipeline.') },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Runnel serving API',
      version: '1',
      description: 'Read the aggregates that Runnel pipelines store: time series and top-N, merged from mergeable states.',
    },
    paths,
    components: {
      schemas: {
        Error: {
          type: 'object',
          properties: {
            statusCode: { type: 'integer' },
            error: { type: 'string' },
            message: { type: 'string' },
            parameter: { type: 'string' },
          },
          required: ['statusCode', 'message'],
        },
      },
    },
  };
}

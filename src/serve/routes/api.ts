import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formatDuration } from '../../config/duration.js';
import { redactConfig } from '../../redact.js';
import { findComponent } from '../../components/registry.js';
import { stateSink } from '../../engine/plan.js';
import { didYouMean } from '../../schema/suggest.js';
import type { ServedPipeline } from '../catalog.js';
import { CachedReader, type HeldLevel } from '../cache.js';
import { openApiDocument } from '../openapi.js';
import { granularity, seriesQuerySchema, timeRange, topQuerySchema } from '../params.js';
import { BadRequest, keyFilters, querySeries, queryTop } from '../query.js';
import { outputNames, selectOutputs } from '../outputs.js';

type Query = Record<string, string | number | undefined>;

function wantsCsv(request: FastifyRequest, format: unknown): boolean {
  if (format === 'csv') return true;
  if (format === 'json') return false;
  return /\btext\/csv\b/.test(request.headers.accept ?? '');
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text =
    typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n';
}

/** The live status: the run in this process, else what a runner published to the store. */
async function statusOf(pipeline: ServedPipeline): Promise<Record<string, unknown> | null> {
  const status = pipeline.liveStatus?.() ?? (await pipeline.reader?.publishedStatus().catch(() => null)) ?? null;
  if (!status) return null;
  return {
    ...status,
    watermark: status.watermark === null ? null : new Date(status.watermark).toISOString(),
    lastBatchAt: status.lastBatchAt === null ? null : new Date(status.lastBatchAt).toISOString(),
    startedAt: new Date(status.startedAt).toISOString(),
    updatedAt: new Date(status.updatedAt).toISOString(),
    totalLag: Object.values(status.lag).reduce((a, b) => a + b, 0),
    source: pipeline.liveStatus ? 'this process' : 'published by the runner',
  };
}

/** What the server holds of a level: documents and windows, the oldest window held, and whether its newest span is still being read. */
function inMemory(held: HeldLevel | undefined): Record<string, unknown> | null {
  if (!held) return null;
  return { ...held, from: held.from === null ? null : new Date(held.from).toISOString() };
}

async function describe(pipeline: ServedPipeline): Promise<Record<string, unknown>> {
  const { plan } = pipeline;
  const held = pipeline.reader instanceof CachedReader ? pipeline.reader.held() : {};
  const extent = pipeline.reader ? await pipeline.reader.extent().catch(() => null) : null;
  return {
    name: plan.name,
    description: plan.description ?? null,
    queryable: pipeline.reader !== undefined,
    // answering from the first request on; "warming" while the newest windows are read in the background
    serving: pipeline.reader instanceof CachedReader ? (pipeline.reader.warming() ? 'warming' : 'ready') : null,
    ...(pipeline.notQueryable ? { notQueryable: pipeline.notQueryable } : {}),
    // every sink, and which one the queries read (the one that keeps the windows)
    sinks: plan.sinks.map((s) => ({
      name: s.label,
      component: s.name,
      config: redactConfig(s.config, findComponent('sink', s.name)!.config),
      queried: pipeline.reader !== undefined && s === stateSink(plan),
    })),
    window: formatDuration(plan.window.sizeMs),
    granularities: pipeline.levels.map((l, i) => ({
      label: l.label,
      sizeMs: l.sizeMs,
      stored: i === 0 ? 'base windows' : 'rollup',
      where: l.where,
      inMemory: inMemory(held[l.label]),
    })),
    groupBy: plan.groupBy.map((k) => k.name),
    fields: [
      ...plan.aggregates.map((a) => ({ name: a.name, aggregation: a.kind.name, state: a.kind.describeState(a.options) })),
      ...plan.derived.map((d) => ({ name: d.name, aggregation: 'derived', expression: d.expression.source })),
    ],
    extent: extent && { from: new Date(extent.first).toISOString(), to: new Date(extent.last).toISOString() },
    status: await statusOf(pipeline),
    links: { series: `/api/pipelines/${plan.name}/series`, top: `/api/pipelines/${plan.name}/top` },
  };
}

/** The query API: the pipeline list, series and top-N per pipeline, and the OpenAPI document. */
export async function apiRoutes(app: FastifyInstance, options: { pipelines: readonly ServedPipeline[] }): Promise<void> {
  const { pipelines } = options;
  const names = pipelines.map((p) => p.plan.name);

  app.get('/api/pipelines', async () => ({ pipelines: await Promise.all(pipelines.map(describe)) }));

  for (const pipeline of pipelines) {
    const { plan } = pipeline;
    const requireReader = () => {
      if (!pipeline.reader) throw Object.assign(new Error(pipeline.notQueryable), { statusCode: 409 });
      return pipeline.reader;
    };

    app.get(`/api/pipelines/${plan.name}`, async () => describe(pipeline));

    app.get(
      `/api/pipelines/${plan.name}/series`,
      { schema: { querystring: seriesQuerySchema(plan, pipeline.levels) } },
      async (request, reply) => {
        const q = request.query as Query;
        const reader = requireReader();
        const { from, to } = timeRange(q);
        const granularityMs = granularity(q.granularity as string | undefined, pipeline.levels, from, to);
        const fields = typeof q.fields === 'string' ? [...new Set(q.fields.split(','))] : outputNames(plan);
        const outputs = selectOutputs(plan, fields);
        const filters = keyFilters(plan, q);
        const keys = Object.fromEntries([...filters].map(([i, v]) => [plan.groupBy[i].name, v]));
        const series = await querySeries(reader, { from, to, granularityMs, filters, aggregates: outputs.aggregates });
        const result = { ...series, points: series.points.map((p) => ({ time: p.time, values: outputs.values(p.values, keys) })) };
        if (wantsCsv(request, q.format)) {
          return reply.type('text/csv; charset=utf-8').send(
            csv(
              ['time', ...fields],
              result.points.map((p) => [new Date(p.time).toISOString(), ...p.values]),
            ),
          );
        }
        return {
          pipeline: plan.name,
          granularity: formatDuration(granularityMs),
          level: result.level.label,
          from: new Date(result.from).toISOString(),
          to: new Date(result.to).toISOString(),
          filters: Object.fromEntries([...filters].map(([i, v]) => [plan.groupBy[i].name, v])),
          fields,
          documents: result.documents,
          points: result.points.map((p) => ({
            time: new Date(p.time).toISOString(),
            ...Object.fromEntries(fields.map((f, i) => [f, p.values[i]])),
          })),
        };
      },
    );

    app.get(`/api/pipelines/${plan.name}/top`, { schema: { querystring: topQuerySchema(plan) } }, async (request, reply) => {
      const q = request.query as Query;
      const reader = requireReader();
      const { from, to } = timeRange(q);
      const field = { name: String(q.field) };
      const by = plan.groupBy.findIndex((k) => k.name === q.by);
      const filters = keyFilters(plan, q);
      if (filters.has(by)) throw new BadRequest(String(q.by), `cannot rank \`${q.by}\` while filtering it to one value`);
      const outputs = selectOutputs(plan, [field.name]);
      const keys = Object.fromEntries([...filters].map(([i, v]) => [plan.groupBy[i].name, v]));
      const rankedBy = (results: readonly unknown[], value: unknown) => outputs.values(results, { ...keys, [String(q.by)]: value })[0];
      const result = await queryTop(reader, {
        from,
        to,
        aggregates: outputs.aggregates,
        rankedBy,
        by,
        filters,
        limit: Number(q.limit ?? 10),
      });
      if (wantsCsv(request, q.format)) {
        return reply.type('text/csv; charset=utf-8').send(
          csv(
            ['rank', String(q.by), field.name],
            result.rows.map((r, i) => [i + 1, r.value, r.result]),
          ),
        );
      }
      return {
        pipeline: plan.name,
        field: field.name,
        by: q.by,
        from: new Date(result.from).toISOString(),
        to: new Date(result.to).toISOString(),
        filters: Object.fromEntries([...filters].map(([i, v]) => [plan.groupBy[i].name, v])),
        levels: result.levels.map((p) => ({
          level: p.level.label,
          from: new Date(p.from).toISOString(),
          to: new Date(p.to).toISOString(),
        })),
        documents: result.documents,
        top: result.rows.map((r, i) => ({ rank: i + 1, [String(q.by)]: r.value, [field.name]: r.result })),
      };
    });
  }

  // Known pipelines have their own static routes; anything else under /api/pipelines/ is unknown.
  const unknown = async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
    const { name } = request.params;
    const hint = didYouMean(name, names);
    return reply.code(404).send({
      statusCode: 404,
      error: 'Not Found',
      message: `unknown pipeline \`${name}\`${hint ? ` (${hint})` : names.length > 0 ? `; served: ${names.join(', ')}` : ''}`,
    });
  };
  app.get('/api/pipelines/:name', unknown);
  app.get('/api/pipelines/:name/series', unknown);
  app.get('/api/pipelines/:name/top', unknown);

  const openapi = openApiDocument(pipelines);
  app.get('/api/openapi.json', async () => openapi);
}

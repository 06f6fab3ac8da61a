import type { FastifyInstance } from 'fastify';
import { registry } from '../../metrics.js';
import type { ServedPipeline } from '../catalog.js';

/** `/healthz` (the process, and whether each pipeline's store answers) and `/metrics` (Prometheus). */
export async function opsRoutes(app: FastifyInstance, options: { pipelines: readonly ServedPipeline[] }): Promise<void> {
  app.get('/healthz', async (_request, reply) => {
    const checks = await Promise.all(
      options.pipelines.map(async (p) => {
        if (!p.reader) return [p.plan.name, 'not stored'] as const;
        try {
          await p.reader.ping();
          return [p.plan.name, 'ok'] as const;
        } catch (error) {
          return [p.plan.name, `store unreachable: ${(error as Error).message}`] as const;
        }
      }),
    );
    const healthy = checks.every(([, state]) => state === 'ok' || state === 'not stored');
    return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'degraded', pipelines: Object.fromEntries(checks) });
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

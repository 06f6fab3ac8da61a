import type { FastifyInstance } from 'fastify';
import { registry } from '../../metrics.js';
import type { ServedPipeline } from '../catalog.js';
import { CachedReader } from '../cache.js';

/**
 * `/healthz` (the process, and whether each pipeline's store answers: `ok`, `warming` while the
 * newest windows are read after a start, both 200) and `/metrics` (Prometheus).
 */
export async function opsRoutes(app: FastifyInstance, options: { pipelines: readonly ServedPipeline[] }): Promise<void> {
  app.get('/healthz', async (_request, reply) => {
    const checks = await Promise.all(
      options.pipelines.map(async (p) => {
        if (!p.reader) return [p.plan.name, 'not stored'] as const;
        try {
          await p.reader.ping();
          // it answers queries while warming: the newest windows are still being read into memory
          return [p.plan.name, p.reader instanceof CachedReader && p.reader.warming() ? 'warming' : 'ok'] as const;
        } catch (error) {
          return [p.plan.name, `store unreachable: ${(error as Error).message}`] as const;
        }
      }),
    );
    const healthy = checks.every(([, state]) => state === 'ok' || state === 'warming' || state === 'not stored');
    const warming = checks.some(([, state]) => state === 'warming');
    return reply
      .code(healthy ? 200 : 503)
      .send({ status: healthy ? (warming ? 'warming' : 'ok') : 'degraded', pipelines: Object.fromEntries(checks) });
  });

  app.get('/metrics', async (_request, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}

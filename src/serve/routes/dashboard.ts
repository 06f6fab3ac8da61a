import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { FastifyInstance } from 'fastify';

const require = createRequire(import.meta.url);
/** The page lives in src/serve/static (not compiled); this module runs from dist/src/serve/routes. */
const STATIC = new URL('../../../../src/serve/static/', import.meta.url);

function load(path: string | URL): string {
  return readFileSync(path, 'utf8');
}

/** `/`: the dashboard page, its script, and uPlot served from the npm package (no CDN). */
export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  const files: Record<string, { type: string; body: string }> = {
    '/': { type: 'text/html; charset=utf-8', body: load(new URL('index.html', STATIC)) },
    '/dashboard.js': { type: 'text/javascript; charset=utf-8', body: load(new URL('dashboard.js', STATIC)) },
    '/vendor/uplot.js': { type: 'text/javascript; charset=utf-8', body: load(require.resolve('uplot/dist/uPlot.iife.min.js')) },
    '/vendor/uplot.css': { type: 'text/css; charset=utf-8', body: load(require.resolve('uplot/dist/uPlot.min.css')) },
  };
  for (const [path, file] of Object.entries(files)) {
    app.get(path, async (_request, reply) => reply.type(file.type).header('cache-control', 'no-cache').send(file.body));
  }
}

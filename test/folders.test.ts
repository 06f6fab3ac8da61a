/**
 * The folders of src/ form layers: no folder imports a folder that imports it back, directly or
 * through others. Files at the top of src/ (errors, logging, redaction, metrics) each count as a
 * floor of their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../src/', import.meta.url));
const IMPORT = /(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** `engine` for src/engine/..., the file itself for a file at the top of src/. */
function floor(path: string): string {
  const parts = relative(src, path).split(sep);
  return parts.length > 1 ? parts[0] : parts[0].replace(/\.ts$/, '');
}

/** Folder -> folder it imports -> one import that shows it (for the message). */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sources(src)) {
    const from = floor(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const to = floor(normalize(join(dirname(file), spec)));
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      if (!graph.get(from)!.has(to)) graph.get(from)!.set(to, `${relative(src, file)} imports ${spec}`);
    }
  }
  return graph;
}

/** Every cycle through the graph, each as the path of imports that closes it. */
function cycles(graph: Map<string, Map<string, string>>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (state.get(next) === 'open') {
        const loop = [...path.slice(path.indexOf(next)), next];
        found.push(
          loop
            .slice(1)
            .map((to, i) => graph.get(loop[i])!.get(to)!)
            .join('; '),
        );
      } else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

test('no folder of src/ imports a folder that imports it back', () => {
  const graph = folderGraph();
  assert.ok(graph.get('engine')?.size, 'the graph was read');
  assert.deepEqual(cycles(graph), []);
});

test('the cycle check finds a cycle when there is one', () => {
  const graph = new Map([
    ['engine', new Map([['components', 'engine/a.ts imports ../components/b.js']])],
    ['components', new Map([['schema', 'components/b.ts imports ../schema/c.js']])],
    ['schema', new Map([['engine', 'schema/c.ts imports ../engine/a.js']])],
  ]);
  // found from the first folder in name order
  assert.deepEqual(cycles(graph), [
    'components/b.ts imports ../schema/c.js; schema/c.ts imports ../engine/a.js; engine/a.ts imports ../components/b.js',
  ]);
});

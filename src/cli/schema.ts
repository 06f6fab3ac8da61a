import { readFileSync, writeFileSync } from 'node:fs';
import { buildPipelineSchema } from '../schema/pipeline-schema.js';
import { withReference } from '../docs/reference.js';
import { renderPipelineValidator } from '../schema/standalone.js';

export function renderSchema(): string {
  return JSON.stringify(buildPipelineSchema(), null, 2) + '\n';
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * `runner schema`: prints the pipeline JSON Schema. `--write FILE` stores it, `--readme FILE`
 * refreshes README's generated reference and `--validator FILE` writes the schema's precompiled
 * validator module; with `--check` nothing is written and stale files fail.
 */
export function schemaCommand(options: { write?: string; readme?: string; validator?: string; check?: boolean }): number {
  const outputs: [string, string][] = [];
  if (options.write) outputs.push([options.write, renderSchema()]);
  if (options.readme) outputs.push([options.readme, withReference(readOrEmpty(options.readme))]);
  if (options.validator) outputs.push([options.validator, renderPipelineValidator()]);
  if (outputs.length === 0) {
    process.stdout.write(renderSchema());
    return 0;
  }
  let stale = 0;
  for (const [path, text] of outputs) {
    if (!options.check) writeFileSync(path, text);
    else if (readOrEmpty(path) !== text) {
      process.stderr.write(`${path} is stale: run \`npm run schema\` and commit the result\n`);
      stale++;
    }
  }
  return stale > 0 ? 1 : 0;
}

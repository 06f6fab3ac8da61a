import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderSchema } from '../../src/cli/schema.js';
import { withReference } from '../../src/docs/reference.js';
import { renderPipelineValidator } from '../../src/schema/standalone.js';

const root = new URL('../../../', import.meta.url);

test('the committed schemas/pipeline.schema.json is what the registry generates', () => {
  const committed = readFileSync(new URL('schemas/pipeline.schema.json', root), 'utf8');
  assert.equal(committed, renderSchema(), 'stale schema: run `npm run schema` and commit the result');
});

test("README's generated reference is what the registry generates", () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  assert.equal(readme, withReference(readme), 'stale README reference: run `npm run schema` and commit the result');
});

test('the committed precompiled pipeline validator is what ajv generates from the registry', () => {
  const committed = readFileSync(new URL('src/schema/pipeline-validator.generated.ts', root), 'utf8');
  assert.ok(committed === renderPipelineValidator(), 'stale pipeline validator: run `npm run schema` and commit the result');
});

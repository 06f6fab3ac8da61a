import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { renderSchema } from '../../src/cli/schema.js';
import { withReference } from '../../src/docs/reference.js';

const root = new URL('../../../', import.meta.url);

test('the committed schemas/pipeline.schema.json is what the registry generates', () => {
  const committed = readFileSync(new URL('schemas/pipeline.schema.json', root), 'utf8');
  assert.equal(committed, renderSchema(), 'stale schema: run `npm run schema` and commit the result');
});

test("README's generated reference is what the registry generates", () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  assert.equal(readme, withReference(readme), 'stale README reference: run `npm run schema` and commit the result');
});

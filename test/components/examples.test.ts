import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { parsePipelineText } from '../../src/config/load.js';
import { compileLoaded } from '../../src/compiler/compile.js';
import { components } from '../../src/components/registry.js';
import type { Slot } from '../../src/components/spec.js';
import { exampleEnvironment, pipelineWith, slotUse } from '../helpers/pipeline.js';

const root = new URL('../../../', import.meta.url);

for (const [slot, specs] of Object.entries(components) as [Slot, (typeof components)[Slot]][]) {
  for (const spec of specs) {
    for (const example of spec.examples) {
      test(`${slot} ${spec.name} example "${example.title}" validates through the pipeline schema`, () => {
        const compiled = compileLoaded(parsePipelineText(`${spec.name}.yaml`, pipelineWith(slot, example.yaml), exampleEnvironment));
        assert.deepEqual(compiled.diagnostics, []);
        assert.equal(slot === 'window' ? compiled.plan!.window.kind : slotUse(compiled.plan!, slot).name, spec.name);
      });
    }
  }
}

test('every shipped pipeline validates without errors or warnings', () => {
  const dir = new URL('pipelines/', root);
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml'));
  assert.ok(files.includes('impressions.yaml') && files.includes('impressions-local.yaml'));
  for (const file of files) {
    const compiled = compileLoaded(parsePipelineText(file, readFileSync(new URL(file, dir), 'utf8'), {}));
    assert.deepEqual(compiled.diagnostics, [], file);
  }
});

test('every YAML pipeline in README validates', () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => /^name: /m.test(b));
  assert.ok(blocks.length >= 1, 'README shows at least one whole pipeline');
  for (const block of blocks) {
    assert.deepEqual(compileLoaded(parsePipelineText('README.md', block, {})).diagnostics, []);
  }
});

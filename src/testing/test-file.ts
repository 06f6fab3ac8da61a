import { dirname, resolve } from 'node:path';
import { loadPipelineFile, type LoadedPipeline } from '../config/load.js';
import type { JsonSchema } from '../json-schema.js';
import { validateDocument } from '../schema/validate.js';

/** The schema of a pipeline test file (`*.test.yaml`): input records and the rows expected from them. */
export const testFileSchema: JsonSchema = {
  type: 'object',
  required: ['pipeline', 'tests'],
  additionalProperties: false,
  properties: {
    pipeline: { type: 'string', minLength: 1, description: 'The pipeline under test, relative to this file.' },
    tests: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name', 'input', 'expect'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, description: 'What the test shows.' },
          env: { type: 'object', additionalProperties: { type: 'string' }, description: 'Environment variables for the pipeline.' },
          input: {
            description:
              'Records in arrival order: mappings, or strings taken as raw payload text (to test bad input). For a pipeline of `sources:`, a map of source name to its records.',
            oneOf: [
              { type: 'array', items: { type: ['object', 'string'] } },
              { type: 'object', minProperties: 1, additionalProperties: { type: 'array', items: { type: ['object', 'string'] } } },
            ],
          },
          expect: {
            type: 'array',
            description: "Every result row, as the sink's document mapping names its fields; order does not matter.",
            items: { type: 'object' },
          },
          tolerance: {
            type: 'object',
            description: 'Relative tolerance per field (0.02 = 2%); approximate aggregates default to 0.02.',
            additionalProperties: { type: 'number', minimum: 0 },
          },
          deadLetters: {
            type: 'array',
            description:
              "The records expected to be rejected: their reason and their index in `input` (with `source`, in that source's records).",
            items: {
              type: 'object',
              required: ['reason', 'input'],
              additionalProperties: false,
              properties: { reason: { type: 'string' }, source: { type: 'string' }, input: { type: 'integer', minimum: 0 } },
            },
          },
        },
      },
    },
  },
};

export interface TestCase {
  name: string;
  env?: Record<string, string>;
  /** A map by source name for a pipeline of `sources:`. */
  input: unknown[] | Record<string, unknown[]>;
  expect: Record<string, unknown>[];
  tolerance?: Record<string, number>;
  deadLetters?: { reason: string; source?: string; input: number }[];
}

export interface TestFile {
  loaded: LoadedPipeline;
  pipelinePath?: string;
  tests: TestCase[];
}

export function loadTestFile(path: string): TestFile {
  const loaded = loadPipelineFile(path);
  if (!loaded.doc || !loaded.value || loaded.diagnostics.length > 0) return { loaded, tests: [] };
  loaded.diagnostics.push(...validateDocument(testFileSchema, loaded.value, loaded.doc));
  if (loaded.diagnostics.length > 0) return { loaded, tests: [] };
  const value = loaded.value as { pipeline: string; tests: TestCase[] };
  return { loaded, pipelinePath: resolve(dirname(path), value.pipeline), tests: value.tests };
}

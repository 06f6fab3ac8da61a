/**
 * The body of the validator fuzz test (validator-fuzz.test.ts), run in a worker thread so that a
 * case that hangs can be stopped and reported: it posts each case before checking it.
 *
 * Every file of pipelines/ is mutated: keys deleted or added, values replaced by values of other
 * types, random strings, expressions and environment references, and the text cut, spliced and
 * re-indented. Whatever comes out, validation must return diagnostics located inside the text (or
 * a plan), never throw; a plan must also explain without throwing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readFileSync, readdirSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'yaml';
import { parsePipelineText } from '../../src/config/load.js';
import { compileLoaded, hasErrors } from '../../src/compiler/compile.js';
import { describePlan, formatStages } from '../../src/compiler/describe.js';
import { locateAll } from '../../src/config/print.js';
import { validateAgainstSchema, validateDocument } from '../../src/schema/validate.js';
import { buildPipelineSchema } from '../../src/schema/pipeline-schema.js';
import { testFileSchema } from '../../src/testing/test-file.js';
import type { Diagnostic } from '../../src/errors.js';

const { folder, runs, seed } = workerData as { folder: string; runs: number; seed: number };

type Path = (string | number)[];

/** Every path to a value in a document, the root included. */
function paths(value: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...at, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...at, k]));
  return out;
}

function parentOf(doc: unknown, path: Path): [Record<string | number, unknown> | undefined, string | number | undefined] {
  if (path.length === 0) return [undefined, undefined];
  let node = doc as Record<string | number, unknown>;
  for (const step of path.slice(0, -1)) node = node[step] as Record<string | number, unknown>;
  return [node, path[path.length - 1]];
}

const KEYS = [
  'name',
  'source',
  'batch',
  'limits',
  'time',
  'filter',
  'fields',
  'window',
  'groupBy',
  'missingKeys',
  'aggregate',
  'sink',
  'document',
  'deadLetter',
  'kafka',
  'file',
  'generator',
  'stdin',
  'mongodb',
  'console',
  'tumbling',
  'sliding',
  'size',
  'every',
  'interval',
  'maxRecords',
  'field',
  'format',
  'maxOutOfOrder',
  'allowedLateness',
  'maxFuture',
  'maxPast',
  'maxRecordBytes',
  'maxDepth',
  'expressionTimeout',
  'count',
  'sum',
  'avg',
  'distinct',
  'approxDistinct',
  'quantile',
  'q',
  'precision',
  'path',
  'uri',
  'brokers',
  'topics',
  'group',
  'sasl',
  'password',
  'tests',
  'input',
  'expect',
  'pipeline',
  'deadLetters',
  'reason',
  '__proto__',
  'constructor',
  'toString',
  '$',
  '',
];

const STRINGS = [
  '',
  ' ',
  '0s',
  '1m',
  '-1s',
  '1.5h',
  '99999999999999999999999d',
  '36501d',
  '1e3s',
  'count',
  'avg',
  'distinct',
  'q',
  '${X}',
  '${X:-1}',
  '${X:-}',
  '$${',
  '${',
  '${1BAD}',
  '${A}${B:-x}',
  'geo != ',
  'geo = "US"',
  '$eval(x)',
  '$lookup($, "a")',
  '(',
  ')',
  '"',
  "'",
  '[',
  '{',
  'a.b.c',
  '$$',
  '$',
  'window.start',
  'publisher',
  'null',
  '~',
  '.inf',
  '-.inf',
  '.nan',
  'mongodb://u:p@h/db',
  'x'.repeat(300),
  '\u0000',
  '\ufeff',
  '\ud800',
  '🇺🇸',
  'é',
  'true',
  '0x10',
  '1e999',
];

const scalar = fc.oneof(
  fc.constantFrom(...STRINGS),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.integer(),
  fc.constantFrom(0, -1, 1, 2 ** 31, 2 ** 53, 1e308, -0, 0.5, Infinity, -Infinity, NaN),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const value = fc.oneof(
  { weight: 4, arbitrary: scalar },
  fc.array(scalar, { maxLength: 3 }),
  fc.dictionary(fc.constantFrom(...KEYS), scalar, { maxKeys: 3 }),
  fc.constant({}),
  fc.constant([]),
);

type Mutation =
  | { op: 'delete'; at: number }
  | { op: 'replace'; at: number; value: unknown }
  | { op: 'add'; at: number; key: string; value: unknown }
  | { op: 'rename'; at: number; key: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value }),
  fc.record({ op: fc.constant('add' as const), at: fc.nat(), key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })), value }),
  fc.record({ op: fc.constant('rename' as const), at: fc.nat(), key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })) }),
);

function mutate(original: unknown, mutations: Mutation[]): unknown {
  let doc: unknown = structuredClone(original);
  for (const generated of mutations) {
    // fast-check hands out the same values again (constants, shrinking): never change them
    const m = structuredClone(generated);
    const all = paths(doc);
    const path = all[m.at % all.length];
    const [parent, key] = parentOf(doc, path);
    const target = path.length === 0 ? doc : parent![key!];
    switch (m.op) {
      case 'delete':
        if (!parent) doc = null;
        else if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete parent[key!];
        break;
      case 'replace':
        if (!parent) doc = m.value;
        else parent[key!] = m.value;
        break;
      case 'add':
        if (Array.isArray(target)) target.push(m.value);
        else if (target !== null && typeof target === 'object')
          Object.defineProperty(target, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
        break;
      case 'rename':
        if (parent && !Array.isArray(parent) && m.key !== key) {
          Object.defineProperty(parent, m.key, { value: parent[key!], enumerable: true, configurable: true, writable: true });
          delete parent[key!];
        }
        break;
    }
  }
  return doc;
}

const SPLICES = [
  '',
  ':',
  ': ',
  '- ',
  '\n',
  '\n  ',
  '\t',
  '  ',
  '#',
  '&a ',
  '*a',
  '!!binary ',
  '!!js/function ',
  '%YAML 1.1\n',
  '---\n',
  '...\n',
  '? ',
  '|\n',
  '>-\n',
  '{',
  '}',
  '[',
  ']',
  ',',
  '"',
  "'",
  '\\',
  '${',
  '\u0000',
  '\ufeff',
  'é',
  '<<: *a\n',
];

type TextEdit = { op: 'truncate' | 'delete' | 'insert' | 'indent' | 'duplicate'; at: number; length: number; text: string };
const textEdit: fc.Arbitrary<TextEdit> = fc.record({
  op: fc.constantFrom('truncate', 'delete', 'insert', 'indent', 'duplicate'),
  at: fc.nat(),
  length: fc.nat({ max: 40 }),
  text: fc.oneof(fc.constantFrom(...SPLICES), fc.string({ maxLength: 6 })),
});

function edit(text: string, e: TextEdit): string {
  const at = text.length === 0 ? 0 : e.at % (text.length + 1);
  switch (e.op) {
    case 'truncate':
      return text.slice(0, at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + e.length);
    case 'insert':
      return text.slice(0, at) + e.text + text.slice(at);
    case 'indent': {
      const lineStart = text.lastIndexOf('\n', at - 1) + 1;
      return text.slice(0, lineStart) + ' '.repeat(e.length % 5) + text.slice(lineStart).replace(/^ {0,4}/, '');
    }
    case 'duplicate': {
      const lineStart = text.lastIndexOf('\n', at - 1) + 1;
      const lineEnd = text.indexOf('\n', at);
      const line = text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd + 1);
      return text.slice(0, lineStart) + line + text.slice(lineStart);
    }
  }
}

function checkLocated(diagnostics: readonly Diagnostic[], text: string, where: string): void {
  for (const d of diagnostics) {
    if (!d.range) throw new Error(`${where}: diagnostic without a location: ${JSON.stringify(d)}`);
    const [start, end] = d.range;
    if (!(start >= 0 && start <= end && end <= text.length))
      throw new Error(`${where}: range ${start}-${end} outside the text (${text.length}): ${d.message}`);
    if (typeof d.message !== 'string' || d.message.length === 0) throw new Error(`${where}: diagnostic without a message`);
  }
}

const ENVS: Record<string, string>[] = [{}, { X: '5', A: 'a', B: '', KAFKA_BROKERS: 'k:1', MONGODB_URI: 'mongodb://u:secret@h' }];

function check(file: string, text: string, env: Record<string, string>): void {
  parentPort!.postMessage({ kind: 'case', file, text });
  const loaded = parsePipelineText(file, text, env);
  if (file.endsWith('.test.yaml')) {
    const diagnostics = [...loaded.diagnostics];
    if (loaded.doc && loaded.value && diagnostics.length === 0)
      diagnostics.push(...validateDocument(testFileSchema, loaded.value, loaded.doc));
    checkLocated(diagnostics, text, file);
    locateAll(diagnostics, loaded.source);
    return;
  }
  if (loaded.doc && loaded.value !== undefined) {
    // the committed, precompiled validator says what compiling the registry's schema now says
    const precompiled = validateAgainstSchema(loaded.value, loaded.doc);
    const compiledNow = validateDocument(buildPipelineSchema(), loaded.value, loaded.doc);
    if (!isDeepStrictEqual(precompiled, compiledNow))
      throw new Error(
        `${file}: the precompiled validator says ${JSON.stringify(precompiled)}, the schema compiled now ${JSON.stringify(compiledNow)}`,
      );
  }
  const compiled = compileLoaded(loaded);
  checkLocated(compiled.diagnostics, text, file);
  locateAll(compiled.diagnostics, loaded.source);
  if (compiled.plan) formatStages(compiled.plan, describePlan(compiled.plan));
  else if (!hasErrors(compiled.diagnostics)) throw new Error(`${file}: no plan and no error`);
}

const files = readdirSync(folder)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
let cases = 0;
try {
  for (const file of files) {
    const text = readFileSync(join(folder, file), 'utf8');
    const original = parse(text) as unknown;
    fc.assert(
      fc.property(
        fc.array(mutation, { minLength: 0, maxLength: 4 }),
        fc.array(textEdit, { minLength: 0, maxLength: 3 }),
        fc.constantFrom(...ENVS),
        (mutations, edits, env) => {
          cases++;
          // structural mutations, then text edits (of the original text, comments and all, or of the mutated document)
          const base = mutations.length === 0 ? text : stringify(mutate(original, mutations));
          check(file, edits.reduce(edit, base), env);
        },
      ),
      { numRuns: runs, seed: seed + files.indexOf(file) },
    );
  }
  parentPort!.postMessage({ kind: 'done', cases });
} catch (err) {
  const cause = (err as Error & { cause?: Error }).cause;
  parentPort!.postMessage({ kind: 'failed', message: `${(err as Error).message}\n${cause?.stack ?? cause ?? ''}` });
}

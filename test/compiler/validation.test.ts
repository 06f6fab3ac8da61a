import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePipelineText } from '../../src/config/load.js';
import { compileLoaded } from '../../src/compiler/compile.js';
import { generatorDefaults } from '../../src/components/sources/generator.js';
import { locateAll, type LocatedDiagnostic } from '../../src/config/print.js';

/** A valid pipeline; fixtures below each break one rule of it. Line numbers in comments count from 1. */
const VALID = `name: demo
source:
  generator:
    count: 10
time:
  field: timestamp
filter: geo != "unknown"
window:
  tumbling: 1m
groupBy:
  - publisher
  - geo
aggregate:
  imps: count
  avgBid: { avg: bid }
sink:
  console: {}
`;

function problems(text: string, env: Record<string, string> = {}): LocatedDiagnostic[] {
  const loaded = parsePipelineText('fixture.yaml', text, env);
  return locateAll(compileLoaded(loaded).diagnostics, loaded.source);
}

interface Expected {
  code: string;
  line: number;
  col: number;
  message: RegExp;
  hint?: RegExp;
  severity?: 'error' | 'warning';
}

function expectExactly(text: string, expected: Expected[], env: Record<string, string> = {}): void {
  const actual = problems(text, env);
  assert.equal(actual.length, expected.length, `got: ${JSON.stringify(actual, null, 1)}`);
  expected.forEach((e, i) => {
    const a = actual[i];
    assert.equal(a.code, e.code, `diagnostic ${i}: ${a.message}`);
    assert.deepEqual([a.line, a.col], [e.line, e.col], `diagnostic ${i} position: ${a.message}`);
    assert.match(a.message, e.message);
    if (e.hint) assert.match(a.hint ?? '', e.hint);
    assert.equal(a.severity, e.severity ?? 'error');
  });
}

test('the valid base pipeline has no diagnostics', () => {
  assert.deepEqual(problems(VALID), []);
});

test('a misspelt top-level key suggests the right one', () => {
  expectExactly(VALID.replace('aggregate:', 'agregate:'), [
    { code: 'missing-key', line: 1, col: 1, message: /`aggregate` is missing at the top level/ },
    { code: 'unknown-key', line: 13, col: 1, message: /unknown key `agregate` at the top level/, hint: /did you mean `aggregate`\?/ },
  ]);
});

test('a misspelt aggregation suggests the right one', () => {
  expectExactly(VALID.replace('{ avg: bid }', '{ avgg: bid }'), [
    { code: 'one-of', line: 15, col: 13, message: /`avgg` is not one of .*`avg`/, hint: /did you mean `avg`\?/ },
  ]);
  expectExactly(VALID.replace('avgBid: { avg: bid }', 'total: { summ: bid }'), [
    { code: 'one-of', line: 15, col: 12, message: /`summ` is not one of/, hint: /did you mean `sum`\?/ },
  ]);
});

test('a bare aggregation name that does not exist', () => {
  expectExactly(VALID.replace('imps: count', 'imps: cnt'), [
    { code: 'invalid-value', line: 14, col: 9, message: /`cnt` is not an aggregation written alone/, hint: /did you mean `count`\?/ },
  ]);
});

test('an unknown option of an aggregation points at the option', () => {
  expectExactly(VALID.replace('{ avg: bid }', '{ avg: bid, precision: 12 }'), [
    { code: 'unknown-key', line: 15, col: 23, message: /unknown key `precision` in `aggregate.avgBid`/ },
  ]);
});

test('two aggregations in one output', () => {
  expectExactly(VALID.replace('{ avg: bid }', '{ avg: bid, sum: bid }'), [
    { code: 'one-of', line: 15, col: 11, message: /has `avg`, `sum` together, but takes only one/ },
  ]);
});

test('an unknown source component suggests the right one', () => {
  expectExactly(VALID.replace('  generator:', '  generater:'), [
    { code: 'unknown-key', line: 3, col: 3, message: /unknown key `generater` in `source`/, hint: /did you mean `generator`\?/ },
  ]);
});

test('two sources at once', () => {
  expectExactly(VALID.replace('    count: 10\n', '    count: 10\n  stdin: {}\n'), [
    { code: 'one-of', line: 3, col: 3, message: /`source` has `generator`, `stdin` together/ },
  ]);
});

test('an empty slot says what it takes', () => {
  expectExactly(VALID.replace('  console: {}', '  document: { imps: imps }'), [
    { code: 'one-of', line: 16, col: 1, message: /`sink` needs one of `mongodb`, `kafka`, `file`, `console`/ },
  ]);
});

test('a missing required component setting names the key', () => {
  expectExactly(VALID.replace('  console: {}', '  file: {}'), [
    { code: 'missing-key', line: 17, col: 3, message: /`path` is missing in `sink.file`/, hint: /path: Path of the output file/ },
  ]);
});

test('a wrong type says what was expected', () => {
  expectExactly(VALID.replace('count: 10', 'count: ten'), [
    { code: 'wrong-type', line: 4, col: 12, message: /`source.generator.count` should be a whole number, not the string "ten"/ },
  ]);
});

test('an enum value with a typo suggests the right one', () => {
  expectExactly(VALID.replace('  console: {}', '  console: { emit: updatess }'), [
    { code: 'invalid-value', line: 17, col: 20, message: /must be one of `final`, `updates`/, hint: /did you mean `updates`\?/ },
  ]);
});

test('a malformed duration says how to write one', () => {
  expectExactly(VALID.replace('tumbling: 1m', 'tumbling: 1 minute'), [
    { code: 'invalid-value', line: 9, col: 13, message: /not a valid duration: the string "1 minute"/, hint: /500ms, 10s, 1m/ },
  ]);
});

test('a zero duration is rejected', () => {
  expectExactly(VALID.replace('tumbling: 1m', 'tumbling: 0s'), [
    { code: 'invalid-value', line: 9, col: 13, message: /`window.tumbling` must be longer than 0/ },
  ]);
});

test('an invalid output name', () => {
  expectExactly(VALID.replace('imps: count', 'imps-total: count'), [
    { code: 'invalid-value', line: 14, col: 3, message: /`imps-total` is not a valid name in `aggregate`/ },
  ]);
});

test('a JSONata syntax error points inside the expression, whatever the quoting', () => {
  expectExactly(VALID.replace('filter: geo != "unknown"', 'filter: geo != "unknown" and'), [
    { code: 'expression-syntax', line: 7, col: 29, message: /invalid expression in `filter`/ },
  ]);
  expectExactly(VALID.replace('filter: geo != "unknown"', "filter: 'geo = = 1'"), [
    { code: 'expression-syntax', line: 7, col: 16, message: /invalid expression in `filter`/ },
  ]);
  expectExactly(VALID.replace('filter: geo != "unknown"', 'filter: |\n  geo = "US" and\n    (bid > )'), [
    {
      code: 'expression-syntax',
      line: 9,
      col: 12,
      message: /invalid expression in `filter`: The symbol "\)" cannot be used as a unary operator/,
    },
  ]);
});

test('a syntax error in a computed group key', () => {
  expectExactly(VALID.replace('  - geo\n', '  - geo\n  - country: $uppercase(geo\n'), [
    { code: 'expression-syntax', line: 13, col: 28, message: /invalid expression in `groupBy.2.country`/ },
  ]);
});

test('a sliding step larger than the size, or not dividing it', () => {
  expectExactly(VALID.replace('tumbling: 1m', 'sliding: { size: 1m, every: 2m }'), [
    { code: 'conflict', line: 9, col: 31, message: /every \(2m\) is larger than size \(1m\)/ },
  ]);
  expectExactly(VALID.replace('tumbling: 1m', 'sliding: { size: 10m, every: 3m }'), [
    { code: 'conflict', line: 9, col: 32, message: /every \(3m\) does not divide size \(10m\)/, hint: /e\.g\. 150s/ },
  ]);
});

test('a document mapping that refers to a name that does not exist', () => {
  const text = VALID.replace(
    '  console: {}',
    '  console: {}\n  document:\n    date: window.start\n    publisher: publisher\n    geo: geo\n    imps: impz',
  );
  expectExactly(text, [{ code: 'unknown-name', line: 22, col: 11, message: /`impz` is not a result name/, hint: /did you mean `imps`\?/ }]);
});

test('a document mapping that leaves out a group key warns', () => {
  const text = VALID.replace('  console: {}', '  console: {}\n  document:\n    date: window.start\n    imps: imps');
  expectExactly(text, [
    { code: 'unused', line: 18, col: 3, message: /group key `publisher` is not stored/, severity: 'warning' },
    { code: 'unused', line: 18, col: 3, message: /group key `geo` is not stored/, severity: 'warning' },
  ]);
});

test('a group key that is also an aggregate name', () => {
  expectExactly(VALID.replace('imps: count', 'geo: count'), [
    { code: 'duplicate-name', line: 14, col: 3, message: /`geo` is both a group key and an aggregate/ },
  ]);
});

test('a group key listed twice', () => {
  expectExactly(VALID.replace('  - geo\n', '  - geo\n  - publisher\n'), [
    { code: 'duplicate-name', line: 13, col: 5, message: /group key `publisher` appears twice/ },
  ]);
});

test('a computed field nobody uses warns', () => {
  expectExactly(VALID.replace('window:', 'fields:\n  bidMicros: bid * 1000000\nwindow:'), [
    { code: 'unused', line: 9, col: 3, message: /computed field `bidMicros` is never used/, severity: 'warning' },
  ]);
});

test('the dead-letter file may not be the output file', () => {
  const text = VALID.replace('  console: {}', '  file: { path: out.jsonl }\ndeadLetter:\n  file: { path: out.jsonl }');
  expectExactly(text, [{ code: 'conflict', line: 19, col: 17, message: /dead-letter file is the sink's output file/ }]);
});

test('a pipeline may not write the file it reads: the error is on the file read, whichever writes it', () => {
  const reading = VALID.replace('  generator:\n    count: 10', '  file: { path: data.jsonl }');
  expectExactly(reading.replace('  console: {}', '  file: { path: data.jsonl }'), [
    { code: 'conflict', line: 3, col: 17, message: /the source file is also written by this pipeline/ },
  ]);
  expectExactly(reading + 'deadLetter:\n  file: { path: data.jsonl }\n', [
    { code: 'conflict', line: 3, col: 17, message: /the source file is also written by this pipeline/ },
  ]);
  // the default dead-letter file is dead-letters/<name>.jsonl
  expectExactly(reading.replace('  console: {}', '  file: { path: dead-letters/demo.jsonl }'), [
    { code: 'conflict', line: 1, col: 1, message: /the dead-letter file is the sink's output file/ },
  ]);
});

test('an unset environment variable names the variable and the line', () => {
  const text = VALID.replace('  console: {}', '  file:\n    path: ${OUT_DIR}/rows.jsonl');
  expectExactly(text, [
    { code: 'env-unset', line: 18, col: 11, message: /environment variable OUT_DIR is not set/, hint: /\$\{OUT_DIR:-value\}/ },
  ]);
});

test('environment interpolation: defaults, set values and types', () => {
  // (a replacer function: in a replacement string `$$` would mean one `$`)
  const text = VALID.replace('count: 10', 'count: ${N:-25}').replace(
    '  console: {}',
    () => '  file:\n    path: ${OUT:-out}/rows-$${literal}.jsonl',
  );
  const loaded = parsePipelineText('fixture.yaml', text, { N: '' });
  const compiled = compileLoaded(loaded);
  assert.deepEqual(compiled.diagnostics, []);
  assert.deepEqual(compiled.plan!.sources[0].config, { count: 25, ...generatorDefaults });
  assert.deepEqual(compiled.plan!.sinks[0].config, { path: 'out/rows-${literal}.jsonl', emit: 'final' });
  const withEnv = compileLoaded(parsePipelineText('fixture.yaml', text, { N: '7', OUT: '/data' }));
  assert.deepEqual(withEnv.plan!.sources[0].config, { count: 7, ...generatorDefaults });
  assert.deepEqual(withEnv.plan!.sinks[0].config, { path: '/data/rows-${literal}.jsonl', emit: 'final' });
});

test('every error in a file is reported in one run', () => {
  const text = VALID.replace('aggregate:', 'agregate:').replace('tumbling: 1m', 'tumbling: soon').replace('count: 10', 'count: -1');
  const codes = problems(text).map((d) => `${d.code}@${d.line}`);
  assert.deepEqual(codes, ['missing-key@1', 'invalid-value@4', 'invalid-value@9', 'unknown-key@13']);
});

test('YAML syntax errors, duplicate keys, empty files, non-mappings', () => {
  expectExactly('name: a\nsource: [unclosed\n', [{ code: 'yaml-syntax', line: 3, col: 1, message: /YAML syntax/ }]);
  expectExactly(VALID.replace('name: demo', 'name: demo\nname: again'), [
    { code: 'yaml-duplicate-key', line: 2, col: 1, message: /each key may appear only once/ },
  ]);
  expectExactly('', [{ code: 'empty-file', line: 1, col: 1, message: /the pipeline file is empty/ }]);
  expectExactly('# only a comment\n', [{ code: 'empty-file', line: 1, col: 1, message: /empty/ }]);
  expectExactly('- a\n- b\n', [{ code: 'not-a-mapping', line: 1, col: 1, message: /must be a mapping/ }]);
  expectExactly('just text\n', [{ code: 'not-a-mapping', line: 1, col: 1, message: /must be a mapping/ }]);
});

test('limits, event-time bounds and missingKeys: defaults, and what the plan holds', () => {
  const plain = compileLoaded(parsePipelineText('fixture.yaml', VALID, {})).plan!;
  assert.deepEqual(plain.limits, { maxRecordBytes: 1048576, maxDepth: 64, expressionTimeoutMs: 1000, maxValueLength: 1000000 });
  assert.equal(plain.missingKeys, 'null');
  assert.equal(plain.time!.maxFutureMs, 86_400_000);
  assert.equal(plain.time!.maxPastMs, Infinity);
  const text = VALID.replace('time:\n  field: timestamp', 'time:\n  field: timestamp\n  maxFuture: 1h\n  maxPast: 30d').replace(
    'filter:',
    'limits: { maxRecordBytes: 4096, maxDepth: 10, expressionTimeout: 250ms, maxValueLength: 50 }\nmissingKeys: deadLetter\nfilter:',
  );
  const compiled = compileLoaded(parsePipelineText('fixture.yaml', text, {}));
  assert.deepEqual(compiled.diagnostics, []);
  assert.deepEqual(compiled.plan!.limits, { maxRecordBytes: 4096, maxDepth: 10, expressionTimeoutMs: 250, maxValueLength: 50 });
  assert.equal(compiled.plan!.missingKeys, 'deadLetter');
  assert.deepEqual([compiled.plan!.time!.maxFutureMs, compiled.plan!.time!.maxPastMs], [3_600_000, 30 * 86_400_000]);
  // `missingKeys: null` is YAML's null, and the default
  const explicitNull = compileLoaded(parsePipelineText('fixture.yaml', VALID.replace('filter:', 'missingKeys: null\nfilter:'), {}));
  assert.deepEqual(explicitNull.diagnostics, []);
  assert.equal(explicitNull.plan!.missingKeys, 'null');
});

test('bad limits, bounds and missingKeys are located and explained', () => {
  const text = VALID.replace('time:\n  field: timestamp', 'time:\n  field: timestamp\n  maxFuture: soon').replace(
    'filter:',
    'limits:\n  maxRecordBytes: 0\n  maxDepth: 5000\n  expressionTimeout: 0s\n  maxRecordByte: 10\nmissingKeys: drop\nfilter:',
  );
  expectExactly(text, [
    { code: 'invalid-value', line: 7, col: 14, message: /`time.maxFuture` is not a valid duration/, hint: /number and a unit/ },
    { code: 'invalid-value', line: 9, col: 19, message: /`limits.maxRecordBytes` must be >= 1/ },
    { code: 'invalid-value', line: 10, col: 13, message: /`limits.maxDepth` must be <= 1000/ },
    { code: 'unknown-key', line: 12, col: 3, message: /unknown key `maxRecordByte` in `limits`/, hint: /did you mean `maxRecordBytes`\?/ },
    { code: 'invalid-value', line: 13, col: 14, message: /`missingKeys` must be one of `null`, `deadLetter`, not the string "drop"/ },
  ]);
  expectExactly(VALID.replace('filter:', 'limits: { expressionTimeout: 0s }\nfilter:'), [
    { code: 'invalid-value', line: 7, col: 30, message: /`limits.expressionTimeout` must be longer than 0/ },
  ]);
  expectExactly(VALID.replace('tumbling: 1m', 'tumbling: 99999999999d'), [
    { code: 'invalid-value', line: 9, col: 13, message: /`window.tumbling` is longer than 100 years/ },
  ]);
});

test('$eval is refused: record values are never evaluated as expressions', () => {
  expectExactly(VALID.replace('filter: geo != "unknown"', 'filter: geo != "x" and $eval(rule)'), [
    { code: 'expression-not-allowed', line: 7, col: 24, message: /`\$eval` is not allowed in `filter`/ },
  ]);
  // also as a value passed around, not only called
  expectExactly(VALID.replace('  - geo', '  - g: ($e := $eval; $e(geo))'), [
    { code: 'expression-not-allowed', line: 12, col: 15, message: /`\$eval` is not allowed in `groupBy.1.g`/ },
  ]);
});

test('YAML alias bombs and errors at the very end of the text are reported, located', () => {
  const bomb = [
    'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
    ...'bcdefgh'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(',')}]`),
    'name: bomb',
  ].join('\n');
  const found = problems(bomb);
  assert.equal(found.length, 1);
  assert.equal(found[0].code, 'yaml-syntax');
  assert.match(found[0].message, /alias/i);
  const cut = problems('name: x\nsource:\n  - {');
  assert.ok(cut.length > 0 && cut.every((d) => d.line !== undefined && d.range![1] <= 'name: x\nsource:\n  - {'.length));
});

test('rollups: each level a whole multiple of the one before, coarse after fine', () => {
  assert.deepEqual(problems(VALID.replace('tumbling: 1m', 'tumbling: 1m\n  rollups: [1h, 1d]')), []);
  expectExactly(VALID.replace('tumbling: 1m', 'tumbling: 1m\n  rollups: [90s, 1h, 1h, 25h]'), [
    { code: 'invalid-value', line: 10, col: 13, message: /rollup 90s is not a whole multiple of the window \(1m\)/, hint: /use 2m/ },
    { code: 'invalid-value', line: 10, col: 22, message: /rollup 1h is not coarser than the previous rollup \(1h\)/ },
  ]);
  expectExactly(VALID.replace('tumbling: 1m', 'tumbling: 1h\n  rollups: [90m]'), [
    {
      code: 'invalid-value',
      line: 10,
      col: 13,
      message: /rollup 90m is not a whole multiple of the window \(1h\)/,
      hint: /use 1h or 2h|use 2h/,
    },
  ]);
});

test('rollups need a tumbling window, and a misspelt key suggests them', () => {
  expectExactly(VALID.replace('tumbling: 1m', 'sliding: { size: 10m, every: 1m }\n  rollups: [1h]'), [
    { code: 'conflict', line: 10, col: 3, message: /rollups need a tumbling window/, hint: /tumbling: 1m/ },
  ]);
  expectExactly(VALID.replace('tumbling: 1m', 'tumbling: 1m\n  rolups: [1h]'), [
    { code: 'unknown-key', line: 10, col: 3, message: /unknown key `rolups` in `window`/, hint: /did you mean `rollups`\?/ },
  ]);
});

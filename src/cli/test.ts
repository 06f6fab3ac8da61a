import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatLine, locateAll } from '../config/print.js';
import { loadTestFile } from '../testing/test-file.js';
import { runTestCase } from '../testing/run-test.js';

function testFiles(target: string): string[] {
  if (!statSync(target, { throwIfNoEntry: false })?.isDirectory()) return [target];
  return readdirSync(target)
    .filter((f) => f.endsWith('.test.yaml') || f.endsWith('.test.yml'))
    .sort()
    .map((f) => join(target, f));
}

/** `runner test [FILE|DIR]`: runs pipeline tests; exit 0 when all pass, 1 otherwise. */
export async function testCommand(target = 'pipelines'): Promise<number> {
  const files = testFiles(target);
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    const testFile = loadTestFile(file);
    if (!testFile.pipelinePath) {
      for (const d of locateAll(testFile.loaded.diagnostics, testFile.loaded.source)) process.stdout.write(formatLine(d) + '\n');
      failed++;
      continue;
    }
    for (const testCase of testFile.tests) {
      const problems = await runTestCase(testFile.pipelinePath, testCase);
      if (problems.length === 0) {
        passed++;
        process.stdout.write(`ok   ${file} > ${testCase.name}\n`);
      } else {
        failed++;
        process.stdout.write(`FAIL ${file} > ${testCase.name}\n${problems.map((p) => `       ${p}`).join('\n')}\n`);
      }
    }
  }
  if (files.length === 0) process.stdout.write(`no *.test.yaml files in ${target}\n`);
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed > 0 || files.length === 0 ? 1 : 0;
}

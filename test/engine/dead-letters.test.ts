/**
 * Dead letters under overlapped stores: the bad records of a batch that fills while the one before
 * it is stored reach the destination too, each exactly once, before their batch is committed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileDeadLetter } from '../../src/components/dead-letters/file.js';
import { silentLogger } from '../../src/log.js';
import { compileText } from '../helpers/pipeline.js';
import { BAD_RECORDS_PLAN, runBadRecords } from '../helpers/bad-records-run.js';

test('the file destination holds one line per bad record when filling overlaps storing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-dead-letters-'));
  const path = join(dir, 'dead.jsonl');
  const deadLetters = await fileDeadLetter.create(
    { path },
    { plan: compileText(BAD_RECORDS_PLAN), logger: silentLogger, cwd: dir, signal: new AbortController().signal },
  );
  const { stats, expected, committed } = await runBadRecords(deadLetters);
  await deadLetters.close();
  const lines = readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { offset: number; reason: string });
  assert.ok(stats.batches > 20, `${stats.batches} batches: the scenario needs many overlapped stores`);
  assert.equal(committed, 5999);
  assert.equal(lines.length, expected.size);
  assert.deepEqual(new Map(lines.map((l) => [l.offset, l.reason])), expected);
  const counted = Object.values(stats.deadLetters).reduce((sum, n) => sum + n, 0);
  assert.equal(counted, expected.size, 'the run reports as many as were written');
});

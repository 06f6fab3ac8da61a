/**
 * Fuzzing the validator: thousands of mutations of every file in pipelines/ (see
 * validator-fuzz-worker.ts). The worker reports each case before checking it, so a case that
 * throws is reported with its message and one that hangs is stopped and printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

const folder = fileURLToPath(new URL('../../../pipelines/', import.meta.url));
/** Mutations per file; FUZZ_RUNS raises it for a longer search. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
/** Longest any single case may take before it counts as a hang. */
const CASE_LIMIT_MS = 5000;

test(`the validator returns located diagnostics for ${RUNS} mutations of each example pipeline, never throws or hangs`, async () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  const worker = new Worker(new URL('./validator-fuzz-worker.js', import.meta.url), { workerData: { folder, runs: RUNS, seed } });
  let last: { file: string; text: string } | undefined;
  let watchdog: NodeJS.Timeout | undefined;
  const outcome = await new Promise<{ kind: string; cases?: number; message?: string }>((resolve) => {
    const arm = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => resolve({ kind: 'hung' }), CASE_LIMIT_MS);
    };
    arm();
    worker.on('message', (m: { kind: string; file: string; text: string; cases?: number; message?: string }) => {
      if (m.kind === 'case') {
        last = m;
        arm();
      } else resolve(m);
    });
    worker.on('error', (err) => resolve({ kind: 'failed', message: `worker crashed: ${err.stack ?? err.message}` }));
  });
  clearTimeout(watchdog);
  await worker.terminate();
  if (outcome.kind === 'hung') assert.fail(`validation took over ${CASE_LIMIT_MS} ms (seed ${seed}) on ${last?.file}:\n${last?.text}`);
  assert.equal(outcome.kind, 'done', `seed ${seed}: ${outcome.message}\nlast case (${last?.file}):\n${last?.text}`);
  assert.ok(outcome.cases! >= RUNS * 4);
});

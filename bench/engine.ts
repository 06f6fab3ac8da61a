/**
 * `npm run bench:engine`: N generated impressions (default 5,000,000), serialized as JSON lines
 * beforehand, through the impressions pipeline into the in-process store; 3 runs, each in a fresh
 * process, each followed by a run of the yardstick (engine-baseline.ts: JSON.parse and a Map count
 * of the same file); prints each run, the medians of records/s and peak RSS, and the engine's
 * median over the yardstick's.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImpressionGenerator } from '../src/components/sources/impressions.js';
import { impressionDefaults } from '../src/components/sources/generator.js';
import { median } from './median.js';

const count = Number(process.env.BENCH_RECORDS ?? 5_000_000);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const file = join(tmpdir(), `runnel-bench-impressions-${count}.jsonl`);

async function writeImpressions(): Promise<void> {
  const partial = `${file}.partial`;
  const out = createWriteStream(partial);
  const generator = new ImpressionGenerator({ ...impressionDefaults, seed: 42 });
  for (let i = 0; i < count;) {
    const lines: string[] = [];
    for (let j = 0; j < 10_000 && i < count; j++, i++) lines.push(JSON.stringify(generator.next()));
    if (!out.write(lines.join('\n') + '\n')) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  renameSync(partial, file);
}

if (!existsSync(file)) {
  process.stdout.write(`writing ${count} impressions to ${file}\n`);
  await writeImpressions();
}
const runner = fileURLToPath(new URL('./engine-run.js', import.meta.url));
const baseline = fileURLToPath(new URL('./engine-baseline.js', import.meta.url));
const results: { recordsPerSecond: number; peakRssMB: number }[] = [];
const baselines: number[] = [];
// interleaved with the yardstick, so both see the same machine
for (let i = 1; i <= runs; i++) {
  const line = execFileSync(process.execPath, [runner, file], { encoding: 'utf8' }).trim();
  const result = JSON.parse(line) as { recordsPerSecond: number; peakRssMB: number };
  results.push(result);
  process.stdout.write(`run ${i}: ${line}\n`);
  const plain = execFileSync(process.execPath, [baseline, file], { encoding: 'utf8' }).trim();
  baselines.push((JSON.parse(plain) as { recordsPerSecond: number }).recordsPerSecond);
  process.stdout.write(`JSON.parse + Map ${i}: ${plain}\n`);
}
const engine = median(results.map((r) => r.recordsPerSecond));
const plain = median(baselines);
process.stdout.write(
  `median of ${runs}: ${engine.toLocaleString('en-US')} records/s, ` +
    `peak RSS ${median(results.map((r) => r.peakRssMB))} MB (${count.toLocaleString('en-US')} records, Node ${process.version}); ` +
    `JSON.parse + Map ${plain.toLocaleString('en-US')} records/s: ${(engine / plain).toFixed(2)}x\n`,
);

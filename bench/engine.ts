/**
 * `npm run bench:engine`: N generated impressions (default 5,000,000), serialized as JSON lines
 * beforehand, through the impressions pipeline into the in-process store; 3 runs, each in a fresh
 * process; prints each run and the medians of records/s and peak RSS.
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
const results: { recordsPerSecond: number; peakRssMB: number }[] = [];
for (let i = 1; i <= runs; i++) {
  const line = execFileSync(process.execPath, [runner, file], { encoding: 'utf8' }).trim();
  const result = JSON.parse(line) as { recordsPerSecond: number; peakRssMB: number };
  results.push(result);
  process.stdout.write(`run ${i}: ${line}\n`);
}
process.stdout.write(
  `median of ${runs}: ${median(results.map((r) => r.recordsPerSecond)).toLocaleString('en-US')} records/s, ` +
    `peak RSS ${median(results.map((r) => r.peakRssMB))} MB (${count.toLocaleString('en-US')} records, Node ${process.version})\n`,
);

/**
 * The yardstick of `bench:engine`: the least a program can do with the same file and still count
 * what the pipeline counts. It reads the JSON lines in 64 KiB chunks, parses each line with
 * JSON.parse, drops unresolved geos and counts records per minute, publisher and geo in a Map
 * (no uniques, no average, no event time checks, no batches). One run per process, printing one
 * JSON line as engine-run does.
 */
import { createReadStream } from 'node:fs';

const [file] = process.argv.slice(2);
if (!file) throw new Error('usage: engine-baseline JSONL_FILE');

interface Impression {
  timestamp: number;
  publisher: string;
  geo: string;
}

const counts = new Map<string, number>();
let records = 0;
let rest = '';
const started = process.hrtime.bigint();
for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 64 * 1024 })) {
  const lines = (rest + (chunk as string)).split('\n');
  rest = lines.pop() ?? '';
  for (const line of lines) {
    if (line === '') continue;
    records++;
    const r = JSON.parse(line) as Impression;
    if (r.geo === 'unknown') continue;
    const key = `${Math.floor(r.timestamp / 60_000)}|${r.publisher}|${r.geo}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
process.stdout.write(
  JSON.stringify({
    records,
    seconds,
    recordsPerSecond: Math.round(records / seconds),
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    rows: counts.size,
  }) + '\n',
);

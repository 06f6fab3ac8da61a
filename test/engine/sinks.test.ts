/** `sinks:`: several sinks, each with its own document mapping, fed from one store; the rules the compiler keeps for them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonical, compileText, diagnosticsOf, ScriptedSource } from '../helpers/pipeline.js';
import { groupBy, seededRandom } from '../helpers/reference.js';
import { assemble, closeParts } from '../../src/cli/assemble.js';
import { PipelineRun } from '../../src/engine/pipeline-run.js';
import { collectDeadLetters } from '../../src/components/dead-letters/memory.js';
import { silentLogger } from '../../src/log.js';
import { MemoryStore } from '../../src/engine/memory-store.js';
import { mergeBatch } from '../../src/engine/merge.js';
import { BatchState } from '../../src/engine/batch-state.js';
import { RecordProcessor } from '../../src/engine/processor.js';
import { Watermarks } from '../../src/engine/watermark.js';
import { Fences } from '../../src/engine/fences.js';
import type { StateDoc } from '../../src/engine/store.js';
import type { Chunk } from '../../src/engine/records.js';

const T0 = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;

const HEAD = 'name: t\nwindow: { tumbling: 1m }\naggregate: { n: count }\n';
const KAFKA_SOURCE = 'source: { kafka: { brokers: b:9092, topics: imps, group: g } }\n';
const MONGO = '{ mongodb: { uri: "mongodb://db", database: d, collection: c } }';
const kafkaSink = (topic: string, extra = '') => `{ kafka: { brokers: b:9092, topic: ${topic}${extra} } }`;

test('the compiler refuses both forms, neither, two sinks keeping windows, a topic read and written, and a Kafka sink that could lose windows', () => {
  assert.deepEqual(diagnosticsOf(`${HEAD}source: { stdin: {} }\nsink: { console: {} }\nsinks: { a: { console: {} } }\n`), [
    'conflict: a pipeline has `sink:` or `sinks:`, not both',
  ]);
  assert.deepEqual(diagnosticsOf(`${HEAD}source: { stdin: {} }\n`), [
    'missing-key: a pipeline needs `sink:` (one sink) or `sinks:` (several, by name)',
  ]);
  assert.deepEqual(diagnosticsOf(`${HEAD}source: { stdin: {} }\nsinks: { a: ${MONGO}, b: ${MONGO} }\n`), [
    "conflict: sinks `a` and `b` both keep the windows; one sink keeps them and the others' rows are made from its states",
  ]);
  assert.deepEqual(diagnosticsOf(`${HEAD}${KAFKA_SOURCE}sinks: { rows: ${kafkaSink('imps')}, store: ${MONGO} }\n`), [
    'conflict: source `kafka` and sink `rows` both use Kafka topic `imps`: a pipeline must not read the rows it writes, nor two sinks write one topic',
  ]);
  assert.deepEqual(diagnosticsOf(`${HEAD}${KAFKA_SOURCE}sinks: { rows: ${kafkaSink('out')}, shown: { console: {} } }\n`), [
    'conflict: the kafka sink `rows` keeps no windows, and the kafka source replays after a restart: windows still open would start again from nothing',
  ]);
  assert.deepEqual(diagnosticsOf(`${HEAD}${KAFKA_SOURCE}sinks: { rows: ${kafkaSink('out', ', emit: final')}, store: ${MONGO} }\n`), [
    'conflict: `emit: final` would miss windows that close while the runner is down',
  ]);
  assert.deepEqual(diagnosticsOf(`${HEAD}source: { stdin: {} }\nsinks: { a-b: { console: {} } }\n`), [
    'invalid-value: `a-b` is not a valid name in `sinks`',
  ]);
  assert.deepEqual(diagnosticsOf(`${HEAD}source: { stdin: {} }\nsinks: { a: { console: {}, document: { x: nope } } }\n`), [
    'unknown-name: `nope` is not a result name',
  ]);
  // accepted: a Kafka sink beside MongoDB; without a replaying source, a Kafka sink of its own in either mode
  assert.deepEqual(diagnosticsOf(`${HEAD}${KAFKA_SOURCE}sinks: { rows: ${kafkaSink('out')}, store: ${MONGO} }\n`), []);
  assert.deepEqual(diagnosticsOf(`${HEAD}source: { generator: {} }\nsinks: { rows: ${kafkaSink('out', ', emit: final')} }\n`), []);
});

test('the plan says which sink keeps the windows, and whether sources and sinks were named', () => {
  const one = compileText(`${HEAD}source: { stdin: {} }\nsink: { console: {} }\n`);
  assert.deepEqual(one.named, { sources: false, sinks: false });
  assert.deepEqual(
    one.sinks.map((s) => [s.label, s.name, s.keeps]),
    [['console', 'console', false]],
  );
  // a source and a sink named like their components are still named (they were taken for `source:` once)
  const named = compileText(`${HEAD}sources: { generator: { generator: {} } }\nsinks: { shown: { console: {} }, store: ${MONGO} }\n`);
  assert.deepEqual(named.named, { sources: true, sinks: true });
  assert.deepEqual(
    named.sinks.map((s) => [s.label, s.name, s.keeps]),
    [
      ['shown', 'console', false],
      ['store', 'mongodb', true],
    ],
  );
});

const PIPELINE = `
name: two-files
source: { stdin: {} }
batch: { maxRecords: 500 }
time: { field: t, format: epochMillis, maxOutOfOrder: 10s }
window: { tumbling: 1m }
groupBy: [k]
aggregate:
  n: count
  total: { sum: v }
sinks:
  final:
    file: { path: final.jsonl, emit: final }
  changes:
    file: { path: changes.jsonl, emit: updates }
    document: { minute: window.start, key: k, count: n }
`;

test('two file sinks of one pipeline: each gets every row in its own mapping, final once and updates as they change, equal to a reference', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-sinks-'));
  try {
    const plan = compileText(PIPELINE);
    const random = seededRandom(5);
    const records = Array.from({ length: 3000 }, (_, i) => ({
      t: T0 + i * 97,
      k: `k${Math.floor(random() * 7)}`,
      v: Math.floor(random() * 100),
    }));
    const script: Chunk[][] = [];
    for (let i = 0; i < records.length; i += 250) {
      const slice = records.slice(i, i + 250);
      script.push([{ partition: 'p', offsets: slice.map((_, j) => i + j), payloads: slice.map((r) => JSON.stringify(r)) }]);
    }
    const signal = new AbortController().signal;
    const parts = await assemble(
      plan,
      silentLogger,
      signal,
      { source: new ScriptedSource(script), deadLetters: collectDeadLetters() },
      dir,
    );
    const stats = await new PipelineRun(plan, parts, silentLogger, signal).run();
    await closeParts(parts);
    assert.equal(stats.records, records.length);

    const reference = [...groupBy(records, (r) => `${Math.floor(r.t / MINUTE) * MINUTE}|${r.k}`)].map(([id, group]) => {
      const start = Number(id.split('|')[0]);
      return { start, k: group[0].k, n: group.length, total: group.reduce((sum, r) => sum + r.v, 0) };
    });
    const lines = (file: string) =>
      readFileSync(join(dir, file), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const iso = (ms: number) => new Date(ms).toISOString();
    assert.deepEqual(
      canonical(lines('final.jsonl')),
      canonical(reference.map((r) => ({ windowStart: iso(r.start), windowEnd: iso(r.start + MINUTE), k: r.k, n: r.n, total: r.total }))),
    );
    const changes = lines('changes.jsonl');
    assert.ok(changes.length > reference.length, 'updates: a window changes in several batches');
    const latest = new Map(changes.map((row) => [`${String(row.minute)}|${String(row.key)}`, row]));
    assert.deepEqual(canonical([...latest.values()]), canonical(reference.map((r) => ({ minute: iso(r.start), key: r.k, count: r.n }))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a batch merged again finds its documents unchanged, and says which: a sink writing elsewhere re-sends their rows', async () => {
  const plan = compileText(`${HEAD}source: { stdin: {} }\ngroupBy: [k]\nsink: { console: {} }\n`);
  const store = new MemoryStore();
  const batchOf = async () => {
    const batch = new BatchState();
    const processor = new RecordProcessor(plan, new Watermarks(0, Infinity), new Fences(), {});
    const payloads = ['a', 'b', 'a', 'c'].map((k) => JSON.stringify({ k }));
    await processor.process({ partition: 'p', offsets: [0, 1, 2, 3], payloads }, batch);
    return batch;
  };
  const first: StateDoc[] = [];
  const written = await mergeBatch(store, await batchOf(), plan.aggregates, undefined, first);
  assert.deepEqual(written.map((d) => [d.key, d.version]).sort(), [
    [['a'], 1],
    [['b'], 1],
    [['c'], 1],
  ]);
  assert.deepEqual(first, []);
  const unchanged: StateDoc[] = [];
  assert.deepEqual(await mergeBatch(store, await batchOf(), plan.aggregates, undefined, unchanged), []);
  assert.deepEqual(unchanged.map((d) => [d.key, d.version, d.offsets]).sort(), [
    [['a'], 1, { p: 2 }],
    [['b'], 1, { p: 1 }],
    [['c'], 1, { p: 3 }],
  ]);
});

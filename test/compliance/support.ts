/**
 * What the compliance suites share: a pipeline around one component's YAML, compiled as a user's
 * file is, the component made by its registered `create`, and readers of what components deliver
 * that use none of the component's own code.
 */
import type { TSchema } from '@sinclair/typebox';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Admin } from 'kafkajs';
import type { RunnableSpec, Slot } from '../../src/components/spec.js';
import type { ComponentContext } from '../../src/engine/runtime.js';
import type { Plan } from '../../src/engine/plan.js';
import { payloadAt, type Chunk } from '../../src/engine/records.js';
import { silentLogger } from '../../src/log.js';
import { compileText, slotUse } from '../helpers/pipeline.js';
import { kafkaBrokers, mongoUri } from '../helpers/stack.js';
import { testKafka } from '../helpers/kafka.js';

export type RunnableSlot = Exclude<Slot, 'window'>;

/** The pipeline every suite starts from; each suite replaces its own slot. */
const BASE: Record<RunnableSlot, string> = {
  source: 'source:\n  stdin: {}\n',
  sink: 'sink:\n  console: {}\n',
  deadLetter: '',
};

/** Indents a component's YAML block (as its declaration's examples are written) under its slot key. */
export function slotBlock(slot: RunnableSlot, yaml: string, extra = ''): string {
  const indented = yaml
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
  return `${slot}:\n${indented}\n${extra}`;
}

/**
 * A whole pipeline around one component: 1-minute windows by `k`, a count `n` and a sum `total`
 * of `v`, stored as `{ minute, k, n, total }`.
 */
export function pipelineAround(slot: RunnableSlot, yaml: string, { batch = '', rollups = '' } = {}): string {
  const document = '  document: { minute: window.start, k: k, n: n, total: total }\n';
  const parts = { ...BASE, [slot]: slotBlock(slot, yaml, slot === 'sink' ? document : '') };
  if (slot !== 'sink') parts.sink = slotBlock('sink', 'console: {}', document);
  return `name: compliance
${parts.source}${batch ? `batch: ${batch}\n` : ''}time: { field: t, maxOutOfOrder: 1h }
window: { tumbling: 1m${rollups ? `, rollups: ${rollups}` : ''} }
groupBy: [k]
aggregate:
  n: count
  total: { sum: v }
${parts.sink}${parts.deadLetter}`;
}

/** Compiles a pipeline as `runner run` does (YAML, `${VAR}`s, schema, lint, compile); throws on any error. */
export function planAround(slot: RunnableSlot, yaml: string, options: { batch?: string; rollups?: string } = {}): Plan {
  return compileText(pipelineAround(slot, yaml, options), { KAFKA_BROKERS: kafkaBrokers().join(','), MONGODB_URI: mongoUri() });
}

export function contextFor(plan: Plan, cwd: string, signal = new AbortController().signal): ComponentContext {
  return { plan, logger: silentLogger, cwd, signal, sink: plan.sinks[0] };
}

/** The component's runtime, made by its registered factory from the config the plan carries for its slot. */
export function create<Runtime>(spec: RunnableSpec<TSchema, Runtime>, plan: Plan, context: ComponentContext): Promise<Runtime> {
  const use = slotUse(plan, spec.slot as RunnableSlot);
  assert.equal(use.name, spec.name, `the compiled plan's ${spec.slot} is ${use.name}, not ${spec.name}`);
  return spec.create(use.config, context);
}

/** A fresh working directory, removed by the returned function. */
export function workDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'runnel-compliance-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A name no other test (of this or another run) uses: topics, groups, databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * Sample records as JSON texts: several keys and minutes, multi-byte characters, escapes, and
 * lengths that vary, so byte offsets and read boundaries are not regular.
 */
export function sampleLines(count: number): string[] {
  const T0 = Date.UTC(2026, 0, 1);
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({ t: T0 + i * 100, k: ['a', 'b', 'ç☃', 'd"q'][i % 4], v: (i % 9) / 2, i, pad: 'x'.repeat((i * 37) % 61) }),
  );
}

/** Byte offset of each line in the text `lines.join('\n') + '\n'`. */
export function byteOffsets(lines: readonly string[]): number[] {
  const offsets: number[] = [];
  let at = 0;
  for (const line of lines) {
    offsets.push(at);
    at += Buffer.byteLength(line) + 1;
  }
  return offsets;
}

/** A record as a source handed it out. */
export interface Delivered {
  partition: string;
  offset: number;
  payload: unknown;
}

/** The records of chunks, after checking each chunk's shape: one offset per record, strictly increasing. */
export function recordsOf(chunks: readonly Chunk[]): Delivered[] {
  const records: Delivered[] = [];
  for (const chunk of chunks) {
    const count = chunk.offsets.length;
    if (chunk.lines) {
      assert.equal(chunk.payloads.length, 0, `chunk of ${chunk.partition} has both lines and payloads`);
      assert.equal(chunk.lines.starts.length, count, `chunk of ${chunk.partition}: line starts per offset`);
      assert.equal(chunk.lines.ends.length, count, `chunk of ${chunk.partition}: line ends per offset`);
    } else {
      assert.equal(chunk.payloads.length, count, `chunk of ${chunk.partition}: payloads per offset`);
    }
    for (let i = 0; i < count; i++) {
      if (i > 0) assert.ok(chunk.offsets[i] > chunk.offsets[i - 1], `offsets of ${chunk.partition} not increasing within a chunk`);
      records.push({ partition: chunk.partition, offset: chunk.offsets[i], payload: payloadAt(chunk, i) });
    }
  }
  return records;
}

/** Records grouped by partition, each list in the order handed out: what order a source promises. */
export function byPartition(records: readonly Delivered[]): Map<string, { offset: number; payload: unknown }[]> {
  const partitions = new Map<string, { offset: number; payload: unknown }[]>();
  for (const { partition, offset, payload } of records) {
    const list = partitions.get(partition) ?? [];
    list.push({ offset, payload });
    partitions.set(partition, list);
  }
  return new Map([...partitions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Makes `create` see `stream` as process.stdin or process.stdout: swapped only while `create`
 * runs synchronously (up to its first await, where the console sink and the stdin source take
 * the stream), so the test runner itself never writes to or reads from the stand-in.
 */
export function withProcessStream<T>(name: 'stdin' | 'stdout', stream: unknown, create: () => Promise<T>): Promise<T> {
  const original = Object.getOwnPropertyDescriptor(process, name)!;
  Object.defineProperty(process, name, { value: stream, configurable: true, enumerable: true, writable: false });
  try {
    return create();
  } finally {
    Object.defineProperty(process, name, original);
  }
}

/** Resolves after ms. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Creates a topic and waits for its leaders. */
export async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** Produces `values` in order, value i to partition i mod partitions; returns each one's partition and offset. */
export async function produce(
  topic: string,
  partitions: number,
  values: readonly string[],
): Promise<{ partition: number; offset: number }[]> {
  const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const next = new Array<number>(partitions).fill(0);
    const placed = values.map((_, i) => ({ partition: i % partitions, offset: next[i % partitions]++ }));
    for (let from = 0; from < values.length; from += 2000) {
      const messages = values.slice(from, from + 2000).map((value, j) => ({ value, partition: placed[from + j].partition }));
      await producer.send({ topic, acks: -1, messages });
    }
    return placed;
  } finally {
    await producer.disconnect();
  }
}

/** Every message of a topic from its start, once its end offsets are reached (partition order within each partition). */
export async function readTopic(
  topic: string,
  timeoutMs = 30_000,
): Promise<{ key: string | null; headers: Record<string, string>; value: string }[]> {
  const admin = testKafka().admin();
  await admin.connect();
  let ends: { partition: number; high: string }[];
  try {
    ends = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const total = ends.reduce((sum, e) => sum + Number(e.high), 0);
  if (total === 0) return [];
  const consumer = testKafka().consumer({ groupId: uniqueName('compliance-reader') });
  await consumer.connect();
  const byPartitionRead = new Map<number, { key: string | null; headers: Record<string, string>; value: string }[]>();
  let received = 0;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`only ${received} of ${total} messages of ${topic} arrived in ${timeoutMs} ms`)),
        timeoutMs,
      );
      void consumer.run({
        eachMessage: ({ partition, message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]));
          const list = byPartitionRead.get(partition) ?? [];
          list.push({ key: message.key?.toString() ?? null, headers, value: message.value?.toString() ?? '' });
          byPartitionRead.set(partition, list);
          if (++received >= total) {
            clearTimeout(timer);
            resolve();
          }
          return Promise.resolve();
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return [...byPartitionRead].sort(([a], [b]) => a - b).flatMap(([, messages]) => messages);
}

/** Deletes topics, best effort: a test's leftovers must not fail it. */
export async function deleteTopics(topics: string[]): Promise<void> {
  let admin: Admin | undefined;
  try {
    admin = testKafka().admin();
    await admin.connect();
    await admin.deleteTopics({ topics, timeout: 10_000 });
  } catch {
    // left for the stack's `down` to remove
  } finally {
    await admin?.disconnect().catch(() => undefined);
  }
}

/** A row with its Dates as ISO strings, as JSON output has them. */
export function canonicalRow(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : v]));
}

/** Rows with Dates as ISO strings and sorted, so outputs compare whatever their order and medium. */
export function canonicalRows(rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map(canonicalRow).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

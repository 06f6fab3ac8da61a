import type { Admin, Consumer } from 'kafkajs';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaBrokers } from './stack.js';

export function testKafka(): Kafka {
  return new Kafka({ clientId: 'runnel-tests', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
}

/** Waits until a consumer group has committed every partition of a topic up to its end. */
export async function waitForCaughtUp(admin: Admin, group: string, topic: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = (await admin.fetchOffsets({ groupId: group, topics: [topic] })).at(0);
    const lag = ends.reduce((sum, end) => {
      const at = committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
      return sum + Number(end.high) - Math.max(0, Number(at));
    }, 0);
    if (lag === 0) return;
    if (Date.now() > deadline) throw new Error(`group ${group} still ${lag} records behind on ${topic} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Waits until a consumer group has at least one member: the runner is up and consuming. */
export async function waitForMember(admin: Admin, group: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { groups } = await admin.describeGroups([group]);
    if (groups[0]?.state === 'Stable' && groups[0].members.length > 0) return;
    if (Date.now() > deadline) throw new Error(`no runner joined group ${group} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A message of a row topic (the kafka sink's): its key, row and document version. */
export interface RowMessage {
  key: string;
  row: Record<string, unknown>;
  version: number;
}

/**
 * Reads a topic from its start as a `read_committed` consumer does, for as long as it runs: the
 * rows of transactions that aborted (a runner killed mid-batch) never show.
 */
export class RowTopicReader {
  readonly messages: RowMessage[] = [];

  private constructor(private readonly consumer: Consumer) {}

  static async start(topic: string): Promise<RowTopicReader> {
    const consumer = testKafka().consumer({ groupId: `rows-${topic}-${Date.now()}`, readUncommitted: false, maxWaitTimeInMs: 100 });
    const reader = new RowTopicReader(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.run({
      eachMessage: async ({ message }) => {
        reader.messages.push({
          key: message.key!.toString(),
          row: JSON.parse(message.value!.toString()) as Record<string, unknown>,
          version: Number(message.headers?.['runnel-version']?.toString()),
        });
      },
    });
    await joined;
    return reader;
  }

  /** Once no message has come for `quietMs`: what was committed before the call has arrived by then. */
  async settled(quietMs = 800): Promise<RowMessage[]> {
    let count = -1;
    while (count !== this.messages.length) {
      count = this.messages.length;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
    }
    return this.messages;
  }

  /** The row of the highest version of each key: what a reader keeping the latest row per key holds. */
  latest(): Record<string, unknown>[] {
    const latest = new Map<string, RowMessage>();
    for (const m of this.messages) if ((latest.get(m.key)?.version ?? -1) < m.version) latest.set(m.key, m);
    return [...latest.values()].map((m) => m.row);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}

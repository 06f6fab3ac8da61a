import type { Admin } from 'kafkajs';
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

import type { Producer } from 'kafkajs';
import { RunnelError } from '../../errors.js';
import { strictObject, text } from '../fragments.js';
import { kafkaConnectionProperties, lintKafkaConnection } from './connection.js';
import type { DeadLetterSpec } from '../spec.js';

/** A new dead-letter topic gets one partition: ordered, and small by nature. */
const NEW_TOPIC_PARTITIONS = 1;

const config = strictObject('Send rejected records to a Kafka topic (created with one partition if it does not exist).', {
  ...kafkaConnectionProperties,
  topic: text('The dead-letter topic.', { examples: ['adnetwork-dead-letters'] }),
});

export const kafkaDeadLetter: DeadLetterSpec<typeof config> = {
  slot: 'deadLetter',
  name: 'kafka',
  summary:
    'Produces each rejected record to a Kafka topic as a JSON message {reason, detail, partition, offset, payload, at}, keyed by its source partition, with a `reason` header.',
  config,
  examples: [
    { title: 'A dead-letter topic', yaml: 'kafka:\n  brokers: ${KAFKA_BROKERS:-127.0.0.1:9092}\n  topic: adnetwork-dead-letters\n' },
  ],
  lint: lintKafkaConnection,
  async create(config, { logger }) {
    // loaded on use, so validating a pipeline does not load the Kafka client
    const { kafkaClient } = await import('./client.js');
    const log = logger.child({ component: 'kafka-dead-letters' });
    const kafka = kafkaClient(config, log, { retry: { retries: 5 } });
    const where = `dead-letter topic ${config.topic} at ${([] as string[]).concat(config.brokers).join(',')}`;
    const admin = kafka.admin();
    const producer: Producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    try {
      await admin.connect();
      if (!(await admin.listTopics()).includes(config.topic)) {
        await admin.createTopics({ topics: [{ topic: config.topic, numPartitions: NEW_TOPIC_PARTITIONS }], waitForLeaders: true });
        log.info({ topic: config.topic }, 'created the dead-letter topic');
      }
      await producer.connect();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw new RunnelError(`Kafka ${where}: ${(error as Error).message}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    return {
      async write(deadLetters) {
        const messages = deadLetters.map((d) => ({ key: d.partition, value: JSON.stringify(d), headers: { reason: d.reason } }));
        try {
          // acks from every in-sync replica: stored before the batch's offsets are committed
          await producer.send({ topic: config.topic, acks: -1, messages });
        } catch (error) {
          throw new RunnelError(`Kafka ${where}: sending ${messages.length} dead letters failed: ${(error as Error).message}`);
        }
      },
      async close() {
        await producer.disconnect();
      },
    };
  },
};

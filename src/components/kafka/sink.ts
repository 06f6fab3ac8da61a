import type { Static } from '@sinclair/typebox';
import { sinkUseOf, type SinkSpec } from '../spec.js';
import { choice, duration, integer, strictObject, text } from '../fragments.js';
import { Type } from '@sinclair/typebox';
import { kafkaConnectionProperties, lintKafkaConnection } from './connection.js';
import type { Plan } from '../../engine/plan.js';
import type { KafkaSourceConfig } from './source.js';
import { topicList } from './partitions.js';

const config = strictObject(
  'Write result rows to a Kafka topic as JSON, keyed by window and group key, in one transaction per batch with the offsets it consumed.',
  {
    ...kafkaConnectionProperties,
    topic: text('The topic rows go to; created compacted (`cleanup.policy=compact`) if it does not exist.', {
      examples: ['adnetwork-ctr'],
    }),
    emit: choice(
      ['updates', 'final'],
      "`updates`: after each batch, the rows that changed (a compacted topic then holds each row's latest value). `final`: one row per window and key once the window is final; not beside a Kafka source, where a window that closes while the runner is down would be missed.",
      { default: 'updates' },
    ),
    partitions: integer('Partitions of the topic when Runnel creates it.', { minimum: 1, default: 6 }),
    transactionalId: Type.Optional(
      text(
        "The producer's transactional id; each runner needs its own. A runner restarted with the same id aborts the transaction its crash left open at once; by default each run takes a fresh id, and an open transaction holds `read_committed` readers back until `transactionTimeout`.",
        { examples: ['runnel-ctr-${HOSTNAME}'] },
      ),
    ),
    transactionTimeout: duration('How long a transaction may stay open before the broker aborts it (a crashed runner).', {
      default: '15s',
    }),
    connectTimeout: duration('How long start-up may take (connecting, creating the topic) before the run fails with a message.', {
      default: '30s',
    }),
  },
);
export type KafkaSinkConfig = Static<typeof config>;

export const kafkaSink: SinkSpec<typeof config> = {
  slot: 'sink',
  name: 'kafka',
  summary:
    "Produces each row to a Kafka topic as JSON, keyed by `[window start, ...group key]`, with the document's version in header `runnel-version`; each batch's rows and its consumed offsets are committed in one transaction (read with `isolation.level=read_committed`).",
  config,
  examples: [
    {
      title: 'Rows as they change, to a compacted topic',
      yaml: 'kafka:\n  brokers: ${KAFKA_BROKERS:-127.0.0.1:9092}\n  topic: adnetwork-ctr\n',
    },
  ],
  lint: lintKafkaConnection,
  durable: true,
  holds: (config) => [
    { what: `Kafka topic \`${config.topic}\``, why: 'a pipeline must not read the rows it writes, nor two sinks write one topic' },
  ],
  async create(config, context) {
    // loaded on use, so validating a pipeline does not load the Kafka client
    const { KafkaRowWriter } = await import('./row-writer.js');
    const { RowSink } = await import('../sinks/row-sink.js');
    const use = sinkUseOf(context);
    const logger = context.logger.child({ component: 'kafka-sink', sink: use.label });
    const writer = await KafkaRowWriter.start(config, consumerGroups(context.plan), {
      pipeline: context.plan.name,
      label: use.label,
      logger,
      signal: context.signal,
    });
    return new RowSink(context.plan, { emit: config.emit, document: use.document, reemitUnchanged: true }, writer);
  },
};

/** The consumer group of every topic the pipeline's Kafka sources read: the offsets a transaction commits go to it. */
function consumerGroups(plan: Plan): Map<string, string> {
  const groups = new Map<string, string>();
  for (const source of plan.sources) {
    if (source.name !== 'kafka') continue;
    const { topics, group } = source.config as KafkaSourceConfig;
    for (const topic of topicList(topics)) groups.set(topic, group);
  }
  return groups;
}

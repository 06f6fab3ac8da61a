import type { Static } from '@sinclair/typebox';
import { COUNTED_TWICE, type SourceSpec } from '../spec.js';
import { duration, integer, strictObject, stringOrList, text } from '../fragments.js';
import { kafkaConnectionProperties, lintKafkaConnection } from './connection.js';
import { parsePartitionId, topicList } from './partitions.js';

/** Records fetched ahead of the engine at most: fetching pauses beyond (about 16 MB of impressions). */
const MAX_QUEUED = 100_000;

const config = strictObject('Consume JSON records from Apache Kafka.', {
  ...kafkaConnectionProperties,
  topics: stringOrList('The topic or topics to consume.', { examples: ['adnetwork-topic'] }),
  group: text('Consumer group id. Runners that share a group share the partitions.', { examples: ['runnel-impressions'] }),
  start: text('Where a group with no committed offsets starts: `earliest`, `latest`, or an ISO-8601 timestamp to replay from.', {
    pattern: '^(earliest|latest|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2}))$',
    default: 'earliest',
    examples: ['earliest', 'latest', '2026-01-01T00:00:00Z'],
  }),
  maxBytesPerPartition: integer('Largest fetch per partition, in bytes: large fetches cost less per record.', {
    minimum: 1024,
    default: 4194304,
  }),
  connectTimeout: duration(
    'How long start-up may take (connecting, checking the topics, joining the group) before the run fails with a message saying which brokers did not answer.',
    { default: '30s' },
  ),
});
export type KafkaSourceConfig = Static<typeof config>;

export const kafkaSource: SourceSpec<typeof config> = {
  slot: 'source',
  name: 'kafka',
  summary: 'Consumes records from Apache Kafka topics in a consumer group; offsets are committed only after the sink has stored a batch.',
  config,
  examples: [
    {
      title: 'A consumer group on one topic',
      yaml: 'kafka:\n  brokers: ${KAFKA_BROKERS:-127.0.0.1:9092}\n  topics: adnetwork-topic\n  group: runnel-impressions\n  start: earliest\n',
    },
  ],
  lint: lintKafkaConnection,
  replays: true,
  holds: (config) => topicList(config.topics).map((topic) => ({ what: `Kafka topic \`${topic}\``, why: COUNTED_TWICE })),
  // kafkajs's assignors give every member of a group any of the group's topics, subscribed or not:
  // the sources of one group are read by one consumer subscribed to all their topics
  shared: {
    key: (config) => `consumer group \`${config.group}\``,
    combine(configs) {
      const [first, ...others] = configs as (KafkaSourceConfig & Record<string, unknown>)[];
      for (const other of others) {
        const keys = new Set([...Object.keys(first), ...Object.keys(other)]);
        const differ = [...keys].filter((key) => key !== 'topics' && JSON.stringify(first[key]) !== JSON.stringify(other[key]));
        if (differ.length > 0) {
          return {
            problem: `one consumer reads them, and their ${differ.map((k) => `\`${k}\``).join(', ')} differ`,
            hint: 'give them the same settings but `topics`, or each a group of its own',
          };
        }
      }
      return { config: { ...first, topics: configs.flatMap((c) => topicList(c.topics)) } };
    },
    owns: (config, partition) => topicList(config.topics).includes(parsePartitionId(partition).topic),
  },
  async create(config, { plan, logger, signal }) {
    // loaded on use, so validating a pipeline does not load the Kafka client
    const { KafkaThread } = await import('./thread.js');
    const log = logger.child({ component: 'kafka-source' });
    return KafkaThread.start(config, Math.min(2 * plan.batch.maxRecords, MAX_QUEUED), log, signal);
  },
};

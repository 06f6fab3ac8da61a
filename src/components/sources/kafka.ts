import type { LintIssue, SourceSpec } from '../spec.js';
import type { ConnectionLog } from '../kafka/client.js';
import { duration, integer, secret, strictObject, stringOrList, text } from '../../schema/fragments.js';
import { parseDuration } from '../../config/duration.js';

export interface KafkaSourceConfig {
  brokers: string | string[];
  topics: string | string[];
  group: string;
  start?: string;
  clientId?: string;
  sasl?: { mechanism: string; username?: string; password?: string };
  tls?: boolean | { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  maxBytesPerPartition?: number;
  connectTimeout?: string;
}

export const kafkaSource: SourceSpec<KafkaSourceConfig> = {
  slot: 'source',
  name: 'kafka',
  summary: 'Consumes records from Apache Kafka topics in a consumer group; offsets are committed only after the sink has stored a batch.',
  config: strictObject(
    'Consume JSON records from Apache Kafka.',
    {
      brokers: stringOrList('Bootstrap brokers, as a list or a comma-separated string (host:port).', [
        '${KAFKA_BROKERS:-127.0.0.1:9092}',
        ['kafka-1:9092', 'kafka-2:9092'],
      ]),
      topics: stringOrList('The topic or topics to consume.', ['adnetwork-topic']),
      group: text('Consumer group id. Runners that share a group share the partitions.', {
        examples: ['runnel-impressions'],
      }),
      start: {
        type: 'string',
        pattern: '^(earliest|latest|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2}))$',
        default: 'earliest',
        description:
          'Where a group with no committed offsets starts: `earliest`, `latest`, or an ISO-8601 timestamp to replay from.',
        examples: ['earliest', 'latest', '2026-01-01T00:00:00Z'],
      },
      clientId: text('Client id reported to the brokers.', { default: 'runnel' }),
      sasl: strictObject(
        'SASL authentication.',
        {
          mechanism: { enum: ['plain', 'scram-sha-256', 'scram-sha-512'], description: 'SASL mechanism.' },
          username: text('SASL user name.'),
          password: secret('SASL password.'),
        },
        ['mechanism', 'username', 'password'],
      ),
      tls: {
        type: ['boolean', 'object'],
        description: 'TLS to the brokers: `true` for the system CAs, or an object with PEM file paths.',
        properties: {
          ca: text('Path to a PEM file of trusted CAs.'),
          cert: text('Path to the client certificate (PEM).'),
          key: text('Path to the client key (PEM).'),
          rejectUnauthorized: { type: 'boolean', default: true, description: 'Verify the brokers\' certificates.' },
        },
        additionalProperties: false,
      },
      maxBytesPerPartition: integer('Largest fetch per partition, in bytes.', 1024, 1048576),
      connectTimeout: duration(
        'How long start-up may take (connecting, checking the topics, joining the group) before the run fails with a message saying which brokers did not answer.',
        '30s',
      ),
    },
    ['brokers', 'topics', 'group'],
  ),
  examples: [
    {
      title: 'A consumer group on one topic',
      yaml: 'kafka:\n  brokers: ${KAFKA_BROKERS:-127.0.0.1:9092}\n  topics: adnetwork-topic\n  group: runnel-impressions\n  start: earliest\n',
    },
  ],
  lint(config): LintIssue[] {
    const issues: LintIssue[] = [];
    const tls = config.tls;
    if (typeof tls === 'object' && (tls.cert === undefined) !== (tls.key === undefined)) {
      issues.push({ path: ['tls'], message: 'tls.cert and tls.key go together', hint: 'give both, or neither' });
    }
    return issues;
  },
  async create(config, { plan, logger, signal }) {
    // loaded on use, so validating a pipeline does not load the Kafka client
    const [{ kafkaClient }, { KafkaRuntime }] = await Promise.all([import('../kafka/client.js'), import('./kafka-runtime.js')]);
    const log = logger.child({ component: 'kafka-source' });
    const startupMs = parseDuration(config.connectTimeout ?? '30s');
    // one connection attempt never outlasts start-up as a whole
    const connectionLog: ConnectionLog = {};
    const client = kafkaClient(config, log, { connectionTimeout: Math.max(100, Math.min(5000, startupMs)) }, connectionLog);
    return KafkaRuntime.start(client, config, 2 * plan.batch.maxRecords, log, signal, startupMs, connectionLog);
  },
};

import type { LintIssue } from '../spec.js';
import type { JsonSchema } from '../../json-schema.js';
import { secret, strictObject, stringOrList, text } from '../fragments.js';

/** How to reach and log in to a Kafka cluster: shared by everything that talks to Kafka. */
export interface KafkaConnection {
  brokers: string | string[];
  clientId?: string;
  sasl?: { mechanism: string; username?: string; password?: string };
  tls?: boolean | { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
}

/** The schema properties of a KafkaConnection, for a component's config. */
export const kafkaConnectionProperties: Record<keyof KafkaConnection, JsonSchema> = {
  brokers: stringOrList('Bootstrap brokers, as a list or a comma-separated string (host:port).', [
    '${KAFKA_BROKERS:-127.0.0.1:9092}',
    ['kafka-1:9092', 'kafka-2:9092'],
  ]),
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
};

export function lintKafkaConnection(config: KafkaConnection): LintIssue[] {
  const tls = config.tls;
  if (typeof tls === 'object' && (tls.cert === undefined) !== (tls.key === undefined)) {
    return [{ path: ['tls'], message: 'tls.cert and tls.key go together', hint: 'give both, or neither' }];
  }
  return [];
}

import type { LintIssue } from '../spec.js';
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { boolean, choice, secret, strictObject, stringOrList, text } from '../fragments.js';

/** How to reach and log in to a Kafka cluster: the properties shared by every component that talks to Kafka. */
export const kafkaConnectionProperties = {
  brokers: stringOrList('Bootstrap brokers, as a list or a comma-separated string (host:port).', {
    examples: ['${KAFKA_BROKERS:-127.0.0.1:9092}', ['kafka-1:9092', 'kafka-2:9092']],
  }),
  clientId: text('Client id reported to the brokers.', { default: 'runnel' }),
  sasl: Type.Optional(
    strictObject('SASL authentication.', {
      mechanism: choice(['plain', 'scram-sha-256', 'scram-sha-512'], 'SASL mechanism.'),
      username: text('SASL user name.'),
      password: secret('SASL password.'),
    }),
  ),
  tls: Type.Optional(
    Type.Union(
      [
        Type.Boolean(),
        strictObject('PEM files of the TLS connection.', {
          ca: Type.Optional(text('Path to a PEM file of trusted CAs.')),
          cert: Type.Optional(text('Path to the client certificate (PEM).')),
          key: Type.Optional(text('Path to the client key (PEM).')),
          rejectUnauthorized: boolean("Verify the brokers' certificates.", { default: true }),
        }),
      ],
      { description: 'TLS to the brokers: `true` for the system CAs, or an object with PEM file paths.' },
    ),
  ),
};

export type KafkaConnection = Static<TObject<typeof kafkaConnectionProperties>>;

export function lintKafkaConnection(config: KafkaConnection): LintIssue[] {
  const tls = config.tls;
  if (typeof tls === 'object' && (tls.cert === undefined) !== (tls.key === undefined)) {
    return [{ path: ['tls'], message: 'tls.cert and tls.key go together', hint: 'give both, or neither' }];
  }
  return [];
}

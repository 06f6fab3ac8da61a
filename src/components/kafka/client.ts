import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConnection } from './connection.js';
import { RunnelError } from '../../errors.js';

export function brokerList(brokers: string | string[]): string[] {
  return ([] as string[])
    .concat(brokers)
    .flatMap((b) => b.split(','))
    .map((b) => b.trim())
    .filter(Boolean);
}

const levels: Partial<Record<number, 'error' | 'warn' | 'info' | 'debug'>> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** What a client's logs say about its connection: the last error, for a start-up failure to quote; `muted` drops the rest. */
export interface ConnectionLog {
  lastError?: string;
  muted?: boolean;
}

/** A kafkajs client whose logs go through pino (kafkajs's own INFO chatter is kept at debug). */
export function kafkaClient(
  connection: KafkaConnection,
  logger: Logger,
  overrides: Partial<KafkaConfig> = {},
  connectionLog: ConnectionLog = {},
): Kafka {
  const tls = connection.tls;
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: connection.clientId,
    brokers: brokerList(connection.brokers),
    ssl:
      typeof tls === 'object'
        ? {
            ca: tls.ca ? [readFileSync(tls.ca, 'utf8')] : undefined,
            cert: tls.cert ? readFileSync(tls.cert, 'utf8') : undefined,
            key: tls.key ? readFileSync(tls.key, 'utf8') : undefined,
            rejectUnauthorized: tls.rejectUnauthorized,
          }
        : tls,
    sasl: connection.sasl as SASLOptions | undefined,
    connectionTimeout: 5000,
    logLevel: logLevel.INFO,
    logCreator: () => (entry) => {
      if (connectionLog.muted) return;
      const level = levels[entry.level] ?? 'debug';
      const { message, ...fields } = entry.log;
      if (level === 'error') connectionLog.lastError = message;
      log[level === 'info' ? 'debug' : level]({ ...fields, namespace: entry.namespace }, message);
    },
    ...overrides,
  });
}

/**
 * Startup within a bounded time, with a message that says what failed (and the client's last
 * connection error) rather than a kafkajs stack. After a failure the client's retry chatter is muted.
 */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string, connectionLog: ConnectionLog = {}): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => {}); // still running after a timeout; its own end is of no interest then
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const last = connectionLog.lastError ? ` (last error: ${connectionLog.lastError})` : '';
          reject(
            new RunnelError(`${what} did not answer within ${ms / 1000} s${last}; check that the brokers run and the address is right`),
          );
        }, ms);
      }),
    ]);
  } catch (err) {
    connectionLog.muted = true;
    if (err instanceof RunnelError) throw err;
    throw new RunnelError(`${what}: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
}

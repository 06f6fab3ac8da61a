/**
 * Whether the local integration stack (scripts/stack: Kafka + FerretDB) is reachable, and what
 * integration tests do about it: run when it is; when it is not, skip with one line locally, but
 * fail under CI=true so a broken CI stack can never pass as "all skipped".
 *
 *   const stack = await requireStack('mongodb');
 *   describe('MongoStateStore (integration)', stack, () => { ... });
 */
import { connect } from 'node:net';
import { test } from 'node:test';
import { MongoClient } from 'mongodb';
import { redactUrlCredentials } from '../../src/redact.js';
import { applyDefaults } from '../../src/components/fragments.js';
import { mongodbSink, type MongoSinkConfig } from '../../src/components/mongodb/sink.js';

export type StackService = 'mongodb' | 'kafka';

export const START_HINT = 'start the stack with scripts/stack up';

export function mongoUri(): string {
  return process.env.MONGODB_URI ?? 'mongodb://127.0.0.1:27017';
}

/** A MongoDB sink's config as a pipeline would give it: these names, the sink's defaults for the rest. */
export function mongoSinkConfig(database: string, collection: string, uri = mongoUri()): MongoSinkConfig {
  return applyDefaults(mongodbSink.config, { uri, database, collection });
}

export function kafkaBrokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

/** True when a MongoDB-wire server answers a ping within timeoutMs. */
export async function mongoAvailable(uri = mongoUri(), timeoutMs = 2000): Promise<boolean> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs });
  try {
    await client.connect();
    await client.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** True when a TCP connection to host:port opens within timeoutMs. */
export function tcpReachable(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** True when the first Kafka broker accepts a TCP connection. */
export async function kafkaAvailable(brokers = kafkaBrokers(), timeoutMs = 2000): Promise<boolean> {
  const [first] = brokers;
  if (!first) return false;
  const colon = first.lastIndexOf(':');
  const host = colon > 0 ? first.slice(0, colon) : first;
  const port = colon > 0 ? Number(first.slice(colon + 1)) : 9092;
  return tcpReachable(host, port, timeoutMs);
}

const probes: Record<StackService, { available: () => Promise<boolean>; address: () => string }> = {
  mongodb: { available: () => mongoAvailable(), address: () => redactUrlCredentials(mongoUri()) },
  kafka: { available: () => kafkaAvailable(), address: () => kafkaBrokers().join(',') },
};

/**
 * Test options for a describe() holding integration tests: `{ skip: false }` when every service
 * answers. Otherwise `{ skip: START_HINT }` (node:test prints that one line), and under CI=true
 * additionally a failing test naming the unreachable services.
 */
export async function requireStack(...services: StackService[]): Promise<{ skip: string | false }> {
  const down: string[] = [];
  for (const service of services) {
    if (!(await probes[service].available())) down.push(`${service} at ${probes[service].address()}`);
  }
  if (down.length === 0) return { skip: false };
  if (process.env.CI === 'true') {
    test(`integration stack reachable (${services.join(', ')})`, () => {
      throw new Error(`not reachable: ${down.join('; ')}. CI=true requires the stack: ${START_HINT}`);
    });
  }
  return { skip: START_HINT };
}

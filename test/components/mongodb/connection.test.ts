/**
 * MongoConnection against FerretDB behind a loopback proxy that can play a server whose answers
 * never come: the driver's monitor then hangs on its handshake (connectTimeoutMS is long) while
 * the server is up again, the way a runner's monitor once stalled after a database restart.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { MongoConnection } from '../../../src/components/mongodb/connection.js';
import { retryTransient } from '../../../src/components/mongodb/retry.js';
import { RunnelError } from '../../../src/errors.js';
import { BrokenProxy } from '../../helpers/proxy.js';
import { mongoUri, requireStack } from '../../helpers/stack.js';

const available = await requireStack('mongodb');

describe('MongoConnection (integration)', available, () => {
  const proxy = new BrokenProxy();
  before(() => proxy.start(new URL(mongoUri())));
  after(() => proxy.stop());

  /**
   * A connection through the proxy, connected while it passes through; then the proxy breaks for
   * 1.2 s: the monitor (checking every 500 ms) finds its connection closed, opens another and
   * waits on its handshake for 60 s (connectTimeoutMS), which no server will answer. The driver
   * would find the mended proxy only after those 60 s.
   */
  async function stalled(stallMs: number, lines: string[]): Promise<MongoConnection> {
    proxy.broken = false;
    const connection = new MongoConnection(`mongodb://127.0.0.1:${proxy.port}/?directConnection=true`, {
      clientOptions: { serverSelectionTimeoutMS: 300, connectTimeoutMS: 60_000, heartbeatFrequencyMS: 500 },
      logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }),
      where: 'proxy',
      stallMs,
    });
    await connection.client.connect();
    proxy.broken = true;
    await sleep(1200);
    proxy.broken = false;
    return connection;
  }

  const ping = (connection: MongoConnection, lines: string[], deadline: number) =>
    retryTransient(() => connection.client.db('admin').command({ ping: 1 }), {
      what: 'ping',
      where: 'proxy',
      logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }),
      connection,
      initialMs: 50,
      maxMs: 200,
      deadline,
    });

  test('a client whose monitor stalled is replaced, and the retried operation reaches the server', async () => {
    const lines: string[] = [];
    const connection = await stalled(1500, lines);
    try {
      const first = connection.client;
      const answer = await ping(connection, lines, Date.now() + 20_000);
      assert.equal(answer.ok, 1);
      assert.equal(connection.renewals, 1);
      assert.notEqual(connection.client, first);
      const warnings = lines.map((line) => JSON.parse(line) as { msg: string; silentMs?: number });
      const renewal = warnings.find((w) => w.msg.includes('has not finished a heartbeat'));
      assert.ok(renewal, `a warning says why the client was replaced: ${lines.join('')}`);
      assert.ok(renewal.silentMs! > 1500);
    } finally {
      await connection.close();
    }
  });

  test('without the watch the operation never reaches the server (the case above is real)', async () => {
    const lines: string[] = [];
    const connection = await stalled(Number.POSITIVE_INFINITY, lines);
    try {
      await assert.rejects(
        ping(connection, lines, Date.now() + 4000),
        (error: unknown) => error instanceof RunnelError && /not reachable/.test(error.message),
      );
      assert.equal(connection.renewals, 0);
    } finally {
      await connection.close();
    }
  });

  test('a server that is down (heartbeats failing) is no stall: the client is kept', async () => {
    const lines: string[] = [];
    const connection = new MongoConnection('mongodb://127.0.0.1:9/?directConnection=true', {
      clientOptions: { serverSelectionTimeoutMS: 300, connectTimeoutMS: 1000, heartbeatFrequencyMS: 500 },
      logger: pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) }),
      where: 'nothing',
      stallMs: 1500,
    });
    try {
      await assert.rejects(ping(connection, lines, Date.now() + 4000), /not reachable/);
      assert.equal(connection.renewals, 0);
    } finally {
      await connection.close();
    }
  });
});

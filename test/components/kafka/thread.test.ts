/** Errors from the Kafka worker thread arrive as they were thrown: class, message, exit code and code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { MessageChannel } from 'node:worker_threads';
import { fromThreadError, toThreadError, type ThreadError } from '../../../src/components/kafka/thread.js';
import { RunnelError } from '../../../src/errors.js';

/** The error as the main thread gets it back, sent through a message port as the worker's replies are. */
async function acrossThreads(error: Error): Promise<Error> {
  const { port1, port2 } = new MessageChannel();
  try {
    port1.postMessage(toThreadError(error));
    const [sent] = (await once(port2, 'message')) as [ThreadError];
    return fromThreadError(sent);
  } finally {
    port1.close();
  }
}

test('a RunnelError crosses the thread boundary with its exit code and code', async () => {
  const coded = await acrossThreads(new RunnelError('Kafka broker:9092 did not answer within 30 s', 3, 'server-unreachable'));
  assert.ok(coded instanceof RunnelError);
  assert.deepEqual(
    { message: coded.message, exitCode: coded.exitCode, code: coded.code },
    { message: 'Kafka broker:9092 did not answer within 30 s', exitCode: 3, code: 'server-unreachable' },
  );
  const uncoded = await acrossThreads(new RunnelError('Kafka consumer stopped: gone'));
  assert.ok(uncoded instanceof RunnelError);
  assert.deepEqual(
    { message: uncoded.message, exitCode: uncoded.exitCode, code: uncoded.code },
    { message: 'Kafka consumer stopped: gone', exitCode: 1, code: undefined },
  );
});

test('any other error crosses as a plain Error with its message', async () => {
  const plain = await acrossThreads(new TypeError('next before start'));
  assert.ok(!(plain instanceof RunnelError));
  assert.equal(plain.message, 'next before start');
});

/** The worker-thread side of KafkaThread: runs the kafkajs consumer and answers the main thread's calls. */
import { parentPort, workerData } from 'node:worker_threads';
import type { Chunk } from '../../engine/records.js';
import { createLogger } from '../../log.js';
import { parseDuration } from '../../config/duration.js';
import type { ConnectionLog } from './client.js';
import { installFastRecordDecoding } from './fast-records.js';
import type { KafkaRuntime as Runtime } from './runtime.js';
import { toThreadError, type KafkaCall, type KafkaReply, type KafkaWorkerData } from './thread.js';

const { config, maxQueued, logLevel, logBindings } = workerData as KafkaWorkerData;
const logger = createLogger(logLevel).child(logBindings);
// before kafkajs is loaded (below): its consumer takes the Batch class when it loads
const fastRecords = installFastRecordDecoding();
logger.debug({ fastRecords }, fastRecords ? 'kafkajs record decoding on numbers' : 'kafkajs decodes records with its own code');
const { kafkaClient } = await import('./client.js');
const { KafkaRuntime } = await import('./runtime.js');
const stop = new AbortController();
let runtime: Runtime | undefined;

async function answer(
  call: KafkaCall,
): Promise<{ result?: Chunk[] | null; lag?: [string, number][]; remaining?: number; transfer: ArrayBuffer[] }> {
  if (call.method === 'start') {
    const startupMs = parseDuration(config.connectTimeout);
    // one connection attempt never outlasts start-up as a whole
    const connectionLog: ConnectionLog = {};
    const client = kafkaClient(config, logger, { connectionTimeout: Math.max(100, Math.min(5000, startupMs)) }, connectionLog);
    runtime = await KafkaRuntime.start(client, config, maxQueued, logger, stop.signal, startupMs, connectionLog);
    return { transfer: [] };
  }
  if (call.method === 'abort') {
    stop.abort();
    return { transfer: [] };
  }
  if (!runtime) throw new Error(`Kafka source thread: ${call.method} before start`);
  switch (call.method) {
    case 'next': {
      const result = await runtime.next(call.maxRecords, call.waitMs, new Map(call.eventTimes));
      // each chunk's bytes own their memory (see toChunk), so they can be moved
      const transfer = (result ?? []).flatMap((chunk) => (chunk.lines ? [chunk.lines.bytes.buffer as ArrayBuffer] : []));
      return { result, lag: [...runtime.lag()], remaining: runtime.remaining(), transfer };
    }
    case 'commit':
      await runtime.commit(new Map(call.offsets), new Map(call.progress));
      return { transfer: [] };
    case 'rewind':
      await runtime.rewind();
      return { transfer: [] };
    case 'close':
      await runtime.close();
      return { transfer: [] };
  }
}

parentPort!.on('message', ({ id, call }: { id: number; call: KafkaCall }) => {
  answer(call).then(
    ({ result, lag, remaining, transfer }) => parentPort!.postMessage({ id, result, lag, remaining } satisfies KafkaReply, transfer),
    (error: Error) => parentPort!.postMessage({ id, error: toThreadError(error) } satisfies KafkaReply),
  );
});

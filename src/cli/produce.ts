import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { CompressionTypes, Partitioners, type Message } from 'kafkajs';
import { kafkaClient } from '../components/kafka/client.js';
import { ClickPicker, ImpressionGenerator } from '../components/sources/impressions.js';
import { generatorDefaults, impressionOptions } from '../components/sources/generator.js';
import { sleep } from '../engine/pacing.js';
import { RunnelError } from '../errors.js';
import { createLogger } from '../log.js';

export interface ProduceOptions {
  brokers: string;
  topic: string;
  count: number;
  file?: string;
  rate?: number;
  partitions: number;
  seed: number;
  startTime: string;
  eventsPerSecond: number;
  span?: string;
  publishers: number;
  geos: number;
  skewed: boolean;
  jitter: string;
  batchSize: number;
  /** `clicks`: the clicks on the `count` impressions, not the impressions. */
  stream: 'impressions' | 'clicks';
  clickRatio: number;
}

/** Batches built ahead of the request in flight. */
const SEND_CONCURRENCY = 4;

/** Records to send: a JSONL file's lines, or generated impressions. */
async function* records(options: ProduceOptions): AsyncGenerator<string> {
  if (options.file) {
    const lines = createInterface({ input: createReadStream(options.file), crlfDelay: Infinity });
    for await (const line of lines) if (line.trim() !== '') yield line;
    return;
  }
  // the generator source's own reading of its config, so a topic holds what `generator:` would generate
  const generator = new ImpressionGenerator(
    impressionOptions({
      ...generatorDefaults,
      count: options.count,
      seed: options.seed,
      startTime: options.startTime,
      eventsPerSecond: options.eventsPerSecond,
      span: options.span,
      publishers: options.publishers,
      geos: options.geos,
      skewed: options.skewed,
      jitter: options.jitter,
    }),
  );
  if (options.stream === 'clicks') {
    // the clicks on the impressions these options generate: a topic of them pairs with one of those
    const picker = new ClickPicker(options.seed, options.clickRatio);
    for (let i = 0; i < options.count; i++) {
      const click = picker.clickOn(generator.next());
      if (click) yield JSON.stringify(click);
    }
    return;
  }
  for (let i = 0; i < options.count; i++) yield JSON.stringify(generator.next());
}

function bar(done: number, total: number, perSecond: number): string {
  if (!Number.isFinite(total)) return `${done} records  ${perSecond}/s`;
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor((done / total) * 100)}%  ${done}/${total}  ${perSecond}/s`;
}

/**
 * `runner produce`: writes impressions (or a JSONL file) to a Kafka topic at a target rate,
 * creating the topic with the given partition count if it does not exist. A request starts once
 * the one before it is acknowledged (the next batches are built meanwhile), so every partition
 * holds its records in the order they were generated: requests sent at once let kafkajs send a
 * later one first (69 s of event time out of order at a day's span, more than a pipeline's
 * allowed lateness).
 */
export async function produceCommand(options: ProduceOptions): Promise<number> {
  const logger = createLogger().child({ command: 'produce' });
  const kafka = kafkaClient({ brokers: options.brokers, clientId: 'runnel-produce' }, logger);
  const admin = kafka.admin();
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  try {
    await admin.connect();
    if (!(await admin.listTopics()).includes(options.topic)) {
      await admin.createTopics({ topics: [{ topic: options.topic, numPartitions: options.partitions }], waitForLeaders: true });
      logger.info({ topic: options.topic, partitions: options.partitions }, 'created topic');
    }
    await admin.disconnect();
    await producer.connect();
  } catch (err) {
    throw new RunnelError(`cannot reach Kafka at ${options.brokers}: ${(err as Error).message}`);
  }

  const terminal = Boolean(process.stderr.isTTY);
  const started = Date.now();
  const total = options.file || options.stream === 'clicks' ? Infinity : options.count;
  let sent = 0;
  let lastShown = 0;
  const inFlight = new Set<Promise<void>>();
  let lastSend = Promise.resolve();
  let batch: Message[] = [];
  const flush = async (): Promise<void> => {
    const messages = batch;
    batch = [];
    const sending = lastSend
      .then(() => producer.send({ topic: options.topic, messages, acks: -1, compression: CompressionTypes.None }))
      .then(() => {
        sent += messages.length;
      });
    lastSend = sending;
    inFlight.add(sending);
    void sending.finally(() => inFlight.delete(sending));
    if (inFlight.size >= SEND_CONCURRENCY) await Promise.race(inFlight);
  };
  for await (const value of records(options)) {
    batch.push({ value });
    if (batch.length >= options.batchSize) await flush();
    if (options.rate !== undefined) {
      const ahead = (sent + inFlight.size * options.batchSize) / options.rate - (Date.now() - started) / 1000;
      if (ahead > 0.01) await sleep(ahead * 1000);
    }
    const now = Date.now();
    if (now - lastShown > (terminal ? 200 : 5000)) {
      lastShown = now;
      const perSecond = Math.round(sent / Math.max((now - started) / 1000, 1e-3));
      if (terminal) process.stderr.write(`\r\x1b[2K${bar(sent, total, perSecond)}`);
      else logger.info({ sent, perSecond }, 'producing');
    }
  }
  if (batch.length > 0) await flush();
  await Promise.all(inFlight);
  await producer.disconnect();
  const seconds = (Date.now() - started) / 1000;
  if (terminal) process.stderr.write('\r\x1b[2K');
  process.stdout.write(
    `produced ${sent} records to ${options.topic} in ${seconds.toFixed(1)} s (${Math.round(sent / Math.max(seconds, 1e-3))} records/s)\n`,
  );
  return 0;
}

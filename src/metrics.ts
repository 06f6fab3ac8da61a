/**
 * The one Prometheus registry of a Runnel process: the engine updates these as batches flow, and
 * `/metrics` (runner serve, runner run --serve) exposes them in the text format.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'runnel_process_' });

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export const metrics = {
  recordsIn: new Counter({
    name: 'runnel_records_in_total',
    help: 'Records read from the source (before filtering), per pipeline.',
    labelNames: ['pipeline'] as const,
    registers: [registry],
  }),
  sinkRecords: new Counter({
    name: 'runnel_sink_records_total',
    help: 'Records whose batch the sink stored, per pipeline and sink component.',
    labelNames: ['pipeline', 'sink'] as const,
    registers: [registry],
  }),
  sinkDocuments: new Counter({
    name: 'runnel_sink_documents_written_total',
    help: 'Documents (window x key) written per pipeline, sink and level (`base` or a rollup such as `1h`).',
    labelNames: ['pipeline', 'sink', 'level'] as const,
    registers: [registry],
  }),
  deadLetters: new Counter({
    name: 'runnel_dead_letters_total',
    help: 'Rejected records, per pipeline and reason.',
    labelNames: ['pipeline', 'reason'] as const,
    registers: [registry],
  }),
  batchSeconds: new Histogram({
    name: 'runnel_batch_duration_seconds',
    help: 'Wall-clock time to store one batch (dead letters, merge into every level, emit, commit).',
    labelNames: ['pipeline'] as const,
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  }),
  sinkWriteSeconds: new Histogram({
    name: 'runnel_sink_write_duration_seconds',
    help: 'Latency of merging one batch into the sink store, per level (`base` or a rollup such as `1h`).',
    labelNames: ['pipeline', 'level'] as const,
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  }),
  consumerLag: new Gauge({
    name: 'runnel_consumer_lag_records',
    help: 'Records in the source beyond the last committed offset, per partition (Kafka sources).',
    labelNames: ['pipeline', 'partition'] as const,
    registers: [registry],
  }),
  watermark: new Gauge({
    name: 'runnel_watermark_seconds',
    help: 'Event-time watermark of the pipeline, in seconds since the epoch.',
    labelNames: ['pipeline'] as const,
    registers: [registry],
  }),
  batches: new Counter({
    name: 'runnel_batches_total',
    help: 'Non-empty batches stored, per pipeline.',
    labelNames: ['pipeline'] as const,
    registers: [registry],
  }),
  httpSeconds: new Histogram({
    name: 'runnel_http_request_duration_seconds',
    help: 'Serving-layer request latency, per route and status code.',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: SECONDS_BUCKETS,
    registers: [registry],
  }),
};

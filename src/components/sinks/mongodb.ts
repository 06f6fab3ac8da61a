import type { SinkSpec } from '../spec.js';
import { toRow } from '../../engine/rows.js';
import { duration, integer, strictObject, text } from '../../schema/fragments.js';
import { parseDuration } from '../../config/duration.js';

export interface MongoSinkConfig {
  uri: string;
  database: string;
  collection: string;
  writeBatchSize?: number;
  connectTimeout?: string;
}

export const mongodbSink: SinkSpec<MongoSinkConfig> = {
  slot: 'sink',
  name: 'mongodb',
  summary:
    'Merges each batch into one MongoDB document per window and group key, exactly once per source offset.',
  config: strictObject(
    'Store aggregates in MongoDB (4.4 or newer, or a wire-compatible server).',
    {
      uri: text('Connection string. Credentials in it are never printed.', {
        examples: ['${MONGODB_URI:-mongodb://127.0.0.1:27017}'],
      }),
      database: text('Database name.', { examples: ['adlogdb'] }),
      collection: text('Collection name.', { examples: ['impsPerPubGeo'] }),
      writeBatchSize: integer('Most documents in one bulkWrite.', 1, 1000),
      connectTimeout: duration(
        'How long connecting may take before the run fails with a message saying the server is not reachable.',
        '15s',
      ),
    },
    ['uri', 'database', 'collection'],
  ),
  examples: [
    {
      title: 'Per-minute documents',
      yaml: 'mongodb:\n  uri: ${MONGODB_URI:-mongodb://127.0.0.1:27017}\n  database: adlogdb\n  collection: impsPerPubGeo\n',
    },
  ],
  async create(config, { plan, logger, signal }) {
    // loaded on use, so validating a pipeline does not load the MongoDB driver
    const { MongoStateStore } = await import('./mongodb-store.js');
    const identity = new Set(['window.start', ...plan.groupBy.map((k) => k.name)]);
    const store = await MongoStateStore.connect({
      uri: config.uri,
      database: config.database,
      collection: config.collection,
      render: (doc) => toRow(doc, plan),
      indexFields: plan.sink.document.filter((f) => identity.has(f.from)).map((f) => f.target),
      writeBatchSize: config.writeBatchSize,
      connectTimeoutMs: parseDuration(config.connectTimeout ?? '15s'),
      logger: logger.child({ component: 'mongodb-sink' }),
      signal,
    });
    return {
      store,
      // every batch is merged into its documents as it is written: nothing is left to emit
      afterBatch: async () => {},
      close: () => store.close(),
    };
  },
};

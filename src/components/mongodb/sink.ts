import type { Static } from '@sinclair/typebox';
import { sinkUseOf, type SinkSpec } from '../spec.js';
import { toRow } from '../../engine/rows.js';
import { levelLabel, type RollupLevel } from '../../engine/rollups.js';
import { duration, integer, strictObject, text } from '../fragments.js';
import type { MongoStateStore } from './store.js';
import type { MeaningGuard } from './meaning.js';

const config = strictObject('Store aggregates in MongoDB (4.4 or newer, or a wire-compatible server).', {
  uri: text('Connection string. Credentials in it are never printed.', { examples: ['${MONGODB_URI:-mongodb://127.0.0.1:27017}'] }),
  database: text('Database name.', { examples: ['adlogdb'] }),
  collection: text('Collection name.', { examples: ['impsPerPubGeo'] }),
  writeBatchSize: integer('Most documents in one bulkWrite.', { minimum: 1, default: 1000 }),
  connectTimeout: duration('How long connecting may take before the run fails with a message saying the server is not reachable.', {
    default: '15s',
  }),
});
export type MongoSinkConfig = Static<typeof config>;

export const mongodbSink: SinkSpec<typeof config> = {
  slot: 'sink',
  name: 'mongodb',
  summary:
    'Merges each batch into one MongoDB document per window and group key, exactly once per source offset; rollup level L goes to collection `<collection>_L`.',
  config,
  examples: [
    {
      title: 'Per-minute documents',
      yaml: 'mongodb:\n  uri: ${MONGODB_URI:-mongodb://127.0.0.1:27017}\n  database: adlogdb\n  collection: impsPerPubGeo\n',
    },
  ],
  keeps: true,
  async reader(config, plan, document, logger) {
    const { MongoReader } = await import('./reader.js');
    return MongoReader.create(plan, document, config, undefined, logger);
  },
  async create(config, context) {
    const { plan, logger, signal } = context;
    const { document } = sinkUseOf(context);
    // loaded on use, so validating a pipeline does not load the MongoDB driver
    const [{ MongoStateStore }, { MeaningGuard }] = await Promise.all([import('./store.js'), import('./meaning.js')]);
    const identity = new Set(['window.start', ...plan.groupBy.map((k) => k.name)]);
    const loggerFor = (collection: string) => logger.child({ component: 'mongodb-sink', collection });
    const store = await MongoStateStore.connect({
      ...config,
      render: (doc) => toRow(doc, plan, document),
      indexFields: document.filter((f) => identity.has(f.from)).map((f) => f.target),
      logger: loggerFor(config.collection),
      signal,
    });
    const rollups: (RollupLevel & { store: MongoStateStore })[] = [];
    let meaning: MeaningGuard;
    try {
      // level L of collection C lives in C_L (impsPerPubGeo_1h), documents shaped like C's
      for (const sizeMs of plan.window.rollups) {
        const label = levelLabel(sizeMs);
        const collection = rollupCollection(config.collection, sizeMs);
        const levelStore = await store.sibling(collection, loggerFor(collection));
        rollups.push({ sizeMs, label, store: levelStore });
      }
      meaning = await MeaningGuard.start(
        store,
        rollups.map((level) => level.store),
        plan,
        loggerFor(config.collection),
        signal,
      );
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
    return {
      store,
      rollups,
      verify: () => meaning.verify(),
      // every batch is merged into its documents as it is written: nothing is left to emit
      afterBatch: async () => {},
      // for `runner serve` in another process: one small document per pipeline in <collection>.runnel_status
      reportStatus: async ({ windows, ...status }) => {
        await store.connection.client
          .db(config.database)
          .collection<{ _id: string }>(statusCollection(config.collection))
          .updateOne(
            { _id: status.pipeline },
            {
              // lag as a list: partition names (topic/partition) may hold characters field names cannot
              $set: { ...status, lag: Object.entries(status.lag).map(([partition, lag]) => ({ partition, lag })) },
              // the extent of every run so far, whichever runner publishes last
              ...(windows ? { $min: { 'extent.first': windows.first }, $max: { 'extent.last': windows.last } } : {}),
            },
            { upsert: true },
          );
      },
      // the level stores share the base store's connection
      close: () => store.close(),
    };
  },
};

/** Where a run publishes its live status (one document per pipeline name). */
export function statusCollection(collection: string): string {
  return `${collection}.runnel_status`;
}

/** The collection holding rollup level `sizeMs` of base collection `collection`: `impsPerPubGeo_1h`. */
export function rollupCollection(collection: string, sizeMs: number): string {
  return `${collection}_${levelLabel(sizeMs)}`;
}

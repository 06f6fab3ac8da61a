/**
 * The recorded meaning of a MongoDB sink's documents, against the real database: runners that start
 * together, and one that outlives its version.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import pino from 'pino';
import { MeaningGuard, meaningCollection } from '../../../src/components/mongodb/meaning.js';
import { MongoStateStore } from '../../../src/components/mongodb/store.js';
import { fingerprintOf, meaningOf } from '../../../src/engine/meaning.js';
import { RunnelError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { mongoSinkConfig, mongoUri, requireStack } from '../../helpers/stack.js';
import { pipelineOfAggregates } from '../../helpers/pipeline.js';

const plan = pipelineOfAggregates;

describe('MeaningGuard (integration)', await requireStack('mongodb'), () => {
  const database = `runnel_meaning_${process.pid}_${Date.now().toString(36)}`;
  let client: MongoClient;
  const stores: MongoStateStore[] = [];
  const connect = async (collection: string) => {
    const store = await MongoStateStore.connect({
      ...mongoSinkConfig(database, collection),
      render: () => ({}),
      indexFields: [],
      logger: silentLogger,
    });
    stores.push(store);
    return store;
  };

  before(async () => {
    client = await new MongoClient(mongoUri()).connect();
  });

  after(async () => {
    for (const store of stores) await store.close().catch(() => undefined);
    await client
      .db(database)
      .dropDatabase()
      .catch(() => undefined);
    await client.close();
  });

  it('runners starting at the same moment all start, and one meaning is recorded', async () => {
    const v1 = plan('  n: count');
    const starting = await Promise.all(Array.from({ length: 6 }, () => connect('together')));
    await Promise.all(starting.map((store) => MeaningGuard.start(store, [], v1, silentLogger)));
    const recorded = await client.db(database).collection(meaningCollection('together')).find().toArray();
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0].fingerprint, fingerprintOf(meaningOf(v1)));
  });

  it('a runner whose meaning another runner replaced stops before its next batch', async () => {
    const store = await connect('outlived');
    const old = await MeaningGuard.start(store, [], plan('  n: count'), silentLogger);
    await old.verify();
    await client
      .db(database)
      .collection('outlived')
      .insertOne({ _id: 'a document' as never });
    // a newer version adds an aggregate: allowed, and recorded
    const newer = await MeaningGuard.start(store, [], plan('  n: count\n  top: { max: k }'), silentLogger);
    await newer.verify();
    await assert.rejects(old.verify(), (err: RunnelError) => {
      assert.match(
        err.message,
        /the meaning recorded for runnel_meaning_\S+\.outlived changed while this runner ran: fingerprint [0-9a-f]{16}/,
      );
      assert.match(err.message, /this one stops before it writes/);
      return true;
    });
  });

  it("the check before each batch goes to the connection's current client, after a stalled one was replaced and closed", async () => {
    const store = await connect('renewed');
    const guard = await MeaningGuard.start(store, [], plan('  n: count'), silentLogger);
    const first = store.connection.client;
    // as if the driver's monitor had been silent since the epoch: the next failed selection renews the client
    (store.connection as unknown as { lastHeartbeat: number }).lastHeartbeat = 0;
    store.connection.noServer();
    assert.equal(store.connection.renewals, 1);
    assert.notEqual(store.connection.client, first);
    await first.close();
    await guard.verify();
  });

  it("documents with no recorded meaning (written before meanings were recorded) are taken as this pipeline's, with a warning", async () => {
    const store = await connect('legacy');
    await client
      .db(database)
      .collection('legacy')
      .insertOne({ _id: 'an old document' as never });
    const warnings: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
    const v1 = plan('  n: count');
    await MeaningGuard.start(store, [], v1, logger);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0],
      /legacy holds documents but no record of what they mean \(written before Runnel recorded what documents mean\): taking them to mean what this pipeline computes/,
    );
    const [recorded] = await client.db(database).collection(meaningCollection('legacy')).find().toArray();
    assert.equal(recorded.fingerprint, fingerprintOf(meaningOf(v1)));
    // from then on a change is judged against it
    await assert.rejects(MeaningGuard.start(store, [], plan('  n: { sum: k }'), silentLogger), /aggregate\.n: count\(\) -> sum\(k\)/);
  });
});

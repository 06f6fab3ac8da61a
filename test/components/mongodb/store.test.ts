import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import {
  Binary,
  BSON,
  MongoBulkWriteError,
  MongoClient,
  MongoNetworkError,
  MongoServerError,
  MongoNotConnectedError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from 'mongodb';
import pino from 'pino';
import { MongoStateStore, type MongoStoreOptions } from '../../../src/components/mongodb/store.js';
import { isTransientMongoError, retryTransient } from '../../../src/components/mongodb/retry.js';
import { foundNoServer, MongoConnection } from '../../../src/components/mongodb/connection.js';
import { MemoryStore } from '../../../src/engine/memory-store.js';
import type { StateDoc } from '../../../src/engine/store.js';
import { RunnelError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { mongoSinkConfig, mongoUri, requireStack } from '../../helpers/stack.js';
import { hll, makeDoc, MINUTE, oddDoc, storeContract, T0 } from '../../compliance/store-contract.js';
import { runnelOf, type StoredDocument } from '../../helpers/stored.js';

/** A pino log line. */
const logLine = (line: string) => JSON.parse(line) as { msg: string; attempt: number };

/** The user's output fields, as a pipeline's mapping would render them. */
function render(doc: StateDoc): Record<string, unknown> {
  return {
    date: new Date(doc.windowStart),
    publisher: doc.key[0],
    geo: doc.key[1],
    imps: typeof doc.states.imps === 'number' ? doc.states.imps : null,
  };
}

describe('MongoStateStore without a server', () => {
  it('gives a RunnelError within the connect timeout for an unreachable server, without the password', async () => {
    const started = Date.now();
    await assert.rejects(
      MongoStateStore.connect({
        ...mongoSinkConfig('adlogdb', 'impsPerPubGeo', 'mongodb://runner:s3cret-pw@127.0.0.1:1/?authSource=admin'),
        render,
        indexFields: ['date'],
        connectTimeout: '1s',
      }),
      (error: unknown) => {
        assert.ok(error instanceof RunnelError, String(error));
        assert.doesNotMatch(error.message, /s3cret-pw/);
        assert.match(error.message, /adlogdb\.impsPerPubGeo/);
        assert.match(error.message, /127\.0\.0\.1:1/);
        assert.match(error.message, /not reachable/);
        return true;
      },
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 4000, `took ${elapsed} ms`);
  });

  it('rejects an invalid connection string with a RunnelError that hides the password', async () => {
    await assert.rejects(
      MongoStateStore.connect({ ...mongoSinkConfig('d', 'c', 'postgres://u:s3cret-pw@host/db'), render, indexFields: [] }),
      (error: unknown) => error instanceof RunnelError && !error.message.includes('s3cret-pw') && /invalid/.test(error.message),
    );
  });

  it('classifies transient and permanent errors', () => {
    assert.equal(isTransientMongoError(new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed')), true);
    assert.equal(isTransientMongoError(new MongoServerSelectionError('Server selection timed out', {} as never)), true);
    assert.equal(isTransientMongoError(new MongoServerError({ message: 'not primary', code: 10107 })), true);
    assert.equal(isTransientMongoError(new MongoServerError({ message: 'Interrupted', code: 11602 })), true);
    // Node's EPIPE for a write on a socket FerretDB closed while stopping, as seen in the database-outage fault test
    const ended = Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' });
    assert.equal(isTransientMongoError(ended), true);
    // FerretDB shutting down, as seen mid-query in the database-outage fault test
    const shutdown =
      '[msg_find.go:344 handler.handleMaxTimeMSError] [query_iterator.go:79 sqlite.(*queryIterator).Next] context canceled after delay';
    assert.equal(isTransientMongoError(new MongoServerError({ message: shutdown, code: 1 })), true);
    const labelled = new MongoServerError({ message: 'something', code: 12345 });
    labelled.addErrorLabel('RetryableWriteError');
    assert.equal(isTransientMongoError(labelled), true);
    const resumable = new MongoServerError({ message: 'resume', code: 12345 });
    resumable.addErrorLabel('ResumableChangeStreamError');
    assert.equal(isTransientMongoError(resumable), true);
    assert.equal(isTransientMongoError(new MongoServerError({ message: 'Authentication failed.', code: 18 })), false);
    assert.equal(isTransientMongoError(new MongoServerError({ message: "Invalid namespace specified 'a/b.c'", code: 73 })), false);
    assert.equal(isTransientMongoError(new MongoServerError({ message: 'E11000 duplicate key', code: 11000 })), false);
    assert.equal(isTransientMongoError(new MongoTopologyClosedError()), false);
    assert.equal(isTransientMongoError(new TypeError('x is not a function')), false);
    assert.equal(isTransientMongoError('a string'), false);
  });

  it('classifies a bulk write that failed as a whole by the error the driver wrapped', () => {
    // what collection.bulkWrite throws when its command never got an answer: no write errors
    const wrapped = (error: Error) => new MongoBulkWriteError(error, {} as never);
    const cut = wrapped(new MongoNetworkError('connection 3 to 127.0.0.1:27017 closed'));
    assert.deepEqual([isTransientMongoError(cut), foundNoServer(cut)], [true, false]);
    const noServer = wrapped(new MongoServerSelectionError('Server selection timed out after 5000 ms', { servers: new Map() } as never));
    assert.deepEqual([isTransientMongoError(noServer), foundNoServer(noServer)], [true, true]);
    assert.equal(foundNoServer(new MongoServerSelectionError('connect ECONNREFUSED 127.0.0.1:27017', {} as never)), true);
    const shuttingDown = wrapped(new MongoServerError({ message: 'context canceled', code: 1 }));
    assert.equal(isTransientMongoError(shuttingDown), true);
    const refused = wrapped(new MongoServerError({ message: 'not authorized on db to execute command', code: 13 }));
    assert.deepEqual([isTransientMongoError(refused), foundNoServer(refused)], [false, false]);
  });

  it('retries transient errors with backoff, warning each time, and stops on permanent ones, abort and deadline', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const base = { where: 'db.coll at mongodb://u:***@h', logger, initialMs: 1, maxMs: 4 };

    let calls = 0;
    const value = await retryTransient(
      () => (++calls < 4 ? Promise.reject(new MongoNetworkError('connection 1 to h closed')) : Promise.resolve('ok')),
      { ...base, what: 'read' },
    );
    assert.equal(value, 'ok');
    assert.equal(calls, 4);
    assert.equal(lines.length, 3);
    assert.match(logLine(lines[0]).msg, /transient/);
    assert.equal(logLine(lines[2]).attempt, 3);

    calls = 0;
    await assert.rejects(
      retryTransient(
        () => {
          calls++;
          return Promise.reject(new MongoServerError({ message: 'Authentication failed.', code: 18, codeName: 'AuthenticationFailed' }));
        },
        { ...base, what: 'read' },
      ),
      (error: unknown) =>
        error instanceof RunnelError &&
        error.code === 'operation-failed' &&
        /read on db\.coll/.test(error.message) &&
        /code 18/.test(error.message) &&
        /password/.test(error.message),
    );
    assert.equal(calls, 1);

    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    await assert.rejects(
      retryTransient(() => Promise.reject(new MongoNetworkError('down')), { ...base, what: 'write', signal: controller.signal }),
      (error: unknown) => error instanceof RunnelError && error.code === 'stopped' && /stopped/.test(error.message),
    );

    // after a stop (SIGTERM), the batch in hand is still stored: operations are tried, not retried
    calls = 0;
    assert.equal(await retryTransient(() => Promise.resolve('stored'), { ...base, what: 'write', signal: controller.signal }), 'stored');
    await assert.rejects(
      retryTransient(
        () => {
          calls++;
          return Promise.reject(new MongoNetworkError('down'));
        },
        { ...base, what: 'write', signal: controller.signal },
      ),
      (error: unknown) => error instanceof RunnelError && error.code === 'stopped' && /stopped/.test(error.message),
    );
    assert.equal(calls, 1);

    await assert.rejects(
      retryTransient(() => Promise.reject(new MongoNetworkError('down')), { ...base, what: 'connect', deadline: Date.now() + 20 }),
      (error: unknown) => error instanceof RunnelError && error.code === 'server-unreachable' && /not reachable/.test(error.message),
    );
  });

  it('passes the StateStore contract in memory', async () => {
    await storeContract(new MemoryStore());
  });
});

const stack = await requireStack('mongodb');

describe('MongoStateStore against a real server', stack, () => {
  const database = `runnel_test_${randomBytes(6).toString('hex')}`;
  let admin: MongoClient | undefined; // undefined if before() failed: after() closes what there is
  let collections = 0;
  const opened: MongoStateStore[] = [];

  const options = (collection: string, extra: Partial<MongoStoreOptions> = {}): MongoStoreOptions => ({
    ...mongoSinkConfig(database, collection),
    render,
    indexFields: ['date', 'publisher', 'geo'],
    logger: silentLogger,
    connectTimeout: '5s',
    ...extra,
  });
  async function open(collection = `states${++collections}`, extra: Partial<MongoStoreOptions> = {}): Promise<MongoStateStore> {
    const store = await MongoStateStore.connect(options(collection, extra));
    opened.push(store);
    return store;
  }

  /** Two stores (two clients, as two runners would have) on the same collection, to race against each other. */
  async function rivals(): Promise<[MongoStateStore, MongoStateStore]> {
    const first = await open();
    return [first, await open(`states${collections}`)];
  }

  before(async () => {
    admin = new MongoClient(mongoUri(), { serverSelectionTimeoutMS: 5000 });
    await admin.connect();
  });
  after(async () => {
    for (const store of opened) await store.close();
    await admin?.db(database).dropDatabase();
    await admin?.close();
  });

  for (const lookup of ['in', 'each'] as const)
    it(`passes the StateStore contract exactly like the in-memory store (lookup ${lookup})`, async () => {
      const memory = await storeContract(new MemoryStore());
      const mongo = await storeContract(await open(undefined, { lookup }));
      assert.deepStrictEqual(mongo, memory);
    });

  it('retries an operation whose client was replaced and closed under it, but not one on a closed connection', async () => {
    const connection = new MongoConnection(mongoUri(), {
      clientOptions: { serverSelectionTimeoutMS: 5000 },
      logger: silentLogger,
      where: 'test',
    });
    const options = { where: 'test', logger: silentLogger, connection, initialMs: 1, maxMs: 4, what: 'read' };
    let calls = 0;
    const closedOnce = () => (++calls === 1 ? Promise.reject(new MongoTopologyClosedError()) : Promise.resolve(calls));
    assert.equal(await retryTransient(closedOnce, options), 2);
    // replaced between run()'s connect and the operation, which met the new client unconnected (a database outage in CI)
    calls = 0;
    const unconnectedOnce = () =>
      ++calls === 1
        ? Promise.reject(new MongoNotConnectedError('Client must be connected before running operations'))
        : Promise.resolve(calls);
    assert.equal(await retryTransient(unconnectedOnce, options), 2);
    await connection.close();
    calls = 0;
    await assert.rejects(
      retryTransient(closedOnce, options),
      (error: unknown) => error instanceof RunnelError && /Topology is closed/.test(error.message),
    );
    assert.equal(calls, 0, 'a closed connection runs nothing');
  });

  it('a read whose client the connection replaces and closes as it starts goes to the new client', { timeout: 30_000 }, async () => {
    const store = await open();
    const doc = oddDoc('1767268800000|["renewed","US"]', 1);
    assert.deepEqual(await store.write([{ doc, expectedVersion: null }]), []);
    const { connection } = store;
    const run = connection.run.bind(connection);
    let replaced = 0;
    // as a database outage does: the monitor went silent, the next operation renews the client and the old one is closed
    connection.run = async <T>(op: () => Promise<T>): Promise<T> => {
      if (replaced++ === 0) {
        const old = connection.client;
        (connection as unknown as { lastHeartbeat: number }).lastHeartbeat = 0;
        connection.noServer();
        await old.close();
      }
      return run(op);
    };
    // the queries of one read must ask for the client when they run, not hold the one they started with
    assert.equal((await store.read([doc.id])).get(doc.id)?.version, 1);
    assert.equal(connection.renewals, 1);
  });

  it('reads no documents for missing ids', async () => {
    const store = await open();
    assert.equal((await store.read(['x', 'y', 'z'])).size, 0);
    assert.equal((await store.read([])).size, 0);
  });

  it('stores the documented layout: rendered fields beside _runnel', async () => {
    const collection = `states${++collections}`;
    const store = await open(collection);
    const doc = oddDoc('1767268800000|["pub.example","US"]', 1);
    assert.deepEqual(await store.write([{ doc, expectedVersion: null }]), []);
    const raw = await admin!
      .db(database)
      .collection(collection)
      .findOne({ _id: doc.id as never });
    assert.ok(raw);
    assert.deepEqual(Object.keys(raw), ['_id', 'date', 'publisher', 'geo', 'imps', '_runnel']);
    assert.deepEqual(raw.date, new Date(T0));
    assert.equal(raw.publisher, 'pub.example');
    assert.equal(raw.imps, 42);
    const r = runnelOf(raw);
    assert.equal(r.v, 1);
    assert.deepEqual(r.start, new Date(T0));
    assert.deepEqual(r.end, new Date(T0 + MINUTE));
    const uniques = r.states.uniques;
    assert.ok(uniques instanceof Binary);
    assert.equal(uniques.sub_type, 0);
    assert.equal(uniques.length(), 16 * 1024);
    // grouped by what precedes a partition id's last '/' (a Kafka topic), names escaped
    assert.deepEqual(r.offsets, { 'events%2Ev1': { 0: 17 }, '%24events': { 1: 0 }, 'a%252Eb': 3, 'plain-2': 9, '': 1 });
    assert.equal(typeof r.w, 'string');
    // Uint8Array comes back as a plain Uint8Array (a view over the reply, not a Buffer).
    const back = (await store.read([doc.id])).get(doc.id)!;
    assert.equal(Object.getPrototypeOf(back.states.uniques), Uint8Array.prototype);
    assert.deepStrictEqual(back, doc);
  });

  it('lets exactly one of two writers racing on the same version win, for every document', async () => {
    const [s1, s2] = await rivals();
    const ids = Array.from({ length: 100 }, (_, i) => `race-${i}`);
    assert.deepEqual(await s1.write(ids.map((id) => ({ doc: makeDoc(id, 1), expectedVersion: null }))), []);
    const [read1, read2] = await Promise.all([s1.read(ids), s2.read(ids)]);
    assert.equal(read1.size, 100);
    assert.equal(read2.size, 100);
    const mine = (tag: number) => (id: string) => ({
      doc: makeDoc(id, 2, { states: { imps: tag, uniques: hll(tag) } }),
      expectedVersion: 1,
    });
    const [lost1, lost2] = await Promise.all([s1.write(ids.map(mine(1))), s2.write(ids.map(mine(2)))]);
    assert.equal(lost1.length + lost2.length, 100, 'every document has exactly one loser');
    assert.deepEqual(new Set([...lost1, ...lost2]), new Set(ids));
    const stored = await s1.read(ids);
    const lost1Set = new Set(lost1);
    for (const id of ids) {
      const winner = lost1Set.has(id) ? 2 : 1;
      assert.equal(stored.get(id)!.states.imps, winner, id);
      assert.equal(stored.get(id)!.version, 2);
    }
    // A stale writer alone: its id comes back as a conflict and nothing changes.
    assert.deepEqual(await s1.write([{ doc: makeDoc('race-0', 2), expectedVersion: 1 }]), ['race-0']);
    assert.deepEqual(await s1.write([{ doc: makeDoc('race-0', 3), expectedVersion: 2 }]), []);
  });

  it('counts every increment exactly once with three stores writing the same documents at once', async () => {
    const stores = [await open()];
    for (let i = 1; i < 3; i++) stores.push(await open(`states${collections}`));
    const ids = Array.from({ length: 12 }, (_, i) => `shared-${i}`);
    const ROUNDS = 4;
    let conflicts = 0;
    // each store adds 1 per round to every document, as its own partition's offset `round`
    await Promise.all(
      stores.map(async (store, n) => {
        for (let round = 0; round < ROUNDS; round++) {
          let pending = ids;
          while (pending.length > 0) {
            const stored = await store.read(pending);
            const writes = pending.map((id) => {
              const doc = stored.get(id);
              const imps = ((doc?.states.imps as number | undefined) ?? 0) + 1;
              const offsets = { ...(doc?.offsets ?? {}), [`p/${n}`]: round };
              return {
                doc: makeDoc(id, (doc?.version ?? 0) + 1, { states: { imps, uniques: hll(imps) }, offsets }),
                expectedVersion: doc?.version ?? null,
              };
            });
            pending = await store.write(writes);
            conflicts += pending.length;
          }
        }
      }),
    );
    const stored = await stores[0].read(ids);
    for (const id of ids) {
      const doc = stored.get(id)!;
      assert.equal(doc.states.imps, stores.length * ROUNDS, id);
      assert.equal(doc.version, stores.length * ROUNDS, id);
      assert.deepEqual(doc.offsets, { 'p/0': ROUNDS - 1, 'p/1': ROUNDS - 1, 'p/2': ROUNDS - 1 });
    }
    const raw = await admin!.db(database).collection(`states${collections}`).find().toArray();
    assert.deepEqual(
      raw.map((d) => d.imps as number).sort(),
      ids.map(() => stores.length * ROUNDS),
      'every document is settled at its last version',
    );
    const claims = await admin!.db(database).collection(`states${collections}.runnel_claims`).find().toArray();
    assert.equal(claims.length, ids.length, 'one claim (the current one) is left per document');
    assert.ok(conflicts > 0, 'the writers did race');
  });

  it('a creation over claims of a deleted document is a conflict: the read brings the highest claim back, and the records merge into it', async () => {
    const collection = `states${++collections}`;
    const store = await open(collection);
    assert.deepEqual(await store.write([{ doc: makeDoc('gone', 1), expectedVersion: null }]), []);
    assert.deepEqual(await store.write([{ doc: makeDoc('gone', 2), expectedVersion: 1 }]), []);
    await admin!
      .db(database)
      .collection(collection)
      .deleteOne({ _id: 'gone' as never }); // by hand or a TTL index: its claim 2 stays
    const blind = makeDoc('gone', 1, { states: { imps: 7 }, offsets: { 'events/1': 40 } });
    assert.deepEqual(await store.write([{ doc: blind, expectedVersion: null }]), ['gone'], 'the creation does not count');
    const back = (await store.read(['gone'])).get('gone')!;
    assert.deepEqual([back.version, back.offsets], [2, { 'events/0': 2 }], 'the highest claim, without the blind records');
    // the engine merges the records again into what it read
    const merged = makeDoc('gone', 3, { offsets: { 'events/0': 2, 'events/1': 40 } });
    assert.deepEqual(await store.write([{ doc: merged, expectedVersion: 2 }]), []);
    assert.deepEqual((await store.read(['gone'])).get('gone')!.offsets, { 'events/0': 2, 'events/1': 40 });
  });

  it('finishes the write of a writer that stopped between its claim and its document', async () => {
    const collection = `states${++collections}`;
    const store = await open(collection);
    assert.deepEqual(await store.write([{ doc: makeDoc('dead', 1), expectedVersion: null }]), []);
    const claims = admin!.db(database).collection(`${collection}.runnel_claims`);
    assert.equal(await claims.countDocuments({ d: 'dead' }), 0, 'a creation makes no claim');
    const { _id, ...currentDoc } = (await admin!
      .db(database)
      .collection(collection)
      .findOne({ _id: 'dead' as never })) as unknown as StoredDocument;
    // a second writer's claim of version 2 landed (unpacked, as older Runnels wrote claims); its process
    // died before replacing the document
    await claims.insertOne({
      _id: 'dead@2' as never,
      d: 'dead',
      v: 2,
      doc: { ...currentDoc, imps: 99, _runnel: { ...currentDoc._runnel, v: 2, states: { imps: 99 }, offsets: { 'events/0': 5 } } },
    });
    const back = (await store.read(['dead'])).get('dead')!;
    assert.equal(back.version, 2);
    assert.deepEqual(back.states, { imps: 99 });
    const raw = await admin!
      .db(database)
      .collection(collection)
      .findOne({ _id: 'dead' as never });
    assert.equal(raw && runnelOf(raw).v, 2, 'the document is rolled forward');
    assert.equal(raw?.imps, 99);
    // a late replace sets the document back a version: the claim above it repairs it again
    await admin!
      .db(database)
      .collection(collection)
      .replaceOne({ _id: 'dead' as never }, currentDoc);
    assert.equal((await store.read(['dead'])).get('dead')!.version, 2);
    assert.equal(
      (
        await admin!
          .db(database)
          .collection(collection)
          .findOne({ _id: 'dead' as never })
      )?.imps,
      99,
    );
    assert.deepEqual(await store.write([{ doc: makeDoc('dead', 2), expectedVersion: 1 }]), ['dead'], 'version 2 is taken');
  });

  it('packs the document into its claim, and rolls a document set back forward from the packed claim', async () => {
    const collection = `states${++collections}`;
    const store = await open(collection);
    const v1 = oddDoc('packed', 1);
    const v2 = { ...oddDoc('packed', 2), offsets: { ...v1.offsets, 'events.v1/0': 18 } };
    assert.deepEqual(await store.write([{ doc: v1, expectedVersion: null }]), []);
    const documents = admin!.db(database).collection(collection);
    const { _id, ...firstVersion } = (await documents.findOne({ _id: 'packed' as never }))!;
    assert.deepEqual(await store.write([{ doc: v2, expectedVersion: 1 }]), []);
    const claim = await admin!.db(database).collection(`${collection}.runnel_claims`).findOne({ d: 'packed' });
    assert.deepEqual(Object.keys(claim ?? {}).sort(), ['_id', 'd', 'v', 'w', 'z']);
    assert.ok(claim!.z instanceof Binary);
    const { _id: id2, ...secondVersion } = (await documents.findOne({ _id: 'packed' as never }))!;
    assert.deepEqual(
      BSON.deserialize(inflateRawSync(claim!.z.buffer.subarray(0, claim!.z.position))),
      secondVersion,
      'the claim holds the document at its version',
    );
    assert.ok(claim!.z.length() < BSON.calculateObjectSize(secondVersion));
    // a late replace sets the document back: a read settles it from the packed claim
    await documents.replaceOne({ _id: 'packed' as never }, firstVersion);
    assert.deepStrictEqual((await store.read(['packed'])).get('packed'), v2);
    assert.equal(runnelOf((await documents.findOne({ _id: 'packed' as never }))!).v, 2, 'the document is rolled forward');
  });

  it('lets exactly one of two concurrent inserts of a new id win', async () => {
    const [s1, s2] = await rivals();
    const [lost1, lost2] = await Promise.all([
      s1.write([{ doc: makeDoc('new', 1, { states: { imps: 1 } }), expectedVersion: null }]),
      s2.write([{ doc: makeDoc('new', 1, { states: { imps: 2 } }), expectedVersion: null }]),
    ]);
    assert.deepEqual([...lost1, ...lost2], ['new']);
    const winner = lost1.length === 0 ? 1 : 2;
    assert.equal((await s2.read(['new'])).get('new')!.states.imps, winner);

    const ids = Array.from({ length: 100 }, (_, i) => `ins-${i}`);
    const [l1, l2] = await Promise.all(
      [1, 2].map((tag, n) =>
        [s1, s2][n].write(ids.map((id) => ({ doc: makeDoc(id, 1, { states: { imps: tag } }), expectedVersion: null }))),
      ),
    );
    assert.deepEqual([...l1, ...l2].sort(), [...ids].sort());
    const stored = await s1.read(ids);
    const l1Set = new Set(l1);
    for (const id of ids) assert.equal(stored.get(id)!.states.imps, l1Set.has(id) ? 2 : 1, id);
  });

  it('keeps fences monotonic, also under concurrent raises from two stores', async () => {
    const [s1, s2] = await rivals();
    assert.equal(await s1.readFence('topic.a/$0'), -1);
    await s1.raiseFence('topic.a/$0', 10);
    await s2.raiseFence('topic.a/$0', 4);
    assert.equal(await s2.readFence('topic.a/$0'), 10);
    const offsets = Array.from({ length: 40 }, (_, i) => (i * 7919) % 1000);
    await Promise.all(offsets.map((offset, i) => (i % 2 ? s1 : s2).raiseFence('fresh/1', offset)));
    assert.equal(await s1.readFence('fresh/1'), Math.max(...offsets));
    // marks below the highest are collected; the highest is never deleted
    const marks = await admin!.db(database).collection(`states${collections}.runnel_fences`).find().toArray();
    for (const partition of ['fresh/1', 'topic.a/$0']) {
      const top = Math.max(...marks.filter((m) => m.p === partition).map((m) => m.o as number));
      assert.equal(top, partition === 'fresh/1' ? Math.max(...offsets) : 10);
    }
  });

  it('creates the index on indexFields at connect, idempotently', async () => {
    const collection = `states${++collections}`;
    const store = await open(collection);
    await store.ensureIndexes();
    const indexes = (await admin!.db(database).collection(collection).listIndexes().toArray()) as { key: unknown }[];
    assert.ok(
      indexes.some((ix) => JSON.stringify(ix.key) === JSON.stringify({ date: 1, publisher: 1, geo: 1 })),
      JSON.stringify(indexes),
    );
  });

  for (const lookup of ['in', 'each'] as const)
    it(`creates and updates writeBatchSize documents in a few reads, in commands FerretDB can take (lookup ${lookup})`, async () => {
      const name = `wide-${lookup}${++collections}`;
      const store = await open(name, { lookup, clientOptions: { monitorCommands: true } });
      const ferretdb = (await store.connection.client.db('admin').command({ buildInfo: 1 })).ferretdbVersion !== undefined;
      const commands: { name: string; collection: string; size: number }[] = [];
      store.connection.client.on('commandStarted', (event) => {
        const command = event.command as Record<string, unknown>;
        commands.push({
          name: event.commandName,
          collection: String(command[event.commandName]),
          size: ((command.documents ?? command.updates ?? []) as unknown[]).length,
        });
      });
      const ids = Array.from({ length: 120 }, (_, i) => `wide-${i}`);
      const counts = (name: string) => commands.filter((c) => c.name === name);
      const perInsert = ferretdb ? [50, 50, 20] : [120];
      const perUpdate = ferretdb ? Array.from({ length: 12 }, () => 10) : [120];
      // creating: the documents themselves inserted, then one look for claims of their ids
      assert.deepEqual(await store.write(ids.map((id) => ({ doc: makeDoc(id, 1), expectedVersion: null }))), []);
      assert.deepEqual(
        counts('insert').map((c) => [c.collection, c.size]),
        perInsert.map((size) => [name, size]),
        'the documents: 50 per insert on FerretDB',
      );
      assert.deepEqual(
        counts('find').map((c) => c.collection),
        Array.from({ length: lookup === 'in' ? 1 : ids.length }, () => `${name}.runnel_claims`),
      );
      assert.deepEqual(counts('update'), []);
      commands.length = 0;
      // updating versions this store wrote: claims, documents replaced, then the claims read once
      assert.deepEqual(await store.write(ids.map((id) => ({ doc: makeDoc(id, 2), expectedVersion: 1 }))), []);
      assert.deepEqual(
        counts('insert').map((c) => [c.collection, c.size]),
        perInsert.map((size) => [`${name}.runnel_claims`, size]),
        'the claims: 50 per insert on FerretDB',
      );
      assert.deepEqual(
        counts('find').map((c) => c.collection),
        Array.from({ length: lookup === 'in' ? 1 : ids.length }, () => `${name}.runnel_claims`),
      );
      assert.deepEqual(
        counts('update').map((c) => c.size),
        perUpdate,
      );
      const read = await store.read(ids);
      assert.deepEqual(
        ids.map((id) => read.get(id)?.version),
        ids.map(() => 2),
      );
    });

  it('reads no states before writing the versions it wrote or read last; a rival write meanwhile still makes it a conflict', async () => {
    const [store, rival] = await rivals();
    const finds: string[] = [];
    const counted = await open(`states${collections}`, { clientOptions: { monitorCommands: true } });
    counted.connection.client.on('commandStarted', (event) => {
      if (event.commandName === 'find') finds.push(String((event.command as Record<string, unknown>).find));
    });
    const ids = ['seen-1', 'seen-2', 'seen-3'];
    assert.deepEqual(await counted.write(ids.map((id) => ({ doc: makeDoc(id, 1), expectedVersion: null }))), []);
    const settleOnly = counted.lookupMode === 'in' ? 1 : ids.length; // the claims read once after the write
    finds.length = 0;
    assert.deepEqual(await counted.write(ids.map((id) => ({ doc: makeDoc(id, 2), expectedVersion: 1 }))), []);
    assert.equal(finds.length, settleOnly, 'no check before the claims');
    // a rival moves seen-2 on twice (its claim 3 is collected when it reaches 4)
    await rival.read(ids);
    assert.deepEqual(await rival.write([{ doc: makeDoc('seen-2', 3, { offsets: { 'events/1': 3 } }), expectedVersion: 2 }]), []);
    assert.deepEqual(await rival.write([{ doc: makeDoc('seen-2', 4, { offsets: { 'events/1': 4 } }), expectedVersion: 3 }]), []);
    assert.deepEqual(await counted.write(ids.map((id) => ({ doc: makeDoc(id, 3, { offsets: { 'events/0': 3 } }), expectedVersion: 2 }))), [
      'seen-2',
    ]);
    const stored = await store.read(ids);
    assert.deepEqual(
      ids.map((id) => [stored.get(id)!.version, stored.get(id)!.offsets]),
      [
        [3, { 'events/0': 3 }],
        [4, { 'events/1': 4 }],
        [3, { 'events/0': 3 }],
      ],
    );
  });

  it('splits writes larger than writeBatchSize into several bulkWrites, and long id lists into several finds', async () => {
    const store = await open(undefined, { writeBatchSize: 3, lookup: 'in', clientOptions: { monitorCommands: true } });
    const commands: string[] = [];
    store.connection.client.on('commandStarted', (event) => commands.push(event.commandName));
    const ids = Array.from({ length: 10 }, (_, i) => `batch-${i}`);
    assert.deepEqual(await store.write(ids.map((id) => ({ doc: makeDoc(id, 1), expectedVersion: null }))), []);
    assert.equal(commands.filter((c) => c === 'insert').length, 4, 'claims: one insert per chunk');

    commands.length = 0;
    const stale = new Set(['batch-1', 'batch-7']);
    const conflicts = await store.write(ids.map((id) => ({ doc: makeDoc(id, 2), expectedVersion: stale.has(id) ? 5 : 1 })));
    assert.deepEqual(conflicts, ['batch-1', 'batch-7']);
    assert.equal(commands.filter((c) => c === 'insert').length, 4, 'the claims of each chunk of 3 writes');
    assert.equal(commands.filter((c) => c === 'update').length, 4, 'the documents of each chunk rolled forward');

    commands.length = 0;
    const many = [...ids, ...Array.from({ length: 11_990 }, (_, i) => `absent-${i}`)];
    const found = await store.read(many);
    assert.equal(found.size, 10);
    assert.equal(commands.filter((c) => c === 'find').length, 6, 'documents and their claims, 5000 ids per find');
    assert.equal(found.get('batch-1')!.version, 1);
    assert.equal(found.get('batch-2')!.version, 2);
  });

  it('looking each id up on its own: single-id queries, one delete statement per collected claim, the same states', async () => {
    const name = `each${++collections}`;
    const store = await open(name, { lookup: 'each', clientOptions: { monitorCommands: true } });
    const commands: { name: string; body: Record<string, unknown> }[] = [];
    store.connection.client.on('commandStarted', (event) => commands.push({ name: event.commandName, body: event.command }));
    const ids = Array.from({ length: 5 }, (_, i) => `each-${i}`);
    assert.deepEqual(await store.write(ids.map((id) => ({ doc: makeDoc(id, 1), expectedVersion: null }))), []);
    assert.deepEqual(await store.write(ids.map((id) => ({ doc: makeDoc(id, 2), expectedVersion: 1 }))), []);
    assert.deepEqual(await store.write(ids.map((id) => ({ doc: makeDoc(id, 3), expectedVersion: 2 }))), []);
    const finds = commands.filter((c) => c.name === 'find');
    assert.ok(finds.length > 0);
    for (const { body } of finds) assert.doesNotMatch(JSON.stringify(body.filter), /\$in/, 'no $in: one id per query');
    const deletes = commands.filter((c) => c.name === 'delete').flatMap((c) => c.body.deletes as { q: unknown }[]);
    assert.deepEqual(
      deletes.map((d) => d.q),
      ids.map((id) => ({ _id: `${id}@2` })),
      'the claims below the highest, one statement each',
    );
    const claims = await admin!.db(database).collection(`${name}.runnel_claims`).find().sort({ _id: 1 }).toArray();
    assert.deepEqual(
      claims.map((c) => [c._id, c.v] as unknown[]),
      ids.map((id) => [`${id}@3`, 3]),
    );
    const found = await store.read([...ids, 'each-absent']);
    assert.deepEqual(
      [...found.values()].map((doc) => [doc.id, doc.version]),
      ids.map((id) => [id, 3]),
    );
  });

  it('looks each id up on its own where the server indexes single-id queries but not $in (FerretDB over PostgreSQL)', async () => {
    const store = await open();
    const ferretdb = (await store.connection.client.db('admin').command({ buildInfo: 1 })).ferretdbVersion !== undefined;
    const indexedEquality = ferretdb && process.env.RUNNEL_FERRETDB_BACKEND !== 'sqlite'; // scripts/stack's GIN indexes
    assert.equal(store.lookupMode, indexedEquality ? 'each' : 'in');
    const sibling = await store.sibling(`states${++collections}`, silentLogger);
    opened.push(sibling);
    assert.equal(sibling.lookupMode, store.lookupMode);
  });

  it('turns permanent server errors into a RunnelError naming the namespace', async () => {
    await assert.rejects(open('x', { database: 'bad/db' }), (error: unknown) => {
      assert.ok(error instanceof RunnelError, String(error));
      assert.match(error.message, /bad\/db\.x/);
      assert.match(error.message, /code 73/);
      return true;
    });
    const withPassword = new URL(mongoUri());
    withPassword.username = 'nobody';
    withPassword.password = 'w0ng-s3cret';
    const started = Date.now();
    await assert.rejects(MongoStateStore.connect(options('auth', { uri: withPassword.href })), (error: unknown) => {
      assert.ok(error instanceof RunnelError, String(error));
      assert.doesNotMatch(error.message, /w0ng-s3cret/);
      assert.match(error.message, /nobody:\*\*\*@/);
      return true;
    });
    assert.ok(Date.now() - started < 4000, 'an authentication failure is not retried');
  });

  // FerretDB scans the whole collection for every update statement, so the default stays small;
  // RUNNEL_STORE_BENCH_DOCS=1000 measures a full batch.
  const benchDocs = Number(process.env.RUNNEL_STORE_BENCH_DOCS ?? 25);
  it(`reads and writes ${benchDocs} documents with 16 KiB states per batch`, async (t) => {
    const store = await open();
    const ids = Array.from({ length: benchDocs }, (_, i) => `${T0}|["pub-${i}","US"]`);
    const first = ids.map((id, i) => makeDoc(id, 1, { key: [`pub-${i}`, 'US'], states: { imps: i, uniques: hll(i, 16 * 1024) } }));
    assert.deepEqual(await store.write(first.map((doc) => ({ doc, expectedVersion: null }))), []);
    const times: number[] = [];
    for (let round = 1; round <= 3; round++) {
      const started = performance.now();
      const stored = await store.read(ids);
      const writes = ids.map((id) => {
        const doc = stored.get(id)!;
        return {
          doc: { ...doc, version: doc.version + 1, states: { ...doc.states, imps: (doc.states.imps as number) + 1 } },
          expectedVersion: doc.version,
        };
      });
      assert.deepEqual(await store.write(writes), []);
      times.push(performance.now() - started);
    }
    const check = await store.read(ids.slice(0, 3));
    assert.deepStrictEqual(check.get(ids[2])!.states.uniques, hll(2, 16 * 1024));
    assert.equal(check.get(ids[2])!.version, 4);
    times.sort((a, b) => a - b);
    t.diagnostic(
      `read+write of ${benchDocs} docs x 16 KiB: median ${times[1].toFixed(0)} ms (runs ${times.map((x) => x.toFixed(0)).join(', ')} ms)`,
    );
  });
});

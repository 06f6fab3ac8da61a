import { randomBytes } from 'node:crypto';
import { getMaxListeners, setMaxListeners } from 'node:events';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  Binary,
  BSON,
  MongoBulkWriteError,
  type AnyBulkWriteOperation,
  type Collection,
  type Document,
  type MongoClientOptions,
} from 'mongodb';
import type { Logger } from 'pino';
import { redactUrlCredentials } from '../../redact.js';
import type { ConditionalWrite, StateDoc, StateStore } from '../../engine/store.js';
import { RunnelError } from '../../errors.js';
import { silentLogger } from '../../log.js';
import type { StoredValue } from '../../engine/aggregation.js';
import { failedAsAWhole, MongoConnection, writeErrorsOf } from './connection.js';
import { DUPLICATE_KEY, errorText, isDuplicateKey, retryTransient, TRANSIENT_CODES, type RetryOptions } from './retry.js';
import { decodeName, decodeOffsets, decodeValue, encodeName, encodeOffsets, encodeValue } from './encoding.js';
import { parseDuration } from '../../config/duration.js';
import type { MongoSinkConfig } from './sink.js';
import { mapLimited, slices } from '../../util/limited.js';
import { detectLookupMode, findWhereIn, LOOKUPS_IN_FLIGHT, type LookupMode } from './lookup.js';

/**
 * The MongoDB StateStore: one document per (window, group key), holding the user's rendered
 * output fields next to Runnel's own bookkeeping under `_runnel`:
 *
 *   { _id: doc.id, ...render(doc),
 *     _runnel: { v: version, start: Date, end: Date, key: [...], states: {...},
 *                offsets: { [topic]: { [partition]: offset } }, partial?: { [aggregate]: offsets }, w: writeToken } }
 *
 * Any number of processes may write the same documents at once (runners of one consumer group,
 * a stale runner that wakes up after a rebalance). The only primitive relied upon is the unique
 * `_id` of an insert, atomic on MongoDB and on FerretDB alike: FerretDB 1.x (SQLite) runs a
 * conditional update as find-then-update, so two writers can both match the same version and a
 * `$max` upsert can lose a raise. Beside the collection C live:
 *
 *   C.runnel_claims   { _id: "<doc id>@<v>", d: doc id, v, w: write token, z: the full document at
 *                       version v, packed (raw deflate of its BSON: a topic's name, field names and
 *                       offsets repeat; claims of older Runnels carry it unpacked as `doc`) }
 *   C.runnel_fences   { _id: "<partition>@<offset>", p: partition, o: offset }
 *
 * Creating D (version 1, expected absent: the engine does not even read documents it does not
 * hold, see StateStore.writesBlind):
 *   a. insert D itself: a duplicate key means D exists: a conflict, and the engine reads and
 *      merges again;
 *   b. the creation counts when no claim of D exists, else it is a conflict too (D had a history:
 *      it was deleted since, or an older Runnel stopped between its first claim and D): the engine
 *      reads D, which settles whatever claim is highest, and merges its records again.
 *
 * Writing version v >= 2 of document D (read at version v - 1):
 *   1. check that D's state (below) is still at v - 1, else it is a conflict (skipped when this
 *      store itself wrote or read v - 1 last: steps 2 and 4 catch a change since);
 *   2. insert the claim D@v: a duplicate key means another writer got v first: a conflict, and
 *      the engine reads and merges again;
 *   3. replace D with the claim just inserted (upsert; filter `_runnel.v < claim`, on FerretDB
 *      `_id` alone: see below) and read D's claims: when the claim is still the highest, the write
 *      counts; the claims below it are deleted;
 *   4. else (a rival claimed above it since) settle D: while D's version is below its highest
 *      claim, replace D with that claim's document and read again; the write counts when D's
 *      settled state holds every offset of the write, else it is a conflict.
 *
 * D's state is its highest version among the document and its claims. Why each record is
 * counted exactly once:
 *   - A creation that counts is the first version of D: the insert is atomic, and claims are made
 *     only by writers that read D (so after it exists) or found claims (then the creation does not
 *     count). A claim that predates the creation is seen in step b; one made after it extends D.
 *   - Claims are a linearizable compare-and-set. The highest claim is never deleted, so the
 *     highest version only grows. A successful insert of D@v made while the highest was v - 1
 *     extends the chain; once some version above v exists, any D@v (lower ones may have been
 *     collected) is never the highest, never read and never copied into D. Such a stale claim
 *     counts in step 4 only if the settled state, built by others, already holds its offsets.
 *     Versions therefore form one chain of read-merge-write steps, each on the state before it:
 *     exactly the single-writer history for which the per-partition offsets in `_runnel.offsets`
 *     and the fences (below) give exactly-once merging (src/engine/merge.ts).
 *   - D itself only ever receives its creation or the content of a claim at that claim's
 *     version, so the document at version v >= 2 equals claim v. A replace may land late (FerretDB) and set D back,
 *     but the claim above it survives, so every reader still sees the right state. A writer
 *     whose claim is still the highest after its replace (step 3) is done: a replace that sets D
 *     back to an older claim comes from a settler or an overtaken writer, and each of those reads
 *     D again after its replace, so whoever replaced last sees D below the highest claim and
 *     replaces again. When writes stop, D equals its highest claim. A writer killed
 *     between claim and replace had its offsets uncommitted: the replay reads D, finds the claim
 *     above it and settles it (read() settles what it finds behind).
 *   - Offsets are committed to Kafka only after the write counts (step b, 3 or 4), so a creation
 *     or a claim that D holds or that stays the highest precedes any commit.
 *   - Fences are insert-only marks; a partition's fence is its highest mark and only marks below
 *     the highest are deleted, so a fence never goes down, whatever the interleaving.
 * Claims cost one extra copy of each document written more than once (its current claim) plus a
 * copy per version in flight; they are collected as versions move on. A document written once
 * (most of a replay's minutes) has none: it costs one insert and one look for claims.
 *
 * FerretDB 1.x is detected at connect (buildInfo.ferretdbVersion): an update command holds a
 * pooled SQLite connection per statement until it ends, so concurrent update commands with 100
 * statements in total hang it for good. There update commands carry at most 10 statements and
 * inserts at most 50 documents. FerretDB never hands an `$in` to its backend, so an `$in` reads
 * the whole collection; over PostgreSQL with GIN indexes a single-id query is an index lookup,
 * and the store then looks each id up on its own (detectLookup); over SQLite even those scan
 * (1.24's queries do not match the expression of its `_id` index), and one `$in` per chunk of
 * ids is the cheaper. Settling replaces filter on `_id` alone there: the version condition would
 * cost more and would not be atomic anyway; a replace that sets D back is repaired as described above.
 *
 * `key`, `states` and `offsets` go through a reversible encoding so that every StoredValue
 * round-trips exactly on every server: field names escape '%', '.', '$' and NUL as %25, %2E,
 * %24, %00; non-finite numbers and -0 become `{ '%n': 'NaN' }`; an array directly inside an
 * array becomes `{ '%a': [...] }` (FerretDB rejects nested arrays, NaN and infinities). A bare
 * '%' key can never come out of the name escaping, so these markers are unambiguous.
 */

/** What a store is given: the sink's config (defaults filled in) and how documents are rendered and indexed. */
export interface MongoStoreOptions extends MongoSinkConfig {
  /** The user's output fields of a document (e.g. date, publisher, geo, imps). */
  render: (doc: StateDoc) => Record<string, unknown>;
  /** Fields of one compound ascending index created at connect (e.g. ['date', 'publisher', 'geo']). */
  indexFields: readonly string[];
  logger?: Logger;
  /** Stops the retrying of transient errors (otherwise retried forever); operations are still tried once. */
  signal?: AbortSignal;
  /** Backoff of transient-error retries: first delay and cap in ms (default 100 and 5000). */
  retry?: { initialMs?: number; maxMs?: number };
  /** How documents are found by id (see detectLookup); by default the server's query plan decides. */
  lookup?: LookupMode;
  /** Extra driver options (e.g. monitorCommands, tls); the timeouts above take precedence. */
  clientOptions?: MongoClientOptions;
}

/** Runnel's bookkeeping under `_runnel`, as stored (encoded: see the class comment). */
export interface RunnelFields {
  v: number;
  start: Date;
  end: Date;
  key: unknown[];
  states: Record<string, unknown>;
  /** Grouped by topic (see encodeOffsets). */
  offsets: Record<string, number | Record<string, number>>;
  /** StateDoc.partial, when the document has aggregates it holds only in part: per aggregate, offsets as `offsets` are stored. */
  partial?: Record<string, Record<string, number | Record<string, number>>>;
  w: string;
}

interface StoredDoc {
  _id: string;
  /** Absent from a document that another program wrote into the collection. */
  _runnel?: RunnelFields;
  [field: string]: unknown;
}

/** A document as this store writes it, without its `_id`. */
type StoredFields = Omit<StoredDoc, '_id'> & { _runnel: RunnelFields };

/**
 * A writer's claim on version v of document d, with the whole document at that version, packed
 * (`z`: raw deflate of its BSON; `w`: its write token). Claims written before packing carry the
 * document as it is (`doc`) and are read the same.
 */
type ClaimDoc = { _id: string; d: string; v: number } & ({ w: string; z: Binary | Uint8Array } | { doc: Omit<StoredDoc, '_id'> });

/** A document's content at a claimed version, to replace the document with. */
interface ClaimedContent<Doc = Omit<StoredDoc, '_id'>> {
  d: string;
  v: number;
  doc: Doc;
}

function packClaim(d: string, v: number, doc: StoredFields): ClaimDoc {
  return { _id: claimId(d, v), d, v, w: doc._runnel.w, z: new Binary(deflateRawSync(BSON.serialize(doc), { level: 1 })) };
}

function unpackClaim(claim: ClaimDoc): ClaimedContent {
  if ('doc' in claim) return { d: claim.d, v: claim.v, doc: claim.doc };
  // read with promoteBuffers (see lookup.ts): a Buffer, else a Binary
  const packed = claim.z instanceof Binary ? claim.z.buffer.subarray(0, claim.z.position) : claim.z;
  const doc = BSON.deserialize(inflateRawSync(packed)) as Omit<StoredDoc, '_id'>;
  return { d: claim.d, v: claim.v, doc };
}

/** An object with each name and value mapped. */
function mapEntries<A, B>(object: Record<string, A>, name: (name: string) => string, value: (value: A) => B): Record<string, B> {
  return Object.fromEntries(Object.entries(object).map(([n, v]) => [name(n), value(v)]));
}

/** One raise of a partition's fence. */
interface FenceMark {
  _id: string;
  p: string;
  o: number;
}

/** What is stored for one id: the document (as projected) when it exists, and its claims' versions, ascending. */
interface Observed {
  stored?: StoredDoc;
  claims: number[];
}

const docVersion = (o: Observed): number => o.stored?._runnel?.v ?? 0;
const topClaim = (o: Observed): number => o.claims.at(-1) ?? 0;
const stateVersion = (o: Observed): number => Math.max(docVersion(o), topClaim(o));
const claimId = (id: string, version: number): string => `${id}@${version}`;

/**
 * How long one operation waits for a server to answer before it fails and is retried with
 * backoff (and a warning): short, so an outage shows in the logs at once instead of each
 * operation sitting out a whole connect timeout in the driver. Connecting still gets the whole
 * connect timeout, over several attempts.
 */
const SERVER_SELECTION_MS = 5000;
/** Documents per insert command on FerretDB. */
const FERRETDB_MAX_INSERT_BATCH = 50;
/** Statements per update command on FerretDB: each holds a pooled connection (100 in all) until the command ends. */
const FERRETDB_MAX_UPDATE_BATCH = 10;
/** Write commands in flight at once on FerretDB over PostgreSQL (on SQLite one: see the class comment). */
const FERRETDB_PG_COMMANDS_IN_FLIGHT = 4;
/** Settle rounds before giving up: each needs a rival's replace to land after ours. */
const MAX_SETTLE_ROUNDS = 50;
const VERSION_PROJECTION = { '_runnel.v': 1, '_runnel.offsets': 1 };
const FULL_PROJECTION = { _runnel: 1 };

export class MongoStateStore implements StateStore {
  private readonly render: (doc: StateDoc) => Record<string, unknown>;
  /** Documents per run of the write protocol (one read of their states after the claims). */
  private writeBatchSize: number;
  /** Documents per insert and statements per update command. */
  private insertBatchSize: number;
  private updateBatchSize: number;
  /** FerretDB: replaces filter on `_id` alone (see the class comment). */
  private filterOnIdOnly = false;
  /** How documents are found by id: one `$in` per chunk, or one query per id (see detectLookup). */
  private lookup: LookupMode = 'in';
  /** Write commands of one step sent at once. */
  private commandsInFlight = 1;
  /**
   * The state versions this store saw last (its last write, and reads since): a write expecting
   * one of them skips step 1. A change by another writer meanwhile still fails the claim (step 2)
   * or the settled state (step 4), so skipping the check saves a read and decides nothing.
   */
  private seenVersions = new Map<string, number>();
  private readonly logger: Logger;
  private readonly retryOptions: RetryOptions;
  readonly namespace: string;

  private constructor(
    /** The driver client (through its watchdog), for health checks and monitoring; the store owns it (see close). */
    readonly connection: MongoConnection,
    private readonly options: MongoStoreOptions,
    private readonly redactedUri: string,
    /** False for a sibling (see `sibling`): the connection is its owner's to close. */
    private readonly ownsClient = true,
  ) {
    this.render = options.render;
    this.writeBatchSize = options.writeBatchSize;
    this.insertBatchSize = this.writeBatchSize;
    this.updateBatchSize = this.writeBatchSize;
    this.logger = options.logger ?? silentLogger;
    this.namespace = `${options.database}.${options.collection}`;
    // each retry waits on the signal: the lookups of documents and claims and a step's commands at once
    if (options.signal)
      setMaxListeners(getMaxListeners(options.signal) + 2 * LOOKUPS_IN_FLIGHT + FERRETDB_PG_COMMANDS_IN_FLIGHT, options.signal);
    this.retryOptions = {
      where: `${this.namespace} at ${redactedUri}`,
      logger: this.logger,
      signal: options.signal,
      connection,
      initialMs: options.retry?.initialMs,
      maxMs: options.retry?.maxMs,
    };
  }

  /** How this store finds documents by id: one `$in` per chunk of ids, or one query per id. */
  get lookupMode(): LookupMode {
    return this.lookup;
  }

  get databaseName(): string {
    return this.options.database;
  }

  get collectionName(): string {
    return this.options.collection;
  }

  // From the connection's current client at each use: the connection may replace it.
  private get collection(): Collection<StoredDoc> {
    return this.connection.client.db(this.options.database).collection<StoredDoc>(this.options.collection);
  }

  private get claims(): Collection<ClaimDoc> {
    return this.connection.client.db(this.options.database).collection<ClaimDoc>(`${this.options.collection}.runnel_claims`);
  }

  private get fences(): Collection<FenceMark> {
    return this.connection.client.db(this.options.database).collection<FenceMark>(`${this.options.collection}.runnel_fences`);
  }

  /**
   * Connects, checks the server answers and creates the indexes. Fails with a RunnelError after
   * about connectTimeout when the server cannot be reached, at once on permanent errors.
   */
  static async connect(options: MongoStoreOptions): Promise<MongoStateStore> {
    const timeoutMs = parseDuration(options.connectTimeout);
    const redactedUri = redactUrlCredentials(options.uri);
    const where = `${options.database}.${options.collection} at ${redactedUri}`;
    let connection: MongoConnection;
    try {
      connection = new MongoConnection(options.uri, {
        clientOptions: {
          appName: 'runnel',
          ...options.clientOptions,
          serverSelectionTimeoutMS: Math.min(timeoutMs, SERVER_SELECTION_MS),
          connectTimeoutMS: timeoutMs,
        },
        logger: options.logger ?? silentLogger,
        where: redactedUri,
      });
    } catch (error) {
      throw new RunnelError(`MongoDB connection string for ${where} is invalid: ${errorText(error)}`);
    }
    let store: MongoStateStore;
    try {
      store = new MongoStateStore(connection, options, redactedUri);
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw new RunnelError(`MongoDB ${where}: ${errorText(error)}`);
    }
    const deadline = Date.now() + timeoutMs;
    try {
      await store.retrying('connect', () => connection.client.connect(), deadline);
      await store.detectServer(deadline);
      await store.ensureIndexesUntil(deadline);
      if (options.lookup) store.lookup = options.lookup;
      else if (store.filterOnIdOnly) await store.detectLookup(deadline);
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
    return store;
  }

  /**
   * The store of another collection (a rollup level) over this store's connection: one pool and
   * one server monitor for all of a sink's collections. Closing it leaves the connection open.
   */
  async sibling(collection: string, logger: Logger): Promise<MongoStateStore> {
    const store = new MongoStateStore(this.connection, { ...this.options, collection, logger }, this.redactedUri, false);
    store.writeBatchSize = this.writeBatchSize;
    store.insertBatchSize = this.insertBatchSize;
    store.updateBatchSize = this.updateBatchSize;
    store.filterOnIdOnly = this.filterOnIdOnly;
    store.lookup = this.lookup;
    store.commandsInFlight = this.commandsInFlight;
    await store.ensureIndexesUntil(Date.now() + parseDuration(this.options.connectTimeout));
    return store;
  }

  private async detectServer(deadline: number): Promise<void> {
    let info: Record<string, unknown>;
    try {
      info = await this.retrying('buildInfo', () => this.connection.client.db('admin').command({ buildInfo: 1 }), deadline);
    } catch (error) {
      if (error instanceof RunnelError && error.code !== 'operation-failed') throw error;
      return; // buildInfo refused: not FerretDB, which always answers it
    }
    if (info.ferretdbVersion === undefined) return;
    this.insertBatchSize = Math.min(this.writeBatchSize, FERRETDB_MAX_INSERT_BATCH);
    this.updateBatchSize = Math.min(this.writeBatchSize, FERRETDB_MAX_UPDATE_BATCH);
    this.filterOnIdOnly = true;
    this.logger.info(
      { where: this.retryOptions.where, ferretdbVersion: info.ferretdbVersion },
      `FerretDB detected: at most ${this.updateBatchSize} statements per update command`,
    );
  }

  /** One query per id when the server indexes those and not an `$in` (lookup.ts); that backend also takes a few commands at once. */
  private async detectLookup(deadline: number): Promise<void> {
    const claims = `${this.options.collection}.runnel_claims`;
    const explain = (command: Document) =>
      this.retrying('explain', () => this.connection.client.db(this.options.database).command(command), deadline);
    try {
      const fields = [
        { collection: this.options.collection, field: '_id' },
        { collection: claims, field: '_id' },
        { collection: claims, field: 'd' },
      ];
      if ((await detectLookupMode(explain, fields)) === 'in') return;
    } catch (error) {
      if (error instanceof RunnelError && error.code !== 'operation-failed') throw error;
      return; // explain refused: keep `$in`
    }
    this.lookup = 'each';
    this.commandsInFlight = FERRETDB_PG_COMMANDS_IN_FLIGHT;
    this.logger.info({ where: this.retryOptions.where }, 'FerretDB indexes single-id queries: one query per document');
  }

  /** Creates the compound index on indexFields and those of claims and fences (no-ops when they exist). */
  async ensureIndexes(): Promise<void> {
    await this.ensureIndexesUntil(undefined);
  }

  private async ensureIndexesUntil(deadline: number | undefined): Promise<void> {
    const fields = this.options.indexFields;
    if (fields.length > 0) {
      const spec = Object.fromEntries(fields.map((f) => [f, 1 as const]));
      await this.retrying(`createIndex(${fields.join(', ')})`, () => this.collection.createIndex(spec), deadline);
    }
    await this.retrying('createIndex(claims)', () => this.claims.createIndex({ d: 1 }), deadline);
    await this.retrying('createIndex(fences)', () => this.fences.createIndex({ p: 1, o: 1 }), deadline);
  }

  async close(): Promise<void> {
    if (this.ownsClient) await this.connection.close();
  }

  /** Each document's state; documents left behind their highest claim are settled first. */
  async read(ids: readonly string[]): Promise<Map<string, StateDoc>> {
    const seen = await this.observe(ids, FULL_PROJECTION);
    const behind = ids.filter((id) => topClaim(seen.get(id)!) > docVersion(seen.get(id)!));
    if (behind.length > 0) {
      // a writer stopped between its claim and its document, or a late replace set one back
      await this.settle(behind);
      for (const [id, observed] of await this.observe(behind, FULL_PROJECTION)) seen.set(id, observed);
    }
    const found = new Map<string, StateDoc>();
    for (const [id, observed] of seen) {
      this.seenVersions.set(id, stateVersion(observed));
      if (observed.stored) found.set(id, this.fromStored(observed.stored));
    }
    return found;
  }

  /** Absent documents are written blind: see `write` and the class comment's creating. */
  readonly writesBlind = true;

  async write(writes: readonly ConditionalWrite[]): Promise<string[]> {
    const seen = this.seenVersions;
    this.seenVersions = new Map();
    const conflicts = new Set<string>();
    const creates = writes.filter((w) => w.expectedVersion === null);
    const updates = writes.filter((w) => w.expectedVersion !== null);
    for (const chunk of slices(creates, this.writeBatchSize)) for (const id of await this.createChunk(chunk)) conflicts.add(id);
    for (const chunk of slices(updates, this.writeBatchSize)) for (const id of await this.writeChunk(chunk, seen)) conflicts.add(id);
    return writes.filter((w) => conflicts.has(w.doc.id)).map((w) => w.doc.id);
  }

  /** Creating, as the class comment describes: an insert of each document, then a look for claims of the ids. */
  private async createChunk(writes: readonly ConditionalWrite[]): Promise<Set<string>> {
    const conflicts = new Set<string>();
    const tokenPrefix = randomBytes(12).toString('base64url');
    const docs: StoredDoc[] = writes.map(({ doc }, i) => ({ _id: doc.id, ...this.toStoredFields(doc, `${tokenPrefix}:${i}`) }));
    const taken = await this.insertOwn(() => this.collection, docs, {
      what: 'write (new documents)',
      idOf: (doc) => doc._id,
      tokenField: '_runnel.w',
      tokenOf: (doc) => doc._runnel?.w,
    });
    for (const i of taken) conflicts.add(docs[i]._id);
    const created = docs.filter((doc) => !conflicts.has(doc._id)).map((doc) => doc._id);
    for (const [id, observed] of await this.observeClaims(created)) if (observed.claims.length > 0) conflicts.add(id);
    for (const { doc } of writes) if (!conflicts.has(doc.id)) this.seenVersions.set(doc.id, doc.version);
    return conflicts;
  }

  /**
   * Inserts the documents, a few commands at once, and returns the indexes of those another writer
   * had inserted first. A retry after a transient error meets the documents its first attempt
   * made: their write token (at `tokenField`) tells them apart. `collection` is read at each
   * attempt: a retry after the connection replaced its client goes to the new one.
   */
  private async insertOwn<T extends Document & { _id: string }>(
    collection: () => Collection<T>,
    documents: readonly T[],
    how: { what: string; idOf: (document: T) => string; tokenField: string; tokenOf: (document: T) => string | undefined },
  ): Promise<number[]> {
    const duplicates: number[] = [];
    await mapLimited(slices(documents, this.insertBatchSize), this.commandsInFlight, async (slice, n) => {
      const ops = slice.map((document) => ({ insertOne: { document } }) as AnyBulkWriteOperation<T>);
      const found = await this.retrying(how.what, () => this.bulkWrite(collection(), ops, (j) => how.idOf(slice[j])));
      for (const j of found) duplicates.push(n * this.insertBatchSize + j);
    });
    if (duplicates.length === 0) return [];
    const ids = duplicates.map((i) => documents[i]._id);
    const found = await this.findWhereIn(collection, '_id', ids, { [how.tokenField]: 1 }, `${how.what}, reading back`);
    const tokens = new Map(found.map((document) => [document._id, how.tokenOf(document)]));
    return duplicates.filter((i) => tokens.get(documents[i]._id) !== how.tokenOf(documents[i]));
  }

  /** Steps 1 to 4 of the class comment for up to writeBatchSize documents; `seen`: see seenVersions. */
  private async writeChunk(writes: readonly ConditionalWrite[], seen: ReadonlyMap<string, number>): Promise<string[]> {
    if (writes.length === 0) return [];
    const conflicts = new Set<string>();
    const unseen = writes.filter((w) => seen.get(w.doc.id) !== (w.expectedVersion ?? 0)).map((w) => w.doc.id);
    const before = unseen.length === 0 ? new Map<string, Observed>() : await this.observe(unseen, VERSION_PROJECTION);
    const claimed = writes.filter((w) => {
      const observed = before.get(w.doc.id);
      const current = observed === undefined || stateVersion(observed) === (w.expectedVersion ?? 0);
      if (!current) conflicts.add(w.doc.id);
      return current;
    });
    const tokenPrefix = randomBytes(12).toString('base64url');
    const contents: ClaimedContent<StoredFields>[] = claimed.map(({ doc }, i) => ({
      d: doc.id,
      v: doc.version,
      doc: this.toStoredFields(doc, `${tokenPrefix}:${i}`),
    }));
    const claims = contents.map((c) => packClaim(c.d, c.v, c.doc));
    const taken = await this.insertOwn(() => this.claims, claims, {
      what: 'write (claims)',
      idOf: (claim) => claim.d,
      tokenField: 'w',
      tokenOf: (claim) => ('w' in claim ? claim.w : undefined),
    });
    for (const i of taken) conflicts.add(claims[i].d);
    const won = claimed.filter((w) => !conflicts.has(w.doc.id));
    if (won.length > 0) {
      // step 3: claims that won are the highest unless a rival claimed above them since
      await this.replaceWithClaims(contents.filter((c) => !conflicts.has(c.d)));
      const now = await this.observeClaims(won.map((w) => w.doc.id));
      const overtaken = won.filter((w) => topClaim(now.get(w.doc.id)!) !== w.doc.version).map((w) => w.doc.id);
      for (const id of overtaken) now.delete(id);
      await this.collectClaims(now);
      // step 4
      const settled = overtaken.length === 0 ? new Map<string, Observed>() : await this.settle(overtaken);
      for (const { doc } of won.filter((w) => settled.has(w.doc.id))) {
        const held = decodeOffsets(settled.get(doc.id)!.stored?._runnel?.offsets);
        if (!Object.entries(doc.offsets).every(([partition, offset]) => (held[partition] ?? -1) >= offset)) conflicts.add(doc.id);
      }
    }
    for (const { doc } of writes) if (!conflicts.has(doc.id)) this.seenVersions.set(doc.id, doc.version);
    return writes.filter((w) => conflicts.has(w.doc.id)).map((w) => w.doc.id);
  }

  /**
   * Brings each document up to its highest claim, reading again after every replace until none
   * is behind, then deletes the claims below the highest. Returns the last observation.
   */
  private async settle(ids: readonly string[]): Promise<Map<string, Observed>> {
    for (let round = 1; ; round++) {
      const seen = await this.observe(ids, VERSION_PROJECTION);
      const behind = ids.filter((id) => topClaim(seen.get(id)!) > docVersion(seen.get(id)!));
      if (behind.length === 0) {
        await this.collectClaims(seen);
        return seen;
      }
      if (round > MAX_SETTLE_ROUNDS) {
        throw new RunnelError(
          `MongoDB ${this.retryOptions.where}: ${behind.length} documents still behind their claims after ${MAX_SETTLE_ROUNDS} rounds (first: ${JSON.stringify(behind[0])})`,
        );
      }
      const wanted = behind.map((id) => claimId(id, topClaim(seen.get(id)!)));
      const claims = await this.findWhereIn(() => this.claims, '_id', wanted, undefined, 'settle (reading claims)');
      await this.replaceWithClaims(claims.map(unpackClaim));
    }
  }

  /** Replaces each claim's document with the claim's content (a replace that lands late is repaired by settle). */
  private async replaceWithClaims(claims: readonly ClaimedContent[]): Promise<void> {
    await mapLimited(slices(claims, this.updateBatchSize), this.commandsInFlight, async (slice) => {
      const ops: AnyBulkWriteOperation<StoredDoc>[] = slice.map((claim) => ({
        replaceOne: {
          filter: this.filterOnIdOnly ? { _id: claim.d } : { _id: claim.d, '_runnel.v': { $lt: claim.v } },
          replacement: claim.doc,
          upsert: true,
        },
      }));
      // a duplicate key is an upsert that found the document at or past the claim: nothing to do
      await this.retrying('settle', () => this.bulkWrite(this.collection, ops, (j) => slice[j].d));
    });
  }

  /** Deletes every claim below the highest of its document: the highest one is never deleted. */
  private async collectClaims(seen: Map<string, Observed>): Promise<void> {
    const old: string[] = [];
    for (const [id, observed] of seen) for (const v of observed.claims.slice(0, -1)) old.push(claimId(id, v));
    if (old.length === 0) return;
    if (this.lookup === 'in') {
      await this.retrying('collect claims', () => this.claims.deleteMany({ _id: { $in: old } }));
      return;
    }
    // one statement per claim: each is an indexed lookup, where an `$in` reads the whole collection
    await mapLimited(slices(old, this.updateBatchSize), this.commandsInFlight, (slice) =>
      this.retrying('collect claims', () =>
        this.claims.bulkWrite(
          slice.map((_id) => ({ deleteOne: { filter: { _id } } })),
          { ordered: false },
        ),
      ),
    );
  }

  /** The documents (projected) and the versions of their claims. */
  private async observe(ids: readonly string[], projection: Document): Promise<Map<string, Observed>> {
    const [seen, docs] = await Promise.all([
      this.observeClaims(ids),
      this.findWhereIn(() => this.collection, '_id', ids, projection, 'read'),
    ]);
    for (const stored of docs) seen.get(stored._id)!.stored = stored;
    return seen;
  }

  /** The versions of the documents' claims, without the documents. */
  private async observeClaims(ids: readonly string[]): Promise<Map<string, Observed>> {
    const seen = new Map<string, Observed>(ids.map((id) => [id, { claims: [] }]));
    for (const claim of await this.findWhereIn(() => this.claims, 'd', ids, { d: 1, v: 1 }, 'read (claims)'))
      seen.get(claim.d)?.claims.push(claim.v);
    for (const observed of seen.values()) if (observed.claims.length > 1) observed.claims.sort((a, b) => a - b);
    return seen;
  }

  /** The documents whose `field` is one of `values` (see lookup.ts); `collection` is read at each attempt. */
  private findWhereIn<T extends Document>(
    collection: () => Collection<T>,
    field: string,
    values: readonly string[],
    projection: Document | undefined,
    what: string,
  ): Promise<T[]> {
    return findWhereIn(collection, field, values, projection, this.lookup, (query) => this.retrying(what, query));
  }

  /**
   * One unordered bulkWrite; returns the indexes of operations that failed on a duplicate key.
   * Transient failures throw as they are (for retrying); any other failure throws a RunnelError
   * naming the document.
   */
  private async bulkWrite<T extends Document>(
    collection: Collection<T>,
    ops: AnyBulkWriteOperation<T>[],
    idOf: (index: number) => string,
  ): Promise<Set<number>> {
    const duplicates = new Set<number>();
    if (ops.length === 0) return duplicates;
    try {
      await collection.bulkWrite(ops, { ordered: false });
      return duplicates;
    } catch (error) {
      // a failure of the whole command (network, no server) carries no write errors: nothing is known written
      if (!(error instanceof MongoBulkWriteError) || error.err !== undefined || failedAsAWhole(error)) throw error;
      const writeErrors = writeErrorsOf(error);
      for (const e of writeErrors) {
        if (e.code === DUPLICATE_KEY) duplicates.add(e.index);
        else if (TRANSIENT_CODES.has(e.code)) throw error;
        else {
          throw new RunnelError(
            `MongoDB write to ${this.retryOptions.where} failed for document ${JSON.stringify(idOf(e.index))}: ${redactUrlCredentials(e.errmsg ?? '')} (code ${e.code})` +
              (writeErrors.length > 1 ? ` and ${writeErrors.length - 1} more write errors` : ''),
          );
        }
      }
      return duplicates;
    }
  }

  async readFence(partition: string): Promise<number> {
    const mark = await this.retrying('readFence', () => this.fences.findOne({ p: partition }, { sort: { o: -1 }, projection: { o: 1 } }));
    return mark ? Number(mark.o) : -1;
  }

  async raiseFence(partition: string, offset: number): Promise<void> {
    const mark = { _id: `${partition}@${offset}`, p: partition, o: offset };
    await this.retrying('raiseFence', async () => {
      try {
        await this.fences.insertOne(mark);
      } catch (error) {
        if (!isDuplicateKey(error)) throw error; // raised to this offset before
      }
    });
    await this.retrying('raiseFence (collecting)', () => this.fences.deleteMany({ p: partition, o: { $lt: offset } }));
  }

  private toStoredFields(doc: StateDoc, token: string): StoredFields {
    const { _id, ...rendered } = this.render(doc); // the id is Runnel's
    const runnel: RunnelFields = {
      v: doc.version,
      start: new Date(doc.windowStart),
      end: new Date(doc.windowEnd),
      key: encodeValue(doc.key) as unknown[],
      states: encodeValue(doc.states) as Record<string, unknown>,
      offsets: encodeOffsets(doc.offsets),
      ...(doc.partial ? { partial: mapEntries(doc.partial, encodeName, encodeOffsets) } : {}),
      w: token,
    };
    return { ...rendered, _runnel: runnel };
  }

  private fromStored(stored: StoredDoc): StateDoc {
    const r = stored._runnel;
    if (!r || typeof r !== 'object' || !(r.start instanceof Date) || !(r.end instanceof Date)) {
      throw new RunnelError(
        `document ${JSON.stringify(stored._id)} in ${this.retryOptions.where} has no valid _runnel field: is the collection shared with another program?`,
      );
    }
    return {
      id: stored._id,
      version: r.v,
      windowStart: r.start.getTime(),
      windowEnd: r.end.getTime(),
      key: decodeValue(r.key) as unknown[],
      states: decodeValue(r.states) as Record<string, StoredValue>,
      offsets: decodeOffsets(r.offsets),
      ...(r.partial ? { partial: mapEntries(r.partial, decodeName, decodeOffsets) } : {}),
    };
  }

  private retrying<T>(what: string, op: () => Promise<T>, deadline?: number): Promise<T> {
    return retryTransient(op, { ...this.retryOptions, what, deadline });
  }
}

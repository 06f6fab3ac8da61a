import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Binary,
  MongoAPIError,
  MongoBulkWriteError,
  MongoClient,
  MongoError,
  MongoNetworkError,
  MongoServerSelectionError,
  type AnyBulkWriteOperation,
  type Collection,
  type MongoClientOptions,
} from 'mongodb';
import type { Logger } from 'pino';
import { redactUrlCredentials } from '../../compiler/redact.js';
import type { ConditionalWrite, StateDoc, StateStore } from '../../engine/store.js';
import { RunnelError } from '../../errors.js';
import { silentLogger } from '../../log.js';
import type { StoredValue } from '../aggregations/types.js';
import { decodeOffsets, decodeValue, encodeOffsets, encodeValue } from './mongodb-encoding.js';

/**
 * The MongoDB StateStore: one document per (window, group key), holding the user's rendered
 * output fields next to Runnel's own bookkeeping under `_runnel`:
 *
 *   { _id: doc.id, ...render(doc),
 *     _runnel: { v: version, start: Date, end: Date, key: [...], states: {...},
 *                offsets: { [partition]: offset }, w: writeToken } }
 *
 * Writes are conditional on `_runnel.v` (optimistic concurrency, no transactions), so it works on
 * any MongoDB 4.4+ and on wire-compatible servers such as FerretDB.
 *
 * FerretDB 1.x (SQLite backend) is detected at connect (buildInfo.ferretdbVersion): its
 * conditional updates are not atomic (two writers can both match the same version, and `$max`
 * upserts can lose a raise) and two concurrent multi-document update commands on one collection
 * can deadlock it for good, as does a single update command of 100 or more statements. There the
 * store runs its writes and fence raises one at a time, sends at most 50 documents per bulkWrite
 * and always reads back the write tokens of replaces; that is safe for one writing process only.
 *
 * `key`, `states` and `offsets` go through a reversible encoding so that every StoredValue
 * round-trips exactly on every server: field names escape '%', '.', '$' and NUL as %25, %2E,
 * %24, %00; non-finite numbers and -0 become `{ '%n': 'NaN' }`; an array directly inside an
 * array becomes `{ '%a': [...] }` (FerretDB rejects nested arrays, NaN and infinities). A bare
 * '%' key can never come out of the name escaping, so these markers are unambiguous.
 */

export interface MongoStoreOptions {
  /** Connection string; credentials in it never appear in errors or logs. */
  uri: string;
  database: string;
  collection: string;
  /** The user's output fields of a document (e.g. date, publisher, geo, imps). */
  render: (doc: StateDoc) => Record<string, unknown>;
  /** Fields of one compound ascending index created at connect (e.g. ['date', 'publisher', 'geo']). */
  indexFields: readonly string[];
  /** Most documents in one bulkWrite (default 1000). */
  writeBatchSize?: number;
  logger?: Logger;
  /** How long connect may take before failing when the server is unreachable (default 15000). */
  connectTimeoutMs?: number;
  /** Stops the retrying of transient errors (otherwise retried forever). */
  signal?: AbortSignal;
  /** Backoff of transient-error retries: first delay and cap in ms (default 100 and 5000). */
  retry?: { initialMs?: number; maxMs?: number };
  /** Extra driver options (e.g. monitorCommands, tls); the timeouts above take precedence. */
  clientOptions?: MongoClientOptions;
}

interface RunnelFields {
  v: number;
  start: Date;
  end: Date;
  key: unknown[];
  states: Record<string, unknown>;
  offsets: Record<string, number>;
  w: string;
}

interface StoredDoc {
  _id: string;
  _runnel: RunnelFields;
  [field: string]: unknown;
}

interface FenceDoc {
  _id: string;
  offset: number;
}

const DEFAULT_WRITE_BATCH = 1000;
const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
/** Ids per find: keeps the `$in` list far below the 16 MiB command limit. */
const READ_CHUNK = 5000;
const DUPLICATE_KEY = 11000;
/** FerretDB 1.24 (SQLite) hangs for good on an update command of 100 or more statements. */
const FERRETDB_MAX_WRITE_BATCH = 50;

export class MongoStateStore implements StateStore {
  private readonly collection: Collection<StoredDoc>;
  private readonly fences: Collection<FenceDoc>;
  private readonly render: (doc: StateDoc) => Record<string, unknown>;
  private writeBatchSize: number;
  private readonly logger: Logger;
  private readonly retryOptions: RetryOptions;
  readonly namespace: string;
  private atomic = true;
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The driver client, for health checks and monitoring; the store owns it (see close). */
    readonly client: MongoClient,
    private readonly options: MongoStoreOptions,
    redactedUri: string,
  ) {
    const db = client.db(options.database);
    this.collection = db.collection<StoredDoc>(options.collection);
    this.fences = db.collection<FenceDoc>(`${options.collection}.runnel_fences`);
    this.render = options.render;
    this.writeBatchSize = Math.max(1, Math.floor(options.writeBatchSize ?? DEFAULT_WRITE_BATCH));
    this.logger = options.logger ?? silentLogger;
    this.namespace = `${options.database}.${options.collection}`;
    this.retryOptions = {
      where: `${this.namespace} at ${redactedUri}`,
      logger: this.logger,
      signal: options.signal,
      initialMs: options.retry?.initialMs,
      maxMs: options.retry?.maxMs,
    };
  }

  /**
   * Connects, checks the server answers and creates the index. Fails with a RunnelError after
   * about connectTimeoutMs when the server cannot be reached, at once on permanent errors.
   */
  static async connect(options: MongoStoreOptions): Promise<MongoStateStore> {
    const timeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const redactedUri = redactUrlCredentials(options.uri);
    const where = `${options.database}.${options.collection} at ${redactedUri}`;
    let client: MongoClient;
    try {
      client = new MongoClient(options.uri, {
        appName: 'runnel',
        ...options.clientOptions,
        serverSelectionTimeoutMS: timeoutMs,
        connectTimeoutMS: timeoutMs,
      });
    } catch (error) {
      throw new RunnelError(`MongoDB connection string for ${where} is invalid: ${errorText(error)}`);
    }
    let store: MongoStateStore;
    try {
      store = new MongoStateStore(client, options, redactedUri);
    } catch (error) {
      await client.close().catch(() => undefined);
      throw new RunnelError(`MongoDB ${where}: ${errorText(error)}`);
    }
    const deadline = Date.now() + timeoutMs;
    try {
      await store.retrying('connect', () => client.connect(), deadline);
      await store.detectServer(deadline);
      await store.ensureIndexesUntil(deadline);
    } catch (error) {
      await client.close().catch(() => undefined);
      throw error;
    }
    return store;
  }

  /**
   * Whether the server applies a conditional single-document update atomically (MongoDB: yes;
   * FerretDB 1.x: no). When false, writes and fence raises of this store are serialized.
   */
  get atomicConditionalWrites(): boolean {
    return this.atomic;
  }

  private async detectServer(deadline: number): Promise<void> {
    let info: Record<string, unknown>;
    try {
      info = await this.retrying('buildInfo', () => this.client.db('admin').command({ buildInfo: 1 }), deadline);
    } catch (error) {
      if (error instanceof RunnelError && /not reachable|stopped/.test(error.message)) throw error;
      return; // buildInfo refused: not FerretDB, which always answers it
    }
    if (info.ferretdbVersion === undefined) return;
    this.atomic = false;
    this.writeBatchSize = Math.min(this.writeBatchSize, FERRETDB_MAX_WRITE_BATCH);
    this.logger.info(
      { where: this.retryOptions.where, ferretdbVersion: info.ferretdbVersion },
      'FerretDB detected: its conditional updates are not atomic, so writes are serialized and verified; run only one writing process per collection',
    );
  }

  /** Runs op after every earlier serialized op of this store, when the server needs it. */
  private serialized<T>(op: () => Promise<T>): Promise<T> {
    if (this.atomic) return op();
    const run = this.tail.then(op, op);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Creates the compound index on indexFields (a no-op when it exists). */
  async ensureIndexes(): Promise<void> {
    await this.ensureIndexesUntil(undefined);
  }

  private async ensureIndexesUntil(deadline: number | undefined): Promise<void> {
    const fields = this.options.indexFields;
    if (fields.length === 0) return;
    const spec = Object.fromEntries(fields.map((f) => [f, 1 as const]));
    await this.retrying(`createIndex(${fields.join(', ')})`, () => this.collection.createIndex(spec), deadline);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async read(ids: readonly string[]): Promise<Map<string, StateDoc>> {
    const found = new Map<string, StateDoc>();
    for (let i = 0; i < ids.length; i += READ_CHUNK) {
      const chunk = (ids.length <= READ_CHUNK ? ids : ids.slice(i, i + READ_CHUNK)) as string[];
      const docs = await this.retrying('read', () =>
        this.collection
          .find({ _id: { $in: chunk } }, { projection: { _runnel: 1 }, batchSize: chunk.length, promoteBuffers: true })
          .toArray(),
      );
      for (const stored of docs) found.set(stored._id, this.fromStored(stored));
    }
    return found;
  }

  async write(writes: readonly ConditionalWrite[]): Promise<string[]> {
    if (writes.length <= this.writeBatchSize) return this.serialized(() => this.writeChunk(writes));
    const conflicts: string[] = [];
    for (let i = 0; i < writes.length; i += this.writeBatchSize) {
      const chunk = writes.slice(i, i + this.writeBatchSize);
      conflicts.push(...(await this.serialized(() => this.writeChunk(chunk))));
    }
    return conflicts;
  }

  /**
   * One unordered bulkWrite. Inserts that hit a duplicate key and replaces whose version did not
   * match are told apart from ours by the write token: only documents that do not carry our token
   * afterwards are conflicts. This also makes a retry after a transient error safe, since writes
   * applied by the failed attempt are recognised as ours.
   */
  private async writeChunk(writes: readonly ConditionalWrite[]): Promise<string[]> {
    if (writes.length === 0) return [];
    const tokenPrefix = randomBytes(12).toString('base64url');
    const tokenOf = (i: number) => `${tokenPrefix}:${i}`;
    let replaceCount = 0;
    const ops: AnyBulkWriteOperation<StoredDoc>[] = writes.map(({ doc, expectedVersion }, i) => {
      const fields = this.toStoredFields(doc, tokenOf(i));
      if (expectedVersion === null) return { insertOne: { document: { _id: doc.id, ...fields } as StoredDoc } };
      replaceCount++;
      return { replaceOne: { filter: { _id: doc.id, '_runnel.v': expectedVersion }, replacement: fields } };
    });

    const outcome = await this.retrying('write', async () => {
      try {
        const result = await this.collection.bulkWrite(ops, { ordered: false });
        return { matched: result.matchedCount, duplicates: new Set<number>() };
      } catch (error) {
        const duplicates = this.duplicateInserts(error, writes);
        if (!duplicates) throw error;
        return { matched: (error as MongoBulkWriteError).matchedCount, duplicates };
      }
    });

    // Counts are exact on MongoDB; FerretDB may report a replace as matched that another writer overwrote.
    const replacesCertain = this.atomic && outcome.matched === replaceCount;
    if (outcome.duplicates.size === 0 && (replacesCertain || replaceCount === 0)) return [];
    const uncertain: number[] = [];
    for (let i = 0; i < writes.length; i++) {
      if (writes[i].expectedVersion === null ? outcome.duplicates.has(i) : !replacesCertain) uncertain.push(i);
    }
    if (uncertain.length === 0) return [];
    const uncertainIds = uncertain.map((i) => writes[i].doc.id);
    const stored = await this.retrying('write (reading back tokens)', () =>
      this.collection.find({ _id: { $in: uncertainIds } }, { projection: { '_runnel.w': 1 }, batchSize: uncertainIds.length }).toArray(),
    );
    const tokens = new Map(stored.map((d) => [d._id, d._runnel?.w]));
    return uncertain.filter((i) => tokens.get(writes[i].doc.id) !== tokenOf(i)).map((i) => writes[i].doc.id);
  }

  /**
   * The indexes of inserts that failed on a duplicate key, when those are the only failures of a
   * bulkWrite; undefined when the error is something else. A failure that is neither transient
   * nor a duplicate insert throws a RunnelError naming the document.
   */
  private duplicateInserts(error: unknown, writes: readonly ConditionalWrite[]): Set<number> | undefined {
    if (!(error instanceof MongoBulkWriteError) || error.err !== undefined) return undefined;
    const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
    const duplicates = new Set<number>();
    for (const e of writeErrors) {
      if (e.code === DUPLICATE_KEY && writes[e.index]?.expectedVersion === null) duplicates.add(e.index);
      else if (TRANSIENT_CODES.has(e.code)) return undefined;
      else {
        const id = writes[e.index]?.doc.id ?? '?';
        throw new RunnelError(
          `MongoDB write to ${this.retryOptions.where} failed for document ${JSON.stringify(id)}: ${redactUrlCredentials(e.errmsg ?? '')} (code ${e.code})` +
            (writeErrors.length > 1 ? ` and ${writeErrors.length - 1} more write errors` : ''),
        );
      }
    }
    return duplicates;
  }

  async readFence(partition: string): Promise<number> {
    const fence = await this.retrying('readFence', () => this.fences.findOne({ _id: partition }));
    return fence ? Number(fence.offset) : -1;
  }

  async raiseFence(partition: string, offset: number): Promise<void> {
    const raise = () => this.fences.updateOne({ _id: partition }, { $max: { offset } }, { upsert: true });
    await this.serialized(() =>
      this.retrying('raiseFence', async () => {
        try {
          await raise();
        } catch (error) {
          // Two concurrent upserts of a new fence: one inserts, the other fails; its update now matches.
          if (!isDuplicateKey(error)) throw error;
          await raise();
        }
      }),
    );
  }

  private toStoredFields(doc: StateDoc, token: string): Omit<StoredDoc, '_id'> {
    const fields: Record<string, unknown> = { ...this.render(doc) };
    delete fields._id;
    fields._runnel = {
      v: doc.version,
      start: new Date(doc.windowStart),
      end: new Date(doc.windowEnd),
      key: encodeValue(doc.key) as unknown[],
      states: encodeValue(doc.states) as Record<string, unknown>,
      offsets: encodeOffsets(doc.offsets),
      w: token,
    } satisfies RunnelFields;
    return fields as Omit<StoredDoc, '_id'>;
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
    };
  }

  private retrying<T>(what: string, op: () => Promise<T>, deadline?: number): Promise<T> {
    return retryTransient(op, { ...this.retryOptions, what, deadline });
  }
}

// ---------------------------------------------------------------------------------------------
// Errors and retries

/** Server error codes that mean "try again": network trouble, elections, shutdowns. */
const TRANSIENT_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  134, // ReadConcernMajorityNotAvailableYet
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10058, // LegacyNotPrimary
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);
const TRANSIENT_LABELS = ['RetryableWriteError', 'ResumableChangeStreamError', 'TransientTransactionError', 'NetworkError'];
const TRANSIENT_MESSAGE = /not primary|not master|node is recovering|connection .*closed|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT/i;

/** Whether an error is worth retrying (the server may answer later) rather than a permanent failure. */
export function isTransientMongoError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true;
  // Usage errors, among them "client/topology closed": retrying cannot help.
  if (error instanceof MongoAPIError) return false;
  if (error.name === 'MongoWaitQueueTimeoutError') return true;
  if (error instanceof MongoError) {
    if (TRANSIENT_LABELS.some((label) => error.hasErrorLabel(label))) return true;
    if (error instanceof MongoBulkWriteError) {
      const concern = error.err;
      if (concern) return concern.code !== undefined && TRANSIENT_CODES.has(concern.code);
      const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
      // Duplicate inserts beside transient failures: a retry is safe, write tokens tell ours apart.
      return writeErrors.some((e) => TRANSIENT_CODES.has(e.code)) && writeErrors.every((e) => TRANSIENT_CODES.has(e.code) || e.code === DUPLICATE_KEY);
    }
    if (typeof error.code === 'number') return TRANSIENT_CODES.has(error.code);
  }
  return TRANSIENT_MESSAGE.test(error.message);
}

function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoError && error.code === DUPLICATE_KEY;
}

/** An error's message with credentials masked, plus the server's code name when there is one. */
function errorText(error: unknown): string {
  if (!(error instanceof Error)) return redactUrlCredentials(String(error));
  const code = error instanceof MongoError && error.code !== undefined ? ` (code ${error.code}${'codeName' in error && error.codeName ? ` ${String(error.codeName)}` : ''})` : '';
  return redactUrlCredentials(error.message) + code;
}

function hintFor(error: unknown): string {
  if (error instanceof MongoError && error.code === 18) return '; check the user name, password and authSource of the connection string';
  if (error instanceof MongoError && error.code === 73) return '; database and collection names must be valid MongoDB names';
  if (error instanceof MongoError && (error.code === 13 || error.code === 8000)) return '; the user lacks a permission it needs';
  return '';
}

export interface RetryOptions {
  /** What is being accessed, for messages (namespace and redacted URI). */
  where: string;
  logger: Logger;
  signal?: AbortSignal;
  initialMs?: number;
  maxMs?: number;
}

/**
 * Runs op, retrying transient errors with exponential backoff and jitter (initialMs doubling up
 * to maxMs), logging a warning each time, until it succeeds, `signal` aborts or `deadline` (epoch
 * ms) would pass. Permanent errors become a RunnelError naming what failed, without credentials.
 */
export async function retryTransient<T>(op: () => Promise<T>, options: RetryOptions & { what: string; deadline?: number }): Promise<T> {
  const { what, where, logger, signal, deadline } = options;
  const maxMs = options.maxMs ?? 5000;
  let delay = options.initialMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw new RunnelError(`MongoDB ${what} on ${where} was stopped`);
    try {
      return await op();
    } catch (error) {
      if (error instanceof RunnelError) throw error;
      if (!isTransientMongoError(error)) {
        throw new RunnelError(`MongoDB ${what} on ${where} failed: ${errorText(error)}${hintFor(error)}`);
      }
      const wait = Math.round(delay / 2 + (Math.random() * delay) / 2);
      if (deadline !== undefined && Date.now() + wait >= deadline) {
        throw new RunnelError(`MongoDB ${where} is not reachable (${what} gave up after ${attempt} attempt(s)): ${errorText(error)}; is the server running and the address right?`);
      }
      logger.warn(
        { op: what, where, attempt, retryInMs: wait, err: errorText(error) },
        `MongoDB ${what} failed with a transient error; retrying`,
      );
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        throw new RunnelError(`MongoDB ${what} on ${where} was stopped while retrying: ${errorText(error)}`);
      }
      delay = Math.min(delay * 2, maxMs);
    }
  }
}

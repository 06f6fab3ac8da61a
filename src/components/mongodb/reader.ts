import type { Collection, Db, Document } from 'mongodb';
import type { Logger } from 'pino';
import type { AggregateUse, DocumentField, Plan } from '../../engine/plan.js';
import { redactUrlCredentials } from '../../redact.js';
import type { StoredValue } from '../../engine/aggregation.js';
import { MongoConnection } from './connection.js';
import { detectLookupMode, LOOKUPS_IN_FLIGHT } from './lookup.js';
import { mapLimited } from '../../util/limited.js';
import { decodeValue } from './encoding.js';
import { rollupCollection, statusCollection, type MongoSinkConfig } from './sink.js';
import {
  planLevels,
  type KeyFilters,
  type Level,
  type LevelDoc,
  type StoredLevelDoc,
  type StoredReader,
  type WindowGroups,
  type WindowQuery,
  groupDocs,
} from '../../engine/reader.js';
import type { RunStatus } from '../../engine/runtime.js';
import { restoreState } from '../../engine/store.js';
import { RunnelError } from '../../errors.js';
import { silentLogger } from '../../log.js';

/**
 * Reads the documents a MongoDB sink wrote (one collection per level, documents as described in
 * store.ts): filters on the user's indexed output fields when the mapping
 * stores them (date, publisher, geo), on `_runnel` otherwise, and projects only the states asked for.
 */
export class MongoReader implements StoredReader {
  readonly levels: Level[];
  /** Collection name of each level. */
  private readonly collections = new Map<number, string>();
  private readonly startField: string;
  private readonly keyFields: string[];
  private windowLookup: Promise<boolean> | undefined;

  private constructor(
    private readonly connection: MongoConnection,
    private readonly plan: Plan,
    document: readonly DocumentField[],
    private readonly config: MongoSinkConfig,
  ) {
    this.levels = planLevels(
      plan,
      (sizeMs, base) => `${config.database}.${base ? config.collection : rollupCollection(config.collection, sizeMs)}`,
    );
    for (const level of this.levels) {
      this.collections.set(
        level.sizeMs,
        level.sizeMs === plan.window.sizeMs ? config.collection : rollupCollection(config.collection, level.sizeMs),
      );
    }
    const target = (from: string) => document.find((f) => f.from === from)?.target;
    this.startField = target('window.start') ?? '_runnel.start';
    this.keyFields = plan.groupBy.map((k, i) => target(k.name) ?? `_runnel.key.${i}`);
  }

  /** Connects lazily, at each query until one succeeds, so a server started later is found. */
  static create(
    plan: Plan,
    document: readonly DocumentField[],
    config: MongoSinkConfig,
    timeoutMs = 5000,
    logger: Logger = silentLogger,
  ): MongoReader {
    const where = redactUrlCredentials(config.uri);
    let connection: MongoConnection;
    try {
      connection = new MongoConnection(config.uri, {
        clientOptions: { appName: 'runnel-serve', serverSelectionTimeoutMS: timeoutMs, connectTimeoutMS: timeoutMs },
        logger,
        where,
      });
    } catch (error) {
      throw new RunnelError(`MongoDB connection string of pipeline ${plan.name} (${where}) is invalid: ${(error as Error).message}`);
    }
    return new MongoReader(connection, plan, document, config);
  }

  /** Runs op on the pipeline's database through the connection (see MongoConnection.run). */
  private query<T>(op: (db: Db) => Promise<T>): Promise<T> {
    return this.connection.run(() => op(this.connection.client.db(this.config.database)));
  }

  private collection(db: Db, level: Level): Collection<Document> {
    const name = this.collections.get(level.sizeMs);
    if (!name) throw new Error(`no level ${level.label}`);
    return db.collection(name);
  }

  async find(level: Level, from: number, to: number, filters: KeyFilters, aggregates: readonly AggregateUse[]): Promise<LevelDoc[]> {
    const docs = await this.findStored(
      level,
      from,
      to,
      filters,
      aggregates.map((a) => a.name),
    );
    return docs.map((doc) => ({
      windowStart: doc.windowStart,
      key: doc.key,
      states: aggregates.map((a) => restoreState(a, doc.states)),
    }));
  }

  async windowGroups({ level, from, to, filters, aggregates, by }: WindowQuery): Promise<WindowGroups[]> {
    return groupDocs(await this.find(level, from, to, filters, aggregates), by);
  }

  /** Like find, with the states as stored (not yet deserialized); `names` limits the states read. */
  async findStored(level: Level, from: number, to: number, filters: KeyFilters, names?: readonly string[]): Promise<StoredLevelDoc[]> {
    const query: Document = { [this.startField]: { $gte: new Date(from), $lt: new Date(to) } };
    for (const [index, value] of filters) {
      const asNumber = Number(value);
      query[this.keyFields[index]] = value.trim() !== '' && Number.isFinite(asNumber) ? { $in: [value, asNumber] } : value;
    }
    const docs = await this.query((db) =>
      this.collection(db, level)
        .find(query, { projection: statesProjection(names), promoteBuffers: true })
        .toArray(),
    );
    return docs.map(storedLevelDoc);
  }

  async findStoredWindows(level: Level, starts: readonly number[]): Promise<StoredLevelDoc[]> {
    if (starts.length === 0) return [];
    const projection = statesProjection(undefined);
    if (await this.windowsIndexed()) {
      // each window's query runs as it is: a failure fails the read, as a range read's does
      const found = await this.query((db) =>
        mapLimited(starts, LOOKUPS_IN_FLIGHT, (start) =>
          this.collection(db, level)
            .find({ [this.startField]: new Date(start) }, { projection, promoteBuffers: true })
            .toArray(),
        ),
      );
      return found.flat().map(storedLevelDoc);
    }
    let from = Infinity;
    let to = -Infinity;
    for (const start of starts) {
      if (start < from) from = start;
      if (start + level.sizeMs > to) to = start + level.sizeMs;
    }
    const wanted = new Set(starts);
    return (await this.findStored(level, from, to, new Map())).filter((doc) => wanted.has(doc.windowStart));
  }

  /**
   * Whether an equality on the window's start is served by an index and a range is not: FerretDB
   * pushes a top-level field's equality down to its backend (never a range, nor a dotted path),
   * where the local stack indexes the leading field of the sink's index (scripts/stack). Asked of
   * the server once, again after a failure.
   */
  private windowsIndexed(): Promise<boolean> {
    this.windowLookup ??= (
      this.startField.includes('.')
        ? Promise.resolve(false)
        : this.query((db) =>
            detectLookupMode(
              (command) => db.command(command),
              [{ collection: this.config.collection, field: this.startField, value: new Date(0) }],
            ),
          ).then((mode) => mode === 'each')
    ).catch((error: unknown) => {
      this.windowLookup = undefined;
      throw error;
    });
    return this.windowLookup;
  }

  async extent(): Promise<{ first: number; last: number } | null> {
    const coarsest = this.levels[this.levels.length - 1];
    const projection = { _id: 0, '_runnel.start': 1 };
    const edge = (direction: 1 | -1) =>
      this.query((db) =>
        this.collection(db, coarsest)
          .find({}, { projection })
          .sort({ [this.startField]: direction })
          .limit(1)
          .toArray(),
      );
    const first = (await edge(1)).at(0);
    const last = (await edge(-1)).at(0);
    if (!first || !last) return null;
    const start = (doc: Document) => (doc._runnel as { start: Date }).start.getTime();
    return { first: start(first), last: start(last) + coarsest.sizeMs };
  }

  async publishedStatus(): Promise<RunStatus | null> {
    const doc = await this.query((db) =>
      db
        .collection<{ _id: string; lag?: unknown }>(statusCollection(this.config.collection))
        .findOne({ _id: this.plan.name }, { projection: { _id: 0 } }),
    );
    if (!doc) return null;
    const lag = Array.isArray(doc.lag)
      ? Object.fromEntries((doc.lag as { partition: string; lag: number }[]).map((e) => [e.partition, e.lag]))
      : {};
    return { ...(doc as unknown as RunStatus), lag };
  }

  async ping(): Promise<void> {
    await this.query((db) => db.command({ ping: 1 }));
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

/** Projects a document's window, key and the states named (all when none are). */
function statesProjection(names: readonly string[] | undefined): Document {
  const projection: Document = { _id: 0, '_runnel.start': 1, '_runnel.key': 1 };
  if (names) for (const name of names) projection[`_runnel.states.${name}`] = 1;
  else projection['_runnel.states'] = 1;
  return projection;
}

function storedLevelDoc(doc: Document): StoredLevelDoc {
  const r = doc._runnel as { start: Date; key: unknown; states: Record<string, unknown> };
  return {
    windowStart: r.start.getTime(),
    key: decodeValue(r.key) as unknown[],
    states: decodeValue(r.states) as Record<string, StoredValue>,
  };
}

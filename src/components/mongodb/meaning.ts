import { MongoError, type Collection } from 'mongodb';
import type { Logger } from 'pino';
import { compareMeanings, fingerprintOf, meaningOf, type MeaningChange } from '../../engine/meaning.js';
import type { Plan } from '../../engine/plan.js';
import { RunnelError } from '../../errors.js';
import { DUPLICATE_KEY, retryTransient } from './retry.js';
import type { MongoStateStore } from './store.js';

/** The one document of `<collection>.runnel_meaning`: the meaning of the states the collection and its levels hold. */
interface MeaningDoc {
  _id: 'meaning';
  fingerprint: string;
  /** The meaning as a list (facet names hold dots, which field names may not; FerretDB stores no nested arrays). */
  facets: { facet: string; value: string }[];
  pipeline: string;
  file: string;
  recordedAt: Date;
}

const MEANING_ID = 'meaning';
/** Upserts lost to runners starting at the same moment (FerretDB answers one of two with a duplicate key). */
const MAX_RECORD_ATTEMPTS = 5;

export function meaningCollection(collection: string): string {
  return `${collection}.runnel_meaning`;
}

/**
 * Keeps a MongoDB sink's documents of one meaning (src/engine/meaning.ts) as pipelines change
 * under them. At start: a collection with no documents takes this pipeline's meaning; one that
 * holds documents of another meaning is refused when a facet changed (merging would mix two
 * meanings in one document), and accepted with a warning when aggregates were only added or
 * removed (documents mark what they hold in part: StateDoc.partial). Before each batch: the
 * recorded meaning is still this pipeline's, so a runner of an older version that shares the
 * collection stops instead of writing over what a newer one recorded.
 */
export class MeaningGuard {
  private constructor(
    /** Asked at each use: the connection may have replaced its client (MongoConnection.noServer), and the old one is closed soon after. */
    private readonly meanings: () => Collection<MeaningDoc>,
    private readonly fingerprint: string,
    private readonly where: string,
    private readonly retry: (what: string, op: () => Promise<unknown>) => Promise<unknown>,
  ) {}

  /** Checks the recorded meaning against the plan's; records the plan's where it may; throws a RunnelError where it may not. */
  static async start(
    store: MongoStateStore,
    levels: readonly MongoStateStore[],
    plan: Plan,
    logger: Logger,
    signal?: AbortSignal,
  ): Promise<MeaningGuard> {
    const current = meaningOf(plan);
    const fingerprint = fingerprintOf(current);
    const where = store.namespace;
    const db = () => store.connection.client.db(store.databaseName);
    const retry = <T>(what: string, op: () => Promise<T>) =>
      retryTransient(op, { what, where, logger, signal, connection: store.connection });
    const guard = new MeaningGuard(() => db().collection<MeaningDoc>(meaningCollection(store.collectionName)), fingerprint, where, retry);
    // runners that start together may record at once: the one whose upsert loses reads again
    for (let attempt = 1; ; attempt++) {
      const recorded = await retry('read the recorded meaning', () => guard.meanings().findOne({ _id: MEANING_ID }));
      if (recorded?.fingerprint === fingerprint) return guard;
      const nonEmpty: string[] = [];
      for (const s of [store, ...levels]) {
        if (
          await retry('look for documents', () =>
            db()
              .collection(s.collectionName)
              .findOne({}, { projection: { _id: 1 } }),
          )
        )
          nonEmpty.push(s.collectionName);
      }
      if (recorded && nonEmpty.length > 0) {
        const change = compareMeanings(Object.fromEntries(recorded.facets.map(({ facet, value }) => [facet, value])), current);
        if (change.changed.length > 0) throw new RunnelError(refusal(plan, where, nonEmpty, recorded, change));
        if (change.added.length > 0) logger.warn({ added: change.added }, addedWarning(where, change));
        if (change.removed.length > 0) logger.warn({ removed: change.removed }, removedWarning(change));
      } else if (nonEmpty.length > 0) {
        logger.warn(
          `${where} holds documents but no record of what they mean (written before Runnel recorded what documents mean): taking them to mean what this pipeline computes (fingerprint ${fingerprint}); if it changed since they were written, replay into a new collection`,
        );
      }
      const doc: MeaningDoc = {
        _id: MEANING_ID,
        fingerprint,
        facets: Object.entries(current).map(([facet, value]) => ({ facet, value })),
        pipeline: plan.name,
        file: plan.file,
        recordedAt: new Date(),
      };
      const raced = await retry('record the meaning', async () => {
        try {
          await guard.meanings().replaceOne({ _id: MEANING_ID }, doc, { upsert: true });
          return false;
        } catch (error) {
          if (error instanceof MongoError && error.code === DUPLICATE_KEY && attempt < MAX_RECORD_ATTEMPTS) return true;
          throw error;
        }
      });
      if (raced) continue;
      logger.info({ fingerprint, was: recorded?.fingerprint ?? null }, `recorded the meaning of ${where}`);
      return guard;
    }
  }

  /** Throws a RunnelError when another runner recorded another meaning since this one started. */
  async verify(): Promise<void> {
    const recorded = (await this.retry('check the recorded meaning', () =>
      this.meanings().findOne({ _id: MEANING_ID }, { projection: { facets: 0 } }),
    )) as Omit<MeaningDoc, 'facets'> | null;
    if (recorded?.fingerprint === this.fingerprint) return;
    throw new RunnelError(
      `the meaning recorded for ${this.where} changed while this runner ran: ${recorded ? `fingerprint ${recorded.fingerprint}, recorded ${recorded.recordedAt.toISOString()} by ${recorded.file}` : 'its record was removed'}, this pipeline's is ${this.fingerprint}. ` +
        'Another runner runs another version of the pipeline on the same collection; this one stops before it writes. Run one version per collection and consumer group.',
    );
  }
}

function refusal(plan: Plan, where: string, nonEmpty: string[], recorded: MeaningDoc, change: MeaningChange): string {
  const changes = change.changed.map((c) => `${c.facet}: ${c.was} -> ${c.now}`);
  const others = [...change.added.map((a) => `aggregate.${a} added`), ...change.removed.map((a) => `aggregate.${a} removed`)];
  return (
    `${where} holds documents (in ${nonEmpty.join(', ')}) that mean something else than pipeline \`${plan.name}\` computes, and merging into them would mix the two: ` +
    `${[...changes, ...others].join('; ')} (stored fingerprint ${recorded.fingerprint}, recorded ${recorded.recordedAt.toISOString()} by ${recorded.file}; this file's ${fingerprintOf(meaningOf(plan))}). ` +
    'Ways out: write to a new collection (sink.mongodb.collection) with a new consumer group, which reads the topic from its start; ' +
    'or empty the collection, its rollup collections and their .runnel_* collections and replay from the earliest offsets; or undo the change.'
  );
}

function addedWarning(where: string, change: MeaningChange): string {
  const names = change.added.map((a) => `\`${a}\``).join(', ');
  return (
    `aggregate ${names} ${change.added.length === 1 ? 'is' : 'are'} new to ${where}: documents written before hold ${change.added.length === 1 ? 'it' : 'them'} only for the records merged from now on, ` +
    `each saying after which offsets in _runnel.partial; for exact values in earlier windows, replay into a new collection with a new consumer group` +
    renameHint(change)
  );
}

function removedWarning(change: MeaningChange): string {
  const names = change.removed.map((a) => `\`${a}\``).join(', ');
  return `aggregate ${names} ${change.removed.length === 1 ? 'is' : 'are'} no longer computed: stored states of ${change.removed.length === 1 ? 'it' : 'them'} are dropped from documents as they are rewritten`;
}

/** An added and a removed aggregate alike but for the name: most likely a rename, which sink.document does without losing history. */
function renameHint(change: MeaningChange): string {
  return change.renamed.length === 0
    ? ''
    : `; ${change.renamed.map(([from, to]) => `\`${from}\` -> \`${to}\``).join(', ')} look${change.renamed.length === 1 ? 's' : ''} like a rename: to keep the history, keep the aggregate's name and store it under the new field with sink.document (\`${change.renamed[0][1]}: ${change.renamed[0][0]}\`)`;
}

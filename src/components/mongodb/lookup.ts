import type { Collection, Document, Filter } from 'mongodb';
import { mapLimited, slices } from '../../util/limited.js';

/**
 * How documents are found by a list of values of one field (ids, claims' `d`): one `$in` per
 * chunk of values, or one equality query per value.
 *
 * FerretDB 1.24 pushes a single equality on a top-level field down to its backend, never an
 * `$in`. Over PostgreSQL with GIN indexes on those fields (scripts/stack creates them) a query per
 * id is an index lookup, while an `$in` reads the whole collection: 4.6 ms against seconds at
 * 100,000 documents. Over SQLite every query scans, and one `$in` per chunk is the cheaper; on
 * MongoDB an `$in` on an indexed field is itself indexed. The server's own plan decides.
 */
export type LookupMode = 'in' | 'each';

/** Queries in flight at once when each value is looked up on its own. */
export const LOOKUPS_IN_FLIGHT = 32;
/** Values per `$in`: far below the 16 MiB command limit. */
const IN_CHUNK = 5000;

/** Runs one explain command (find on `collection` with `filter`, queryPlanner verbosity). */
export type Explain = (command: Document) => Promise<Document>;

/**
 * 'each' when the server indexes an equality on each of `fields` (collection and field pairs,
 * compared with a string or `value`) and not an `$in` (FerretDB reports `filterPushdown` and names
 * the index in its plan); else 'in'.
 */
export async function detectLookupMode(
  explain: Explain,
  fields: readonly { collection: string; field: string; value?: unknown }[],
): Promise<LookupMode> {
  const indexed = async (collection: string, filter: Document): Promise<boolean> => {
    const plan = await explain({ explain: { find: collection, filter }, verbosity: 'queryPlanner' });
    return plan.filterPushdown === true && /Index/.test(JSON.stringify(plan.queryPlanner));
  };
  const [first] = fields;
  const value = first.value ?? 'a';
  if (await indexed(first.collection, { [first.field]: { $in: [value, value] } })) return 'in'; // a later FerretDB
  for (const f of fields) if (!(await indexed(f.collection, { [f.field]: f.value ?? 'a' }))) return 'in';
  return 'each';
}

/**
 * The documents whose `field` is one of `values`, in either mode; `attempt` wraps each query
 * (the caller's retrying of transient errors). The collection is asked for at each query: a
 * retry after the connection replaced its client must not go to the closed one.
 */
export async function findWhereIn<T extends Document>(
  collection: () => Collection<T>,
  field: string,
  values: readonly unknown[],
  projection: Document | undefined,
  mode: LookupMode,
  attempt: <R>(query: () => Promise<R>) => Promise<R>,
): Promise<T[]> {
  const options = { projection, promoteBuffers: true };
  if (mode === 'each') {
    const found = await mapLimited(values, LOOKUPS_IN_FLIGHT, (value) =>
      attempt(() =>
        collection()
          .find({ [field]: value } as Filter<T>, options)
          .toArray(),
      ),
    );
    return found.flat() as T[];
  }
  const found: T[] = [];
  for (const chunk of slices(values, IN_CHUNK)) {
    const filter = { [field]: { $in: chunk } } as Filter<T>;
    found.push(
      ...((await attempt(() =>
        collection()
          .find(filter, { ...options, batchSize: 10_000 })
          .toArray(),
      )) as T[]),
    );
  }
  return found;
}

import { createHash } from 'node:crypto';
import { formatDuration } from '../config/duration.js';
import type { AggregateUse, Plan } from './plan.js';

/**
 * What the states a sink stores mean, facet by facet: the window, the rollup levels, the event
 * time, what is counted (filter, computed fields, missing keys), the group keys and each
 * aggregate with its kind, input and options (defaults filled in). Two pipelines of equal meaning
 * may merge into the same documents; anything else here (batching, limits, the sink's document
 * mapping, descriptions) may change freely. Facet names are `window`, `rollups`, `time`,
 * `filter`, `fields`, `groupBy`, `missingKeys`, `source.<name>` (a source's own filter, fields and
 * time) and `aggregate.<name>`.
 */
export type Meaning = Readonly<Record<string, string>>;

export const AGGREGATE_FACET = 'aggregate.';

export function meaningOf(plan: Plan): Meaning {
  const w = plan.window;
  const meaning: Record<string, string> = {
    window:
      w.kind === 'tumbling'
        ? `tumbling ${formatDuration(w.sizeMs)}`
        : `sliding ${formatDuration(w.sizeMs)} every ${formatDuration(w.everyMs)}`,
    rollups: w.rollups.length === 0 ? 'none' : w.rollups.map(formatDuration).join(', '),
    time: plan.time ? `${plan.time.field} (${plan.time.format})` : 'processing time',
    filter: plan.filter?.source ?? 'none',
    fields: plan.fields.length === 0 ? 'none' : plan.fields.map((f) => `${f.name} = ${f.expression.source}`).join('; '),
    groupBy:
      plan.groupBy.length === 0
        ? 'none'
        : plan.groupBy.map((k) => (k.field !== undefined ? k.field : `${k.name} = ${k.expression!.source}`)).join(', '),
    missingKeys: plan.missingKeys,
  };
  // what a source of `sources:` applies to its own records (nothing for one that applies nothing: adding or naming sources is free)
  for (const source of plan.sources) {
    const own = [
      ...(source.filter ? [`filter ${source.filter.source}`] : []),
      ...source.fields.map((f) => `${f.name} = ${f.expression.source}`),
      ...(source.time ? [`time ${source.time.field} (${source.time.format})`] : []),
    ];
    if (own.length > 0) meaning[`source.${source.label}`] = own.join('; ');
  }
  for (const aggregate of plan.aggregates) meaning[AGGREGATE_FACET + aggregate.name] = describeAggregate(aggregate);
  return meaning;
}

/** `approxDistinct(cookie) { precision: 14 } where ...`: kind, input, every option (defaults included) and the condition. */
function describeAggregate({ kind, input, options, where }: AggregateUse): string {
  const resolved: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(kind.options).sort(([a], [b]) => a.localeCompare(b))) {
    const value = options[name] ?? schema.default;
    if (value !== undefined) resolved[name] = value;
  }
  const optionText = Object.entries(resolved)
    .map(([name, value]) => `${name}: ${JSON.stringify(value)}`)
    .join(', ');
  return `${kind.name}(${input?.source ?? ''})${optionText ? ` { ${optionText} }` : ''}${where ? ` where ${where.source}` : ''}`;
}

/** A short stable digest of a meaning: equal meanings, equal fingerprints, whatever the facet order. */
export function fingerprintOf(meaning: Meaning): string {
  const canonical = JSON.stringify(Object.entries(meaning).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

export interface MeaningChange {
  /** Aggregates the pipeline computes now and the stored states lack. */
  added: string[];
  /** Aggregates the stored states hold and the pipeline no longer computes. */
  removed: string[];
  /** Facets present on both sides with different values: these would mix two meanings. */
  changed: { facet: string; was: string; now: string }[];
  /** A removed and an added aggregate of the same definition: [removed, added], most likely a rename. */
  renamed: [string, string][];
}

export function compareMeanings(stored: Meaning, current: Meaning): MeaningChange {
  const change: MeaningChange = { added: [], removed: [], changed: [], renamed: [] };
  for (const [facet, now] of Object.entries(current)) {
    if (!Object.hasOwn(stored, facet)) {
      if (facet.startsWith(AGGREGATE_FACET)) change.added.push(facet.slice(AGGREGATE_FACET.length));
      else change.changed.push({ facet, was: 'absent', now });
    } else if (stored[facet] !== now) change.changed.push({ facet, was: stored[facet], now });
  }
  for (const [facet, was] of Object.entries(stored)) {
    if (Object.hasOwn(current, facet)) continue;
    if (facet.startsWith(AGGREGATE_FACET)) change.removed.push(facet.slice(AGGREGATE_FACET.length));
    else change.changed.push({ facet, was, now: 'absent' });
  }
  for (const removed of change.removed) {
    const added = change.added.find((name) => current[AGGREGATE_FACET + name] === stored[AGGREGATE_FACET + removed]);
    if (added !== undefined) change.renamed.push([removed, added]);
  }
  return change;
}

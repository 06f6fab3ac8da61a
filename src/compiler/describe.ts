import { findComponent } from '../components/registry.js';
import type { Slot } from '../components/spec.js';
import { formatDuration } from '../config/duration.js';
import type { CompiledExpression } from '../expr/types.js';
import { fingerprintOf, meaningOf } from '../engine/meaning.js';
import type { ComponentUse, Plan, SinkUse, SourceUse } from '../engine/plan.js';
import { redactConfig } from '../redact.js';

export interface Stage {
  stage: string;
  summary: string;
  details: Record<string, unknown>;
}

function expressionInfo(e: CompiledExpression): { expression: string; evaluation: string } {
  return { expression: e.source, evaluation: e.translated ? 'compiled to JavaScript' : 'jsonata evaluator' };
}

function component(slot: Slot, use: ComponentUse): Record<string, unknown> {
  const spec = findComponent(slot, use.name)!;
  return { component: use.name, config: redactConfig(use.config, spec.config) };
}

/** One source as it is; several with what each applies to its own records (`$source` is their name). */
function sourceStage(sources: readonly SourceUse[], named: boolean): Stage {
  if (!named) {
    return { stage: 'source', summary: findComponent('source', sources[0].name)!.summary, details: component('source', sources[0]) };
  }
  return {
    stage: 'sources',
    summary: `${sources.map((s) => `${s.label} (${s.name})`).join(', ')}, read side by side into one stream; \`$source\` names a record's source`,
    details: Object.fromEntries(
      sources.map((s) => [
        s.label,
        {
          ...component('source', s),
          ...(s.filter ? { filter: expressionInfo(s.filter) } : {}),
          ...(s.fields.length > 0 ? { fields: Object.fromEntries(s.fields.map((f) => [f.name, expressionInfo(f.expression)])) } : {}),
          ...(s.time ? { time: { field: s.time.field, format: s.time.format } } : {}),
        },
      ]),
    ),
  };
}

/** One sink as it is; several with which keeps the windows and what each writes. */
function sinkStage(plan: Plan): Stage {
  const details = (s: SinkUse) => ({
    ...component('sink', s),
    ...(plan.sinks.length > 1 ? { keepsWindows: s.keeps } : {}),
    document: Object.fromEntries(s.document.map((f) => [f.target, f.from])),
  });
  if (!plan.named.sinks)
    return { stage: 'sink', summary: findComponent('sink', plan.sinks[0].name)!.summary, details: details(plan.sinks[0]) };
  const keeper = plan.sinks.find((s) => s.keeps);
  return {
    stage: 'sinks',
    summary: `${plan.sinks.map((s) => `${s.label} (${s.name})`).join(', ')}, each given every batch's results${
      keeper ? `; ${keeper.label} keeps the windows, and every sink's rows are made from its states` : ''
    }`,
    details: Object.fromEntries(plan.sinks.map((s) => [s.label, details(s)])),
  };
}

/** The plan stage by stage, in the order a record flows through it; secrets are redacted. */
export function describePlan(plan: Plan): Stage[] {
  const w = plan.window;
  const stages: Stage[] = [
    sourceStage(plan.sources, plan.named.sources),
    {
      stage: 'batch',
      summary:
        `micro-batches of ${formatDuration(plan.batch.intervalMs)} or ${plan.batch.maxRecords} records, ` +
        `up to ${plan.batch.maxHeldRecords} records or ${plan.batch.maxGroups} partial aggregates while the batch before is stored`,
      details: { ...plan.batch },
    },
    {
      stage: 'decode',
      summary: `each record must be UTF-8 JSON text of an object, at most ${plan.limits.maxRecordBytes} bytes, nested at most ${plan.limits.maxDepth} deep; any other is a dead letter`,
      details: {
        maxRecordBytes: plan.limits.maxRecordBytes,
        maxDepth: plan.limits.maxDepth,
        expressionTimeout: formatDuration(plan.limits.expressionTimeoutMs),
        maxValueLength: plan.limits.maxValueLength,
      },
    },
  ];
  if (plan.filter)
    stages.push({ stage: 'filter', summary: `keep records where ${plan.filter.source}`, details: expressionInfo(plan.filter) });
  if (plan.fields.length > 0) {
    stages.push({
      stage: 'fields',
      summary: plan.fields.map((f) => `${f.name} = ${f.expression.source}`).join('; '),
      details: Object.fromEntries(plan.fields.map((f) => [f.name, expressionInfo(f.expression)])),
    });
  }
  stages.push(
    plan.time
      ? {
          stage: 'event time',
          summary: `from \`${plan.time.field}\` (${plan.time.format}); watermark = newest event time - ${formatDuration(plan.time.maxOutOfOrderMs)} (min over partitions${Number.isFinite(plan.time.idleTimeoutMs) ? `, but those without records for ${formatDuration(plan.time.idleTimeoutMs)}` : ''}); records older than watermark - ${formatDuration(plan.time.allowedLatenessMs)} are late; event times more than ${formatDuration(plan.time.maxFutureMs)} ahead of the clock${Number.isFinite(plan.time.maxPastMs) ? ` or ${formatDuration(plan.time.maxPastMs)} behind it` : ''} are out of range`,
          details: { ...plan.time, maxPastMs: Number.isFinite(plan.time.maxPastMs) ? plan.time.maxPastMs : 'none' },
        }
      : { stage: 'event time', summary: 'processing time: the time each record is read', details: {} },
    {
      stage: 'window',
      summary:
        w.kind === 'tumbling'
          ? `tumbling ${formatDuration(w.sizeMs)}` +
            (w.rollups.length > 0 ? `, rolled up into ${w.rollups.map(formatDuration).join(', ')} (states merged at each flush)` : '')
          : `sliding ${formatDuration(w.sizeMs)} every ${formatDuration(w.everyMs)} (each record in ${w.sizeMs / w.everyMs} windows)`,
      details: { ...w },
    },
    {
      stage: 'keys',
      summary:
        plan.groupBy.length === 0
          ? 'one group per window'
          : `${plan.groupBy.map((k) => (k.field ? k.name : `${k.name} = ${k.expression!.source}`)).join(', ')}; a key that is absent or null ${plan.missingKeys === 'deadLetter' ? 'makes the record a dead letter' : 'groups as null'}`,
      details: {
        ...Object.fromEntries(plan.groupBy.map((k) => [k.name, k.field ? { field: k.field } : expressionInfo(k.expression!)])),
        ...(plan.groupBy.length > 0 ? { missingKeys: plan.missingKeys } : {}),
      },
    },
    {
      stage: 'aggregates',
      summary: [
        ...plan.aggregates.map((a) => `${a.name} = ${a.kind.name}(${a.input?.source ?? ''})${a.where ? ` where ${a.where.source}` : ''}`),
        ...plan.derived.map((d) => `${d.name} = ${d.expression.source}`),
      ].join(', '),
      details: Object.fromEntries<unknown>([
        ...plan.aggregates.map((a): [string, unknown] => [
          a.name,
          {
            aggregation: a.kind.name,
            ...(a.input ? expressionInfo(a.input) : {}),
            ...(a.where ? { where: expressionInfo(a.where) } : {}),
            options: a.options,
            state: a.kind.describeState(a.options),
          },
        ]),
        ...plan.derived.map((d): [string, unknown] => [
          d.name,
          { derived: 'from the results of the same row, never stored as a state', ...expressionInfo(d.expression) },
        ]),
      ]),
    },
    sinkStage(plan),
  );
  stages.push({
    stage: 'dead letters',
    summary: findComponent('deadLetter', plan.deadLetter.name)!.summary,
    details: component('deadLetter', plan.deadLetter),
  });
  const meaning = meaningOf(plan);
  stages.push({
    stage: 'meaning',
    summary: `fingerprint ${fingerprintOf(meaning)}: what stored states mean; a sink that keeps them refuses a change of any of these under existing documents, but for aggregates added or removed`,
    details: meaning,
  });
  return stages;
}

export function formatStages(plan: Plan, stages: Stage[]): string {
  const lines = [`pipeline ${plan.name} (${plan.file})`];
  stages.forEach((s, i) => {
    lines.push(`${String(i + 1).padStart(2)}. ${s.stage}: ${s.summary}`);
    for (const [key, value] of Object.entries(s.details)) {
      lines.push(`      ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
    }
  });
  return lines.join('\n') + '\n';
}

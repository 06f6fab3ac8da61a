import type { Document } from 'yaml';
import { diagnostic, type Diagnostic } from '../errors.js';
import { components, defaultDeadLetter, findComponent, sourceRuntimes } from '../components/registry.js';
import type { TSchema } from '@sinclair/typebox';
import type { FileUse, SinkSpec, Slot } from '../components/spec.js';
import { getAggregationKind } from '../components/aggregations/index.js';
import { AggregationError } from '../engine/aggregation.js';
import { compileExpression, forbiddenFunction, referencedFields } from '../expr/index.js';
import { ExpressionSyntaxError, type CompiledExpression } from '../expr/types.js';
import { formatDuration, parseDuration } from '../config/duration.js';
import { loadPipelineFile, type LoadedPipeline } from '../config/load.js';
import type { Environment } from '../config/interpolate.js';
import { locatePath, rangeOf, type Path } from '../config/positions.js';
import { validateAgainstSchema } from '../schema/validate.js';
import { buildPipelineSchema, sinkEntry, sourceEntry, WINDOW_FIELDS, type PipelineValue } from '../schema/pipeline-schema.js';
import { applyDefaults } from '../components/fragments.js';
import type { TumblingWindowConfig } from '../components/windows/tumbling.js';
import type { SlidingWindowConfig } from '../components/windows/sliding.js';
import { didYouMean } from '../schema/suggest.js';
import { offsetInScalar } from './expression-position.js';
import {
  DEFAULT_LIMITS,
  type AggregateUse,
  type ComponentUse,
  type DerivedOutput,
  type SinkUse,
  type SourceUse,
  type TimeFormat,
  type DocumentField,
  type GroupKey,
  type Limits,
  type Plan,
} from '../engine/plan.js';

/** How messages name the slots. */
const SLOT_NAMES: Record<Slot, string> = { source: 'source', sink: 'sink', deadLetter: 'dead-letter', window: 'window' };

/** The longest duration a pipeline may give anything: 100 years, well inside the range of dates. */
const MAX_DURATION_MS = 100 * 365 * 86_400_000;

export interface Compilation {
  loaded: LoadedPipeline;
  plan?: Plan;
  diagnostics: Diagnostic[];
}

export function compilePipelineFile(path: string, env: Environment = process.env): Compilation {
  return compileLoaded(loadPipelineFile(path, env));
}

/**
 * Compiles in stages, as `vector validate` does: parse, schema, then the checks the schema cannot
 * express. Each stage reports every problem it finds; a later stage runs only on a clean earlier one.
 */
export function compileLoaded(loaded: LoadedPipeline): Compilation {
  const { doc, value } = loaded;
  if (!doc || !value || hasErrors(loaded.diagnostics)) return { loaded, diagnostics: loaded.diagnostics };
  const schemaProblems = validateAgainstSchema(value, doc);
  if (schemaProblems.length > 0) return { loaded, diagnostics: [...loaded.diagnostics, ...schemaProblems] };
  const builder = new PlanBuilder(loaded, doc, applyDefaults(buildPipelineSchema(), value));
  const plan = builder.build();
  const diagnostics = [...loaded.diagnostics, ...builder.diagnostics];
  return { loaded, plan: hasErrors(diagnostics) ? undefined : plan, diagnostics };
}

export /** The smallest whole multiple of `base` that is larger than both base and `wanted`. */
function nextMultiple(base: number, wanted: number): number {
  return Math.max(2, Math.ceil(wanted / base) + 1) * base;
}

/** Keys of a `sources:` entry beside its component. */
const SOURCE_EXTRAS = ['filter', 'fields', 'time'];

/** A component whose files are checked against the others', and where the file declares it (undefined: a default). */
interface FileCheck {
  slot: Slot;
  use: ComponentUse;
  at: Path | undefined;
}

/** `{ expression: ... }` in `aggregate:`: a derived output, not an aggregation. */
function isDerived(spec: string | Record<string, unknown>): spec is { expression: string } {
  return typeof spec === 'object' && typeof spec.expression === 'string';
}

function sinkSpec(name: string): SinkSpec<TSchema> | undefined {
  return findComponent('sink', name) as SinkSpec<TSchema> | undefined;
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

class PlanBuilder {
  readonly diagnostics: Diagnostic[] = [];
  /** Set first: expressions are compiled with its time bound. */
  private limits: Limits = DEFAULT_LIMITS;

  constructor(
    private readonly loaded: LoadedPipeline,
    private readonly doc: Document,
    private readonly value: PipelineValue,
  ) {}

  build(): Plan {
    const v = this.value;
    this.limits = {
      maxRecordBytes: v.limits.maxRecordBytes,
      maxDepth: v.limits.maxDepth,
      expressionTimeoutMs: this.positiveDuration(['limits', 'expressionTimeout'], v.limits.expressionTimeout),
      maxValueLength: v.limits.maxValueLength,
    };
    const sources = this.sources();
    const window = this.window();
    const filter = v.filter === undefined ? undefined : this.expression(['filter'], v.filter);
    const fields = Object.entries(v.fields ?? {}).map(([name, text]) => ({
      name,
      expression: this.expression(['fields', name], text),
    }));
    const groupBy = this.groupBy();
    const aggregates = this.aggregates(groupBy);
    const derived = this.derived(groupBy, aggregates);
    const sinks = this.sinks(groupBy, [...aggregates, ...derived]);
    const deadLetter = v.deadLetter === undefined ? defaultDeadLetter(v.name) : this.component('deadLetter', v.deadLetter);
    this.checkFiles([
      ...sources.map((use): FileCheck => ({ slot: 'source', use, at: this.at('source', use.label) })),
      ...sinks.map((use): FileCheck => ({ slot: 'sink', use, at: this.at('sink', use.label) })),
      { slot: 'deadLetter', use: deadLetter, at: v.deadLetter ? ['deadLetter'] : undefined },
    ]);
    this.checkHeldApart(sources, sinks);
    this.checkShared(sources);
    this.checkStatesKept(sources, sinks);
    // referencedFields parses again; only worth it (and safe) once every expression compiled
    if (!hasErrors(this.diagnostics)) this.checkUnusedFields(fields.map((f) => f.name));
    return {
      name: v.name,
      file: this.loaded.source.path,
      description: v.description,
      sources,
      named: { sources: v.sources !== undefined, sinks: v.sinks !== undefined },
      batch: {
        intervalMs: this.positiveDuration(['batch', 'interval'], v.batch.interval),
        maxRecords: v.batch.maxRecords,
        maxHeldRecords: Math.max(v.batch.maxRecords, v.batch.maxHeldRecords),
        maxGroups: v.batch.maxGroups,
      },
      limits: this.limits,
      time: v.time && {
        field: v.time.field,
        path: v.time.field.split('.'),
        format: v.time.format,
        maxOutOfOrderMs: this.duration(['time', 'maxOutOfOrder'], v.time.maxOutOfOrder),
        allowedLatenessMs: this.duration(['time', 'allowedLateness'], v.time.allowedLateness),
        maxFutureMs: this.duration(['time', 'maxFuture'], v.time.maxFuture),
        maxPastMs: v.time.maxPast === undefined ? Infinity : this.duration(['time', 'maxPast'], v.time.maxPast),
        idleTimeoutMs: this.duration(['time', 'idleTimeout'], v.time.idleTimeout) || Infinity,
      },
      filter,
      fields,
      window,
      groupBy,
      missingKeys: v.missingKeys === 'deadLetter' ? 'deadLetter' : 'null',
      aggregates,
      derived,
      sinks,
      deadLetter,
    };
  }

  /** Where a source or sink is in the file: `source` or `sources.<label>` (`sink`, `sinks.<label>`). */
  private at(slot: 'source' | 'sink', label: string): Path {
    return this.value[`${slot}s`] ? [`${slot}s`, label] : [slot];
  }

  private error(path: Path, code: Diagnostic['code'], message: string, hint?: string, prefer: 'key' | 'value' = 'value'): void {
    this.diagnostics.push(diagnostic(code, message, rangeOf(this.doc, path, prefer), hint));
  }

  /** `at`: where the slot is in the file (`sources.clicks` for a source of `sources:`). */
  private component(slot: Slot, slotValue: Record<string, unknown>, besides: string[] = [], at: Path = [slot]): ComponentUse {
    const name = Object.keys(slotValue).find((k) => !besides.includes(k))!;
    const spec = findComponent(slot, name)!;
    const config = slotValue[name];
    for (const issue of spec.lint?.(config) ?? []) {
      this.error([...at, name, ...issue.path], 'conflict', issue.message, issue.hint);
    }
    return { name, config };
  }

  /** `source:` (one, known to expressions by its component's name) or `sources:` (named), never both. */
  private sources(): SourceUse[] {
    const v = this.value;
    if (v.source && v.sources) {
      this.error(
        ['sources'],
        'conflict',
        'a pipeline has `source:` or `sources:`, not both',
        'move the `source:` into `sources:` under a name',
        'key',
      );
    }
    if (v.sources) {
      const entrySchema = sourceEntry();
      return Object.entries(v.sources).map(([label, given]) => {
        const at = ['sources', label];
        const entry = applyDefaults(entrySchema, given) as Record<string, unknown>;
        const use = this.component('source', entry, SOURCE_EXTRAS, at);
        const time = entry.time as { field: string; format: TimeFormat } | undefined;
        if (time && !v.time) {
          this.error(
            [...at, 'time'],
            'conflict',
            `source \`${label}\` reads its own event time, but the pipeline has no \`time:\``,
            'declare `time:` at the top level too: it says how late records may be',
            'key',
          );
        }
        return {
          ...use,
          label,
          filter: typeof entry.filter === 'string' ? this.expression([...at, 'filter'], entry.filter) : undefined,
          fields: Object.entries((entry.fields ?? {}) as Record<string, string>).map(([name, text]) => ({
            name,
            expression: this.expression([...at, 'fields', name], text),
          })),
          ...(time ? { time: { field: time.field, path: time.field.split('.'), format: time.format } } : {}),
        };
      });
    }
    if (v.source) return [{ ...this.component('source', v.source), label: Object.keys(v.source)[0], fields: [] }];
    this.error(
      [],
      'missing-key',
      'a pipeline needs `source:` (one source) or `sources:` (several, by name)',
      'for example `source: { stdin: {} }`',
    );
    return [];
  }

  /**
   * No two sources or sinks take what one of them holds alone (ComponentSpec.holds): two sources
   * reading one topic would count its records twice, a sink writing a topic a source reads would
   * feed the pipeline its own rows.
   */
  private checkHeldApart(sources: SourceUse[], sinks: SinkUse[]): void {
    const holders = new Map<string, { slot: string; label: string }>();
    const uses = [...sources.map((use) => ({ slot: 'source' as const, use })), ...sinks.map((use) => ({ slot: 'sink' as const, use }))];
    for (const { slot, use } of uses) {
      for (const { what, why } of findComponent(slot, use.name)?.holds?.(use.config) ?? []) {
        const other = holders.get(what);
        if (other !== undefined) {
          const both =
            other.slot === slot
              ? `${slot}s \`${other.label}\` and \`${use.label}\``
              : `${other.slot} \`${other.label}\` and ${slot} \`${use.label}\``;
          this.error(this.at(slot, use.label), 'conflict', `${both} both use ${what}: ${why}`, undefined, 'key');
        }
        holders.set(what, { slot, label: use.label });
      }
    }
  }

  /** Sources read by one runtime (ComponentSpec.shared: one Kafka consumer per group) must agree on what it is made of. */
  private checkShared(sources: SourceUse[]): void {
    for (const group of sourceRuntimes(sources)) {
      if (group.length < 2) continue;
      const shared = findComponent('source', group[0].name)!.shared!;
      const combined = shared.combine(group.map((use) => use.config));
      if (!('problem' in combined)) continue;
      this.error(
        this.at('source', group[1].label),
        'conflict',
        `sources ${group.map((u) => `\`${u.label}\``).join(', ')} share ${shared.key(group[0].config)}: ${combined.problem}`,
        combined.hint,
        'key',
      );
    }
  }

  /**
   * One sink at most keeps the windows, and a sink whose rows outlive the run (a topic) has one
   * beside it when a source replays after a restart: kept in memory, an open window's states
   * would start again from nothing while its rows stay where they went. And it must emit updates
   * there: a window that closes while the runner is down would never be emitted as final.
   */
  private checkStatesKept(sources: SourceUse[], sinks: SinkUse[]): void {
    const keepers = sinks.filter((use) => use.keeps);
    for (const extra of keepers.slice(1)) {
      this.error(
        this.at('sink', extra.label),
        'conflict',
        `sinks \`${keepers[0].label}\` and \`${extra.label}\` both keep the windows; one sink keeps them and the others' rows are made from its states`,
        'keep one of them',
        'key',
      );
    }
    const replaying = sources.find((use) => findComponent('source', use.name)?.replays);
    if (!replaying) return;
    for (const use of sinks.filter((u) => sinkSpec(u.name)?.durable)) {
      if (keepers.length === 0) {
        this.error(
          this.at('sink', use.label),
          'conflict',
          `the ${use.name} sink \`${use.label}\` keeps no windows, and ${this.describeSource(replaying)} replays after a restart: windows still open would start again from nothing`,
          `add a sink that keeps the windows beside it under \`sinks:\` (${this.keepingSinks()})`,
          'key',
        );
      } else if ((use.config as { emit?: string }).emit === 'final') {
        this.error(
          [...this.at('sink', use.label), use.name, 'emit'],
          'conflict',
          `\`emit: final\` would miss windows that close while the runner is down`,
          'use `emit: updates`: every batch sends the rows it changed, and a compacted topic keeps the latest',
        );
      }
    }
  }

  private describeSource(use: SourceUse): string {
    return this.value.sources ? `source \`${use.label}\` (${use.name})` : `the ${use.name} source`;
  }

  private keepingSinks(): string {
    return components.sink
      .filter((spec) => sinkSpec(spec.name)?.keeps)
      .map((spec) => spec.name)
      .join(', ');
  }

  /** `sink:` (one) or `sinks:` (named), never both; each with its own document mapping. */
  private sinks(groupBy: GroupKey[], outputs: { name: string }[]): SinkUse[] {
    const v = this.value;
    if (v.sink && v.sinks) {
      this.error(
        ['sinks'],
        'conflict',
        'a pipeline has `sink:` or `sinks:`, not both',
        'move the `sink:` into `sinks:` under a name',
        'key',
      );
    }
    if (v.sinks) {
      const entrySchema = sinkEntry('A named sink.');
      return Object.entries(v.sinks).map(([label, given]) => {
        const at = ['sinks', label];
        const entry = applyDefaults(entrySchema, given) as Record<string, unknown> & { document?: Record<string, string> };
        const use = this.component('sink', entry, ['document'], at);
        return { ...use, label, document: this.document(groupBy, outputs, entry.document, at), keeps: sinkSpec(use.name)?.keeps === true };
      });
    }
    if (v.sink) {
      const use = this.component('sink', v.sink, ['document']);
      const document = this.document(groupBy, outputs, v.sink.document, ['sink']);
      return [{ ...use, label: use.name, document, keeps: sinkSpec(use.name)?.keeps === true }];
    }
    this.error(
      [],
      'missing-key',
      'a pipeline needs `sink:` (one sink) or `sinks:` (several, by name)',
      'for example `sink: { console: {} }`',
    );
    return [];
  }

  /** A duration within MAX_DURATION_MS (far-off dates would leave the range of dates). */
  private duration(path: Path, text: string): number {
    const ms = parseDuration(text);
    if (ms > MAX_DURATION_MS) {
      this.error(path, 'invalid-value', `\`${path.join('.')}\` is longer than 100 years`, 'durations go up to 36500d');
      return MAX_DURATION_MS;
    }
    return ms;
  }

  private positiveDuration(path: Path, text: string): number {
    const ms = this.duration(path, text);
    if (ms <= 0) this.error(path, 'invalid-value', `\`${path.join('.')}\` must be longer than 0`, 'for example 1s');
    return ms;
  }

  private window(): Plan['window'] {
    // the registry types its slots loosely; the window components declare these two
    const w = this.value.window as { tumbling?: TumblingWindowConfig; sliding?: SlidingWindowConfig; rollups?: string[] };
    const kind = w.tumbling !== undefined ? 'tumbling' : 'sliding';
    this.component('window', w, ['rollups']);
    if (kind === 'tumbling') {
      const size = this.positiveDuration(['window', 'tumbling'], w.tumbling!);
      return { kind, sizeMs: size, everyMs: size, rollups: this.rollups(size, w.rollups ?? []) };
    }
    if (w.rollups !== undefined) {
      this.error(
        ['window', 'rollups'],
        'conflict',
        'rollups need a tumbling window',
        `use \`tumbling: ${w.sliding!.every}\` as the base window, or remove \`rollups\``,
        'key',
      );
    }
    return {
      kind,
      sizeMs: this.positiveDuration(['window', 'sliding', 'size'], w.sliding!.size),
      everyMs: this.positiveDuration(['window', 'sliding', 'every'], w.sliding!.every),
      rollups: [],
    };
  }

  /** Rollup levels: each strictly coarser than, and a whole multiple of, the level before it. */
  private rollups(baseMs: number, declared: string[]): number[] {
    const levels: number[] = [];
    let previous = baseMs;
    declared.forEach((text, i) => {
      const size = parseDuration(text);
      const path = ['window', 'rollups', i];
      const before = i === 0 ? `the window (${formatDuration(previous)})` : `the previous rollup (${formatDuration(previous)})`;
      if (size <= previous) {
        this.error(
          path,
          'invalid-value',
          `rollup ${text} is not coarser than ${before}`,
          `list rollups from fine to coarse, each larger than the one before, e.g. ${formatDuration(nextMultiple(previous, size))}`,
        );
        return;
      }
      if (size % previous !== 0) {
        const lower = Math.floor(size / previous) * previous;
        const upper = lower + previous;
        this.error(
          path,
          'invalid-value',
          `rollup ${text} is not a whole multiple of ${before}`,
          `a level must be made of whole ${formatDuration(previous)} windows: use ${lower > previous ? `${formatDuration(lower)} or ` : ''}${formatDuration(upper)}`,
        );
        return;
      }
      levels.push(size);
      previous = size;
    });
    return levels;
  }

  /** Compiles an expression now, so a syntax error points at its line and the column inside it. */
  private expression(path: Path, text: string): CompiledExpression {
    try {
      const { expressionTimeoutMs: timeoutMs, maxValueLength } = this.limits;
      const compiled = compileExpression(text, { timeoutMs, maxValueLength, where: this.where(path) });
      const forbidden = forbiddenFunction(text);
      if (forbidden !== undefined) {
        const node = locatePath(this.doc, path).value;
        const at = offsetInScalar(node, this.loaded.source.text, Math.max(0, text.indexOf(`$${forbidden}`)));
        this.diagnostics.push(
          diagnostic(
            'expression-not-allowed',
            `\`$${forbidden}\` is not allowed in \`${path.join('.')}\`: expressions come from the pipeline, and record values are never evaluated as expressions`,
            [at, at + 1],
            'compute the value with operators and functions instead',
          ),
        );
      }
      return compiled;
    } catch (err) {
      if (!(err instanceof ExpressionSyntaxError)) throw err;
      const node = locatePath(this.doc, path).value;
      // an error at the end of an expression that ends the file points at its last character
      const at = Math.min(offsetInScalar(node, this.loaded.source.text, err.position), this.loaded.source.text.length - 1);
      this.diagnostics.push(diagnostic('expression-syntax', `invalid expression in \`${path.join('.')}\`: ${err.message}`, [at, at + 1]));
      return compileExpression('null');
    }
  }

  /** `file:line:column` of a value, for messages of the run (which has no source text to point into). */
  private where(path: Path): string {
    const { line, col } = this.loaded.source.position(rangeOf(this.doc, path)[0]);
    return `${this.loaded.source.path}:${line}:${col}`;
  }

  private groupBy(): GroupKey[] {
    const keys: GroupKey[] = [];
    (this.value.groupBy ?? []).forEach((item, i) => {
      const key: GroupKey =
        typeof item === 'string'
          ? { name: item, field: item }
          : (() => {
              const [name, text] = Object.entries(item)[0];
              return { name, expression: this.expression(['groupBy', i, name], text) };
            })();
      if (keys.some((k) => k.name === key.name)) {
        this.error(['groupBy', i], 'duplicate-name', `group key \`${key.name}\` appears twice`, 'remove one of them');
      }
      keys.push(key);
    });
    return keys;
  }

  private aggregates(groupBy: GroupKey[]): AggregateUse[] {
    const uses: AggregateUse[] = [];
    for (const [name, spec] of Object.entries(this.value.aggregate)) {
      if (isDerived(spec)) continue;
      const kindName = typeof spec === 'string' ? spec : Object.keys(spec).find((k) => getAggregationKind(k))!;
      const kind = getAggregationKind(kindName)!;
      const { [kindName]: inputText, where: whereText, ...options } = typeof spec === 'string' ? {} : spec;
      this.checkOutputName(name, groupBy);
      try {
        kind.create(options);
      } catch (err) {
        if (!(err instanceof AggregationError)) throw err;
        this.error(['aggregate', name], 'invalid-value', `aggregate \`${name}\`: ${err.message}`);
      }
      const input = typeof inputText === 'string' ? this.expression(['aggregate', name, kindName], inputText) : undefined;
      const where = typeof whereText === 'string' ? this.expression(['aggregate', name, 'where'], whereText) : undefined;
      uses.push({ name, kind, options, input, ...(where ? { where } : {}) });
    }
    return uses;
  }

  /**
   * Derived outputs read the aggregates, the group keys and the derived outputs declared before
   * them. They are evaluated where no record is at hand (a document written, a rollup served), so
   * they must be in the subset translated to plain JavaScript.
   */
  private derived(groupBy: GroupKey[], aggregates: AggregateUse[]): DerivedOutput[] {
    const outputs: DerivedOutput[] = [];
    const known = [...groupBy.map((k) => k.name), ...aggregates.map((a) => a.name)];
    for (const [name, spec] of Object.entries(this.value.aggregate)) {
      if (!isDerived(spec)) continue;
      const path = ['aggregate', name, 'expression'];
      this.checkOutputName(name, groupBy);
      const before = this.diagnostics.length;
      const expression = this.expression(path, spec.expression);
      if (this.diagnostics.length > before) continue; // referencedFields parses again: only an expression that compiled
      if (!expression.translated) {
        this.error(
          path,
          'expression-not-allowed',
          `derived output \`${name}\` uses more than arithmetic, comparisons and the basic functions`,
          'derived outputs are computed where no record is at hand: use + - * / %, comparisons, ?:, and functions such as $round or $abs',
        );
      }
      for (const field of referencedFields(spec.expression)) {
        if (known.includes(field)) continue;
        const later = Object.hasOwn(this.value.aggregate, field);
        this.error(
          path,
          'unknown-name',
          later ? `\`${field}\` is declared after \`${name}\`` : `\`${field}\` is not an output or group key of this pipeline`,
          later
            ? `declare \`${field}\` before \`${name}\``
            : (didYouMean(field, known) ?? `use one of ${known.map((n) => `\`${n}\``).join(', ')}`),
        );
      }
      outputs.push({ name, expression });
      known.push(name);
    }
    return outputs;
  }

  private checkOutputName(name: string, groupBy: GroupKey[]): void {
    if (groupBy.some((k) => k.name === name)) {
      this.error(['aggregate', name], 'duplicate-name', `\`${name}\` is both a group key and an aggregate`, 'rename the aggregate', 'key');
    }
  }

  private document(
    groupBy: GroupKey[],
    outputs: { name: string }[],
    mapping: Record<string, string> | undefined,
    at: Path,
  ): DocumentField[] {
    const names = [...WINDOW_FIELDS, ...groupBy.map((k) => k.name), ...outputs.map((a) => a.name)];
    if (!mapping) {
      return [
        { target: 'windowStart', from: 'window.start' },
        { target: 'windowEnd', from: 'window.end' },
        ...groupBy.map((k) => ({ target: k.name, from: k.name })),
        ...outputs.map((a) => ({ target: a.name, from: a.name })),
      ];
    }
    for (const [target, from] of Object.entries(mapping)) {
      if (!names.includes(from)) {
        this.error(
          [...at, 'document', target],
          'unknown-name',
          `\`${from}\` is not a result name`,
          didYouMean(from, names) ?? `use one of ${names.map((n) => `\`${n}\``).join(', ')}`,
        );
      }
    }
    for (const key of groupBy) {
      if (!Object.values(mapping).includes(key.name)) {
        this.diagnostics.push(
          diagnostic(
            'unused',
            `group key \`${key.name}\` is not stored in the document`,
            rangeOf(this.doc, [...at, 'document'], 'key'),
            `add \`${key.name}: ${key.name}\`, or rows of different keys cannot be told apart`,
            'warning',
          ),
        );
      }
    }
    return Object.entries(mapping).map(([target, from]) => ({ target, from }));
  }

  /**
   * No file is written twice, and none the pipeline reads is written by it: each component says
   * which files it uses (ComponentSpec.files). The error goes on the file read, else on the later
   * of two written; a slot the pipeline left out (the default dead letters) is located at the top.
   */
  private checkFiles(uses: FileCheck[]): void {
    const seen: { slot: Slot; at: Path; file: FileUse }[] = [];
    for (const { slot, use, at } of uses) {
      for (const file of findComponent(slot, use.name)?.files?.(use.config) ?? []) {
        const here = { slot, at: at ? [...at, use.name, ...file.at] : [], file };
        const clash = seen.find((s) => s.file.path === file.path && (s.file.writes || file.writes));
        seen.push(here);
        if (!clash) continue;
        const read = [clash, here].find((u) => !u.file.writes);
        if (read)
          this.error(
            read.at,
            'conflict',
            `the ${SLOT_NAMES[read.slot]} file is also written by this pipeline`,
            'read from and write to different files',
          );
        else
          this.error(
            here.at,
            'conflict',
            `the ${SLOT_NAMES[slot]} file is the ${SLOT_NAMES[clash.slot]}'s output file`,
            'give them different paths',
          );
      }
    }
  }

  /** A computed field that no later stage reads is most likely a mistake (a typo where it is used, say). */
  private checkUnusedFields(names: string[]): void {
    const v = this.value;
    const expressions = [
      v.filter,
      ...Object.values(v.fields ?? {}),
      ...(v.groupBy ?? []).flatMap((g) => (typeof g === 'string' ? [] : Object.values(g))),
      ...Object.values(v.aggregate).flatMap((a) =>
        typeof a === 'string' || isDerived(a) ? [] : [Object.values(a)[0], a.where].filter((t) => typeof t === 'string'),
      ),
    ].filter((t): t is string => t !== undefined);
    const read = new Set(expressions.flatMap((text) => referencedFields(text)));
    for (const g of v.groupBy ?? []) if (typeof g === 'string') read.add(g);
    if (v.time) read.add(v.time.field.split('.')[0]);
    for (const name of names) {
      if (!read.has(name)) {
        this.diagnostics.push(
          diagnostic(
            'unused',
            `computed field \`${name}\` is never used`,
            rangeOf(this.doc, ['fields', name], 'key'),
            'remove it, or use it in groupBy or aggregate',
            'warning',
          ),
        );
      }
    }
  }
}

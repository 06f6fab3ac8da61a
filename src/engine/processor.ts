import type { AggregationState } from './aggregation.js';
import type { Plan } from './plan.js';
import { isTruthy, TIMEOUT_CODE } from '../expr/index.js';
import { ExpressionRuntimeError, NEEDS_FALLBACK, SOURCE, type CompiledExpression, type Row, type SourcedRow } from '../expr/types.js';
import { partialFor, type BatchState, type PartitionTable } from './batch-state.js';
import { makePathReader, makeTimeParser } from './event-time.js';
import type { JsonFieldScanner } from '../codec/json-scanner.js';
import { fieldDecoder } from './field-decoder.js';
import { firstInvalidUtf8, isUtf8, linesAreUtf8, nestsDeeperThan, startsMidCharacter } from './bad-input.js';
import {
  OversizedRecord,
  payloadAt,
  previewText,
  TOO_LARGE_PREVIEW_BYTES,
  type Chunk,
  type DeadLetter,
  type DeadLetterReason,
} from './records.js';
import type { Watermarks } from './watermark.js';
import type { Fences } from './fences.js';
import { formatDuration } from '../config/duration.js';
import { RunnelError } from '../errors.js';

/** A record that cannot be counted: thrown inside the per-record step, caught and dead-lettered. */
class Rejection {
  constructor(
    readonly reason: DeadLetterReason,
    readonly detail: string,
    /** Replaces or adds to the dead letter's payload fields (a too-large record keeps only its start). */
    readonly payload?: Pick<DeadLetter, 'payload' | 'payloadEncoding' | 'size' | 'truncated'>,
  ) {}
}

/** A too-large record's dead letter: its size and first bytes. */
function tooLarge(bytes: Buffer, size: number, limit: number): Rejection {
  return new Rejection('too-large', `the record is ${size} bytes, more than limits.maxRecordBytes (${limit})`, {
    payload: previewText(bytes),
    size,
    ...(size > TOO_LARGE_PREVIEW_BYTES ? { truncated: true as const } : {}),
  });
}

/** Bytes that are not UTF-8 text: the payload is kept exactly, in base64. */
function notUtf8(bytes: Buffer): Rejection {
  const at = firstInvalidUtf8(bytes);
  return new Rejection('invalid-utf8', `not UTF-8 text: byte 0x${bytes[at].toString(16).padStart(2, '0').toUpperCase()} at ${at}`, {
    payload: bytes.toString('base64'),
    payloadEncoding: 'base64',
  });
}

const SKIP = Symbol('skip');

/** Thrown by the synchronous step when an expression needs jsonata's own (asynchronous) evaluator. */
class NeedsFallback {
  constructor(
    readonly expression: CompiledExpression,
    readonly row: Row,
  ) {}
}

/**
 * Timeouts of jsonata's evaluator in a row that stop the run: an expression that never finishes
 * (unbounded recursion) would otherwise hold the runner for `expressionTimeout` per record.
 */
export const MAX_TIMEOUTS_IN_A_ROW = 3;

/** How long the asynchronous (jsonata) path may run before it lets signals and timers in. */
const YIELD_EVERY_MS = 50;

/** An expression that keeps running out of time: a fault of the pipeline, which stops the run uncommitted. */
export class RunawayExpressionError extends RunnelError {
  constructor(expression: CompiledExpression, timeoutMs: number, partition: string, offsets: number[]) {
    super(
      `${expression.where ? `${expression.where}: ` : ''}the expression \`${expression.source}\` ran longer than limits.expressionTimeout ` +
        `(${formatDuration(timeoutMs)}) on ${offsets.length} records in a row (partition ${partition}, offsets ${offsets.join(', ')}): ` +
        'it does not finish, whatever the record, so the run stops here and this batch stays uncommitted, to be read again. ' +
        'Make the expression end (a recursive function needs a case that does not call itself), or raise limits.expressionTimeout if records really need longer.',
    );
    this.name = 'RunawayExpressionError';
  }
}

/** Values of expressions that needed the fallback for the record being re-run. */
type Resolved = Map<CompiledExpression, unknown> | undefined;

function evaluate(expression: CompiledExpression, row: Row, resolved: Resolved): unknown {
  if (resolved?.has(expression)) return resolved.get(expression);
  const value = expression.evaluate(row);
  if (value === NEEDS_FALLBACK) throw new NeedsFallback(expression, row);
  return value;
}

function describe(value: unknown): string {
  const text =
    typeof value === 'number' && !Number.isFinite(value) ? String(value) : ((JSON.stringify(value) as string | undefined) ?? String(value));
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Runs each record of a chunk through the plan: decode, filter, computed fields, event time,
 * lateness, window assignment, group key, aggregate inputs; then adds it to the batch's partials.
 * Records that cannot be counted become the batch's dead letters (and are shown to `onReject`); the run goes on.
 */
export class RecordProcessor {
  /** Per source (plan.sources order): what applies to its records before the pipeline's own steps. */
  private readonly sourceSteps: SourceSteps[];
  /** Whether any expression reads `$source`: only then do rows carry it. */
  private readonly tagsSource: boolean;
  /** Whether computed fields (the pipeline's or a source's) write into rows. */
  private readonly computesFields: boolean;
  private readonly keyReaders: ((row: Row) => unknown)[];
  private readonly createStates: () => AggregationState[];
  private readonly key: unknown[];
  private readonly inputs: unknown[];
  private readonly lateness: number;
  /** Decodes lines' bytes straight into rows when the fields the plan reads are known. */
  private readonly decoder?: JsonFieldScanner;
  private readonly maxRecordBytes: number;
  private readonly maxDepth: number;
  private readonly maxFutureMs: number;
  private readonly maxPastMs: number;
  private readonly rejectMissingKeys: boolean;
  /** Offsets of the records whose evaluation timed out since the last one that did not. */
  private timeoutsInARow: number[] = [];
  /** Windows ending at or before this are gone from a store that forgets final windows (forgetWindowsEndingBy). */
  private forgottenUpTo = -Infinity;
  private lastYield = 0;
  private readonly onReject: (deadLetter: DeadLetter) => void;
  private readonly signal?: AbortSignal;
  private readonly now: () => number;

  constructor(
    private readonly plan: Plan,
    private readonly watermarks: Watermarks,
    /** Offsets at or below a partition's fence are merged record by record (exactly-once after a crash). */
    private readonly fences: Fences,
    options: {
      /** Sees each dead letter as the batch takes it. */
      onReject?: (deadLetter: DeadLetter) => void;
      /** A chunk is left unfinished once it aborts (see process). */
      signal?: AbortSignal;
      now?: () => number;
    } = {},
  ) {
    this.onReject = options.onReject ?? (() => {});
    this.signal = options.signal;
    this.now = options.now ?? Date.now;
    this.tagsSource = readsSource(plan);
    this.sourceSteps = plan.sources.map((source) => {
      const time = source.time ?? plan.time;
      return {
        label: source.label,
        steps: this.tagsSource || source.filter !== undefined || source.fields.length > 0,
        filter: source.filter,
        fields: source.fields,
        ...(time
          ? { time: { field: time.field, format: time.format, read: makePathReader(time.path), parse: makeTimeParser(time.format) } }
          : {}),
      };
    });
    this.computesFields = plan.fields.length > 0 || plan.sources.some((source) => source.fields.length > 0);
    this.keyReaders = plan.groupBy.map((k) => (k.field !== undefined ? makePathReader([k.field]) : () => undefined));
    this.createStates = () => plan.aggregates.map((a) => a.kind.create(a.options));
    this.key = new Array(plan.groupBy.length);
    this.inputs = new Array(plan.aggregates.length);
    this.lateness = plan.time?.allowedLatenessMs ?? 0;
    this.maxRecordBytes = plan.limits.maxRecordBytes;
    this.maxDepth = plan.limits.maxDepth;
    this.maxFutureMs = plan.time?.maxFutureMs ?? Infinity;
    this.maxPastMs = plan.time?.maxPastMs ?? Infinity;
    this.rejectMissingKeys = plan.missingKeys === 'deadLetter';
    this.decoder = fieldDecoder(plan);
  }

  /**
   * Adds a chunk's records to the batch. Records that need jsonata's own evaluator let signals in
   * every YIELD_EVERY_MS; once the signal aborts, the chunk ends at the record in hand and the rest
   * stays out of the batch (uncommitted, read again by the next run).
   */
  async process(chunk: Chunk, batch: BatchState): Promise<void> {
    const { partition, offsets, payloads, lines } = chunk;
    const count = offsets.length;
    this.watermarks.arrived(partition);
    const table = batch.table(partition);
    // Read again from a commit: verdicts resume from the progress the commit recorded, unless this
    // batch holds records past it (the same runner had the partition: the chunk's first records are
    // skipped below, and the progress in hand is theirs).
    if (chunk.progress !== undefined && count > 0 && table.maxOffset < offsets[0]) this.watermarks.resume(partition, chunk.progress);
    const context: ChunkContext = {
      source: this.sourceSteps[chunk.source ?? 0],
      batch,
      table,
      partition,
      fence: this.fences.of(partition),
      highest: this.watermarks.highestOf(partition),
      arrival: 0,
      earliest: 0,
      latest: 0,
    };
    context.arrival = this.now();
    context.earliest = context.arrival - this.maxPastMs;
    context.latest = context.arrival + this.maxFutureMs;
    const decoder = lines ? this.decoder : undefined;
    const bytes = lines?.bytes;
    const starts = lines?.starts;
    const ends = lines?.ends;
    // one pass over the chunk's bytes tells whether any line needs a UTF-8 check of its own
    const utf8 = lines ? linesAreUtf8(lines, lines.starts[0], count) : true;
    const maxBytes = this.maxRecordBytes;
    // A source may hand over records again (Kafka refetches from the last commit when a partition
    // comes back after a rebalance): those this batch holds already are skipped here, and the
    // stored offsets catch those of earlier batches.
    let first = 0;
    while (first < count && offsets[first] <= context.table.maxOffset) first++;
    let end = count;
    for (let i = first; i < end; i++) {
      const offset = offsets[i];
      let projected: Row | undefined;
      if (bytes) {
        const start = starts![i];
        const end = ends![i];
        if (
          end - start > maxBytes ||
          (utf8 ? startsMidCharacter(bytes, start) || startsMidCharacter(bytes, end) : !isUtf8(bytes.subarray(start, end)))
        ) {
          this.rejectLine(bytes.subarray(start, end), context, offset);
          continue;
        }
        // a line the field decoder takes needs no text; any other record is decoded from its payload
        projected = decoder?.decode(bytes, start, end);
      }
      try {
        this.step(context, offset, projected ?? this.decode(lines ? payloadAt(chunk, i) : payloads[i]), undefined);
      } catch (err) {
        const payload = payloadAt(chunk, i);
        // jsonata's evaluator gets the whole record, never a projection
        if (err instanceof NeedsFallback) {
          await this.stepWithFallback(context, offset, payload, projected ? undefined : err);
          if (await this.stopRequested()) end = i + 1;
        } else this.rejectOrThrow(err, context, offset, payload);
      }
    }
    if (end > first) {
      context.table.maxOffset = offsets[end - 1];
      batch.records += end - first;
    }
    this.watermarks.setHighest(partition, context.highest);
  }

  /**
   * The state store has emitted and dropped the windows ending at or before `end`: a record that
   * would fall in one is late, whatever its partition's progress, or it would start the window
   * again from nothing.
   */
  forgetWindowsEndingBy(end: number): void {
    if (end > this.forgottenUpTo) this.forgottenUpTo = end;
  }

  /** Re-runs a record from a fresh decode, each time with one more expression resolved by jsonata. */
  private async stepWithFallback(context: ChunkContext, offset: number, payload: unknown, first: NeedsFallback | undefined): Promise<void> {
    const resolved = new Map<CompiledExpression, unknown>();
    let pending = first;
    for (let done = false; !done;) {
      try {
        if (pending)
          resolved.set(pending.expression, await this.evaluateWithBound(pending.expression, pending.row, context.partition, offset));
        pending = undefined;
        this.step(context, offset, this.decode(payload), resolved);
        done = true;
      } catch (err) {
        if (err instanceof NeedsFallback) pending = err;
        else {
          this.rejectOrThrow(err, context, offset, payload);
          done = true;
        }
      }
    }
  }

  /**
   * jsonata's evaluator, its time bound running out being a dead letter that names the expression;
   * MAX_TIMEOUTS_IN_A_ROW of them stop the run (RunawayExpressionError).
   */
  private async evaluateWithBound(expression: CompiledExpression, row: Row, partition: string, offset: number): Promise<unknown> {
    try {
      const value = await expression.evaluateAsync(row);
      this.timeoutsInARow = [];
      return value;
    } catch (err) {
      if (!(err instanceof ExpressionRuntimeError) || err.code !== TIMEOUT_CODE) {
        this.timeoutsInARow = [];
        throw err;
      }
      const timeoutMs = this.plan.limits.expressionTimeoutMs;
      this.timeoutsInARow.push(offset);
      if (this.timeoutsInARow.length >= MAX_TIMEOUTS_IN_A_ROW)
        throw new RunawayExpressionError(expression, timeoutMs, partition, this.timeoutsInARow);
      throw new Rejection(
        'expression-timeout',
        `\`${expression.source}\` ran longer than limits.expressionTimeout (${formatDuration(timeoutMs)}): ${err.message}`,
      );
    }
  }

  /**
   * Whether the run was asked to stop, after letting signal handlers run if the asynchronous path
   * has held the thread for a while (jsonata's evaluation only ever yields to microtasks).
   */
  private async stopRequested(): Promise<boolean> {
    const now = Date.now();
    if (now - this.lastYield >= YIELD_EVERY_MS) {
      // two turns: the first may end the event loop's current round, the second passes its poll
      // phase, where a signal that came meanwhile is delivered
      for (let turn = 0; turn < 2; turn++) await new Promise((resolve) => setImmediate(resolve));
      this.lastYield = Date.now();
    }
    return this.signal?.aborted === true;
  }

  /** A line too large, or not UTF-8: dead-lettered from its bytes, never decoded. */
  private rejectLine(line: Buffer, context: ChunkContext, offset: number): void {
    this.rejectOrThrow(
      line.length > this.maxRecordBytes ? tooLarge(line, line.length, this.maxRecordBytes) : notUtf8(line),
      context,
      offset,
      undefined,
    );
  }

  private rejectOrThrow(err: unknown, context: ChunkContext, offset: number, payload: unknown): void {
    const { partition } = context;
    if (err instanceof Rejection)
      this.reject(context, { reason: err.reason, detail: err.detail, partition, offset, payload, ...err.payload });
    else if (err instanceof ExpressionRuntimeError)
      this.reject(context, { reason: 'expression-error', detail: err.message, partition, offset, payload });
    else throw err;
  }

  /** The dead letter belongs to its batch: written when the batch is stored, dropped if it is rewound. */
  private reject(context: ChunkContext, deadLetter: DeadLetter): void {
    context.batch.deadLetters.push(deadLetter);
    this.onReject(deadLetter);
  }

  /** Tags the row with its source and runs the source's own filter and fields; false when its filter drops the row. */
  private runSourceSteps(source: SourceSteps, row: Row, resolved: Resolved): boolean {
    if (this.tagsSource) (row as SourcedRow)[SOURCE] = source.label;
    if (source.filter && !isTruthy(evaluate(source.filter, row, resolved))) return false;
    for (const field of source.fields) row[field.name] = evaluate(field.expression, row, resolved);
    return true;
  }

  /** One record, synchronously; throws Rejection, ExpressionRuntimeError or NeedsFallback before changing any state. */
  private step(context: ChunkContext, offset: number, row: Row, resolved: Resolved): void {
    const { plan } = this;
    const source = context.source;
    // one check on the plain path: a single source that tags, filters and computes nothing
    if (source.steps && !this.runSourceSteps(source, row, resolved)) return;
    if (plan.filter && !isTruthy(evaluate(plan.filter, row, resolved))) return;
    for (const field of plan.fields) row[field.name] = evaluate(field.expression, row, resolved);

    let eventTime = context.arrival;
    const time = source.time;
    if (time) {
      const raw = time.read(row);
      const parsed = time.parse(raw);
      if (parsed === undefined) throw new Rejection('missing-time', `no value at \`${time.field}\``);
      if (Number.isNaN(parsed))
        throw new Rejection('invalid-time', `\`${time.field}\` is ${describe(raw)}, not a time (format ${time.format}, years 1 to 9999)`);
      if (parsed > context.latest || parsed < context.earliest) throw this.outOfRange(parsed, context.arrival);
      eventTime = parsed;
    }
    // judged by the partition's own progress only (see Watermarks)
    const watermark = context.highest - this.watermarks.delayMs;
    if (eventTime < watermark - this.lateness) {
      throw new Rejection(
        'late',
        `event time ${iso(eventTime)} is before its partition's watermark ${iso(watermark)} minus the allowed lateness`,
      );
    }
    const { sizeMs, everyMs } = plan.window;
    const lastStart = Math.floor(eventTime / everyMs) * everyMs;
    // the record's oldest window ends first; the partition was idle or new while it was emitted
    if (lastStart + everyMs <= this.forgottenUpTo) {
      throw new Rejection(
        'late',
        `event time ${iso(eventTime)} falls in a window emitted as final and forgotten already (the watermark of the other partitions passed it while this one was idle or not yet read)`,
      );
    }
    const key = this.key;
    for (let k = 0; k < key.length; k++) {
      const group = plan.groupBy[k];
      const value = group.expression ? evaluate(group.expression, row, resolved) : this.keyReaders[k](row);
      if (value === undefined || value === null) {
        if (this.rejectMissingKeys)
          throw new Rejection('missing-key', `group key \`${group.name}\` is ${value === null ? 'null' : 'missing'}`);
        key[k] = null;
      } else key[k] = value;
    }
    this.readInputs(row, resolved);

    // From here on nothing throws: the record is counted.
    if (eventTime > context.highest) context.highest = eventTime;
    const precise = offset <= context.fence;
    for (let start = lastStart; start > lastStart - sizeMs; start -= everyMs) {
      const partial = partialFor(
        context.batch,
        context.table,
        context.partition,
        start,
        start + sizeMs,
        key,
        offset,
        precise,
        this.createStates,
      );
      partial.maxOffset = offset;
      const states = partial.states;
      for (let a = 0; a < states.length; a++) {
        const value = this.inputs[a];
        if (value !== SKIP) states[a].add(value, eventTime);
      }
    }
  }

  private outOfRange(eventTime: number, now: number): Rejection {
    const ahead = eventTime > now;
    const bound = ahead ? this.maxFutureMs : this.maxPastMs;
    return new Rejection(
      'time-out-of-range',
      `event time ${iso(eventTime)} is more than ${formatDuration(bound)} ${ahead ? 'ahead of' : 'behind'} the clock (${iso(now)}); see time.${ahead ? 'maxFuture' : 'maxPast'}`,
    );
  }

  /** A fresh row of a payload: computed fields write into it. */
  private decode(payload: unknown): Row {
    let value = payload;
    // computed fields write into the row: a re-run after a fallback must start from the original
    if (payload instanceof OversizedRecord) throw tooLarge(payload.head, payload.size, this.maxRecordBytes);
    if (typeof payload === 'object' && payload !== null && this.computesFields) return { ...(payload as Row) };
    if (typeof payload === 'string') {
      // a UTF-16 unit is at most 3 bytes of UTF-8: short text needs no count
      if (payload.length * 3 > this.maxRecordBytes) {
        const size = Buffer.byteLength(payload);
        if (size > this.maxRecordBytes) throw tooLarge(Buffer.from(payload.slice(0, TOO_LARGE_PREVIEW_CHARS)), size, this.maxRecordBytes);
      }
      if (nestsDeeperThan(payload, this.maxDepth))
        throw new Rejection('too-deep', `objects and arrays nest deeper than limits.maxDepth (${this.maxDepth})`);
      try {
        value = JSON.parse(payload);
      } catch (err) {
        throw new Rejection('invalid-json', (err as Error).message);
      }
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Rejection('not-an-object', `a record must be a JSON object, not ${Array.isArray(value) ? 'an array' : describe(value)}`);
    }
    return value as Row;
  }

  /** Evaluates every aggregate's input before any state changes, so a rejected record leaves no trace. */
  private readInputs(row: Row, resolved: Resolved): void {
    const { aggregates } = this.plan;
    for (let a = 0; a < aggregates.length; a++) {
      const use = aggregates[a];
      // a record this aggregate does not take is not checked against its input either
      if (use.where && !isTruthy(evaluate(use.where, row, resolved))) {
        this.inputs[a] = SKIP;
        continue;
      }
      if (!use.input) {
        this.inputs[a] = undefined;
        continue;
      }
      const value = evaluate(use.input, row, resolved);
      if (value === undefined || value === null) this.inputs[a] = SKIP;
      else if (use.kind.input === 'number' && !(typeof value === 'number' && Number.isFinite(value))) {
        throw new Rejection('invalid-value', `${use.name}: ${use.input.source} is ${describe(value)}, not a number`);
      } else this.inputs[a] = value;
    }
  }
}

/** What applies to one source's records before the pipeline's own filter and fields. */
interface SourceSteps {
  label: string;
  /** Whether there is anything to do before the pipeline's own steps (see runSourceSteps). */
  steps: boolean;
  filter?: CompiledExpression;
  fields: { name: string; expression: CompiledExpression }[];
  /** Where its records' event time is (absent: processing time). */
  time?: { field: string; format: string; read: (row: Row) => unknown; parse: (value: unknown) => number | undefined };
}

/** Whether any expression of the plan reads `$source`. */
function readsSource(plan: Plan): boolean {
  const expressions = [
    plan.filter,
    ...plan.fields.map((f) => f.expression),
    ...plan.sources.flatMap((s) => [s.filter, ...s.fields.map((f) => f.expression)]),
    ...plan.groupBy.map((k) => k.expression),
    ...plan.aggregates.flatMap((a) => [a.input, a.where]),
  ];
  return expressions.some((e) => e !== undefined && /\$source\b/.test(e.source));
}

interface ChunkContext {
  source: SourceSteps;
  batch: BatchState;
  table: PartitionTable;
  partition: string;
  /** Offsets at or below the fence are merged record by record (exactly-once after a crash). */
  fence: number;
  /** This partition's highest event time so far. */
  highest: number;
  /** Processing time of the chunk, the event time when the plan declares none. */
  arrival: number;
  /** The event times accepted: time.maxPast before arrival to time.maxFuture after it. */
  earliest: number;
  latest: number;
}

/** Enough UTF-16 units for a preview of TOO_LARGE_PREVIEW_BYTES bytes, whatever the characters. */
const TOO_LARGE_PREVIEW_CHARS = 1100;

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}

import type { Static, TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { DocumentField, Plan, SinkUse } from '../engine/plan.js';
import type { StoredReader } from '../engine/reader.js';
import type { ComponentContext, DeadLetterRuntime, SinkRuntime, SourceRuntime } from '../engine/runtime.js';

/** The slots of a pipeline that take one component each, keyed by the component's name (`source: { kafka: ... }`). */
export type Slot = 'source' | 'sink' | 'deadLetter' | 'window';

/** A cross-field problem found by a component's own lint, located by a path inside its config. */
export interface LintIssue {
  path: (string | number)[];
  message: string;
  hint?: string;
}

/**
 * One declaration per component, as Benthos and Vector do it: the published JSON Schema, the
 * docs, `runner explain` and the type of the config the component receives are all derived from
 * its `config` schema, so they cannot drift from the code. Every method receives the config with
 * its defaults filled in (`applyDefaults`).
 */
export interface ComponentSpec<Schema extends TSchema = TSchema> {
  slot: Slot;
  /** The YAML key that selects this component, e.g. `kafka`. */
  name: string;
  summary: string;
  /** JSON Schema of the value under the component's key; every field carries a description. */
  config: Schema;
  /** Whole-slot YAML examples; a test validates every one of them. */
  examples: { title: string; yaml: string }[];
  /** Checks between fields that the schema cannot express; config has already passed the schema. */
  lint?(config: Static<Schema>): LintIssue[];
  /**
   * The local files the component reads or writes, each with where its config names it: the
   * compiler refuses a pipeline that writes a file it reads, or writes one file twice.
   */
  files?(config: Static<Schema>): FileUse[];
  /**
   * Sources and sinks: what the component takes that no other source or sink of the pipeline may
   * take too, named for a message (`Kafka topic \`clicks\``), and why (shown when two do).
   */
  holds?(config: Static<Schema>): { what: string; why: string }[];
  /** Sources: commits outlive the run, and a new run reads again from the last one (Kafka). */
  replays?: boolean;
  /**
   * Sources: several sources of this component with the same `key` are read by one runtime (Kafka:
   * one consumer per consumer group), made from the config `combine` gives.
   */
  shared?: SharedRuntime<Static<Schema>>;
}

export interface SharedRuntime<Config> {
  /** What the sources share, named for a message (`consumer group \`g\``). */
  key(config: Config): string;
  /** One config for them all, or why they cannot share one runtime. */
  combine(configs: Config[]): { config: Config } | { problem: string; hint: string };
  /** Whether a partition the shared runtime hands over is this source's. */
  owns(config: Config, partition: string): boolean;
}

/** Why two sources must not read the same topic or file. */
export const COUNTED_TWICE = 'its records would be counted twice';

/** A local file a component uses; `at` is the path of the setting inside the component's config. */
export interface FileUse {
  path: string;
  at: (string | number)[];
  writes: boolean;
}

/** The sink a factory is making: its use in the plan (label, document mapping), which the context carries for sinks. */
export function sinkUseOf(context: { sink?: SinkUse }): SinkUse {
  if (!context.sink) throw new Error('a sink is made with its use in the plan');
  return context.sink;
}

/** A component that runs: its factory only ever sees config that passed the schema and lint. */
export interface RunnableSpec<Schema extends TSchema, Runtime> extends ComponentSpec<Schema> {
  create(config: Static<Schema>, context: ComponentContext): Promise<Runtime>;
}

export type SourceSpec<Schema extends TSchema> = RunnableSpec<Schema, SourceRuntime>;
export interface SinkSpec<Schema extends TSchema> extends RunnableSpec<Schema, SinkRuntime> {
  /**
   * It keeps the windows between runs: its store holds the states that every sink's rows are
   * made from, and a pipeline has at most one such sink.
   */
  keeps?: boolean;
  /**
   * Its rows outlive the run (a topic, not a terminal). Beside a source that replays, it then
   * needs a sink that keeps the windows, or a restart would start open windows from nothing.
   */
  durable?: boolean;
  /**
   * For a sink that keeps its windows where another process can read them: a reader of them for
   * the serving layer (it connects on first use; loaded only when a pipeline is served). Sinks
   * that keep nothing omit it.
   */
  reader?(config: Static<Schema>, plan: Plan, document: readonly DocumentField[], logger: Logger): Promise<StoredReader>;
}
export interface DeadLetterSpec<Schema extends TSchema> extends RunnableSpec<Schema, DeadLetterRuntime> {
  /** The config this destination takes when a pipeline names none; one destination declares it. */
  byDefault?(pipeline: string): Static<Schema>;
}

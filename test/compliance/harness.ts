/**
 * What the compliance suites need to know about a component that its declaration cannot tell:
 * how to give it records to read, or how to read back what it wrote. One entry per registered
 * source, sink and dead-letter destination lives in harnesses.ts; a registered component without
 * one fails its suite.
 */
import type { DeadLetterRuntime, SinkRuntime, SourceRuntime, WrittenDeadLetter } from '../../src/engine/runtime.js';
import type { StackService } from '../helpers/stack.js';
import type { Delivered } from './support.js';

/** The checks of the source suite, by the name a harness uses to mark one as a known violation. */
export type SourceCheck = 'records' | 'end' | 'emptyWait' | 'maxRecords' | 'commit' | 'rewind' | 'close' | 'stop';
export type SinkCheck = 'store' | 'race' | 'persistence' | 'afterBatch' | 'run' | 'hooks' | 'close';
export type DeadLetterCheck = 'readBack' | 'append' | 'close';

interface Common<Check extends string> {
  /** Servers of the local stack it needs (scripts/stack up); without them its suite skips, or fails under CI=true. */
  services: StackService[];
  /**
   * Checks it is known to fail, each with what goes wrong: they still run, reported as TODO
   * with this text, until the component is fixed and the entry removed.
   */
  knownViolations?: Partial<Record<Check, string>>;
}

/** A source configured to read a known set of records. */
export interface SourceFixture {
  /** The component's block under `source:` in a pipeline file, as its declaration's examples are written. */
  yaml: string;
  /** Every record the source must hand out: within a partition in this order, each once. */
  expected: Delivered[];
  /** Makes the runtime: `create` is the registered factory; a harness that must feed it (stdin) wraps the call. */
  open?(create: () => Promise<SourceRuntime>): Promise<SourceRuntime>;
  cleanup(): Promise<void>;
}

export interface SourceHarness extends Common<SourceCheck> {
  /** True when next() returns null after the fixture's last record; false when it waits for more for ever. */
  bounded: boolean;
  /** True when commits outlive the runtime and rewind() goes back to them (it must then offer rewind). */
  replayable: boolean;
  /** A fresh fixture of about `count` records (the harness chooses their content) for one test. */
  withRecords(count: number, dir: string): Promise<SourceFixture>;
  /** A fresh fixture with nothing to read that waits for records (unbounded): for the stop and empty-wait checks. */
  idle(dir: string): Promise<SourceFixture>;
}

/** How a sink delivers result rows. */
export type Delivery =
  /** once per window and key, when afterBatch says the window is final (or at +Infinity) */
  | 'final'
  /** after each batch, the rows of the documents it wrote */
  | 'updates'
  /** the stored documents are the output: every written document at once, as its latest version */
  | 'stored';

export interface SinkInstance {
  sink: SinkRuntime;
  /** The rows this instance delivered so far, read back from where they went (in order, for final and updates). */
  output: () => Promise<Record<string, unknown>[]>;
}

export interface SinkFixture {
  /** The component's block under `sink:` (the suite adds the `document` mapping). */
  yaml: string;
  /** Makes an instance: `create` is the registered factory; a harness that captures output (console) wraps the call. */
  open(create: () => Promise<SinkRuntime>): Promise<SinkInstance>;
  cleanup(): Promise<void>;
}

export interface SinkVariant {
  label: string;
  delivery: Delivery;
  fixture: (dir: string) => Promise<SinkFixture>;
}

export interface SinkHarness extends Common<SinkCheck> {
  /** True when what it stores outlives the instance, for other instances of the same config to read and race on. */
  persistent: boolean;
  /** Configurations worth the whole suite each (emit modes): how each delivers rows, and a fresh fixture of it per test. */
  variants: SinkVariant[];
}

export interface DeadLetterFixture {
  yaml: string;
  /** Everything written to the destination so far, read back from the medium. */
  readBack(): Promise<WrittenDeadLetter[]>;
  open?(create: () => Promise<DeadLetterRuntime>): Promise<DeadLetterRuntime>;
  cleanup(): Promise<void>;
}

export interface DeadLetterHarness extends Common<DeadLetterCheck> {
  fixture(dir: string): Promise<DeadLetterFixture>;
}

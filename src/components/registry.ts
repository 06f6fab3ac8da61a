import type { TSchema } from '@sinclair/typebox';
import type { ComponentSpec, DeadLetterSpec, Slot } from './spec.js';
import type { SourceUse } from '../engine/plan.js';
import { kafkaSource } from './kafka/source.js';
import { kafkaSink } from './kafka/sink.js';
import { fileSource } from './sources/file.js';
import { generatorSource } from './sources/generator.js';
import { stdinSource } from './sources/stdin.js';
import { mongodbSink } from './mongodb/sink.js';
import { fileSink } from './sinks/file.js';
import { consoleSink } from './sinks/console.js';
import { fileDeadLetter } from './dead-letters/file.js';
import { kafkaDeadLetter } from './kafka/dead-letters.js';
import { tumblingWindow } from './windows/tumbling.js';
import { slidingWindow } from './windows/sliding.js';

/**
 * The plan's sources as the runtimes that read them: sources of one component that share what
 * its `shared` says (a Kafka consumer group) are read by one runtime, in the order of the first.
 */
export function sourceRuntimes(sources: readonly SourceUse[]): SourceUse[][] {
  const byKey = new Map<string, SourceUse[]>();
  const groups: SourceUse[][] = [];
  for (const use of sources) {
    const shared = findComponent('source', use.name)?.shared;
    const key = shared ? `${use.name}\u0000${shared.key(use.config)}` : undefined;
    const group = key === undefined ? undefined : byKey.get(key);
    if (group) group.push(use);
    else {
      groups.push([use]);
      if (key !== undefined) byKey.set(key, groups[groups.length - 1]);
    }
  }
  return groups;
}

/** Every component Runnel knows, by slot; the schema, docs and explain output are derived from this table. */
export const components: Readonly<Record<Slot, readonly ComponentSpec[]>> = {
  source: [kafkaSource, fileSource, generatorSource, stdinSource],
  window: [tumblingWindow, slidingWindow],
  sink: [mongodbSink, kafkaSink, fileSink, consoleSink],
  deadLetter: [fileDeadLetter, kafkaDeadLetter],
};

export function findComponent(slot: Slot, name: string): ComponentSpec | undefined {
  return components[slot].find((spec) => spec.name === name);
}

/** Where a pipeline that names no dead-letter destination sends its rejected records: the one destination that declares a default. */
export function defaultDeadLetter(pipeline: string): { name: string; config: unknown } {
  const spec = (components.deadLetter as readonly DeadLetterSpec<TSchema>[]).find((s) => s.byDefault !== undefined)!;
  return { name: spec.name, config: spec.byDefault!(pipeline) };
}

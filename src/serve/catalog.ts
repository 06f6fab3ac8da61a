import type { TSchema } from '@sinclair/typebox';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stateSink, type Plan } from '../engine/plan.js';
import { compilePipelineFile } from '../compiler/compile.js';
import type { Compilation } from '../compiler/compile.js';
import type { RunStatus } from '../engine/runtime.js';
import type { Logger } from 'pino';
import { RunnelError } from '../errors.js';
import { silentLogger } from '../log.js';
import { CachedReader, type CacheOptions } from './cache.js';
import { planLevels, type Level, type PipelineReader } from '../engine/reader.js';
import { components, findComponent } from '../components/registry.js';
import type { SinkSpec } from '../components/spec.js';

/** A pipeline the API serves: its plan, how to read its stored windows, and where its live status comes from. */
export interface ServedPipeline {
  plan: Plan;
  levels: readonly Level[];
  /** Absent when the sink keeps nothing another process can read (console, file). */
  reader?: PipelineReader;
  /** Why the pipeline cannot be queried, when it has no reader. */
  notQueryable?: string;
  /** The live status of a run in this process (runner run --serve). */
  liveStatus?: () => RunStatus;
}

/**
 * How a plan's stored windows are read: through the reader its sink declares; local sinks declare
 * none (rows stay in the running process).
 */
export async function servePipeline(
  plan: Plan,
  liveStatus?: () => RunStatus,
  cache: CacheOptions = {},
  logger: Logger = silentLogger,
): Promise<ServedPipeline> {
  const use = stateSink(plan);
  const sink = findComponent('sink', use.name) as SinkSpec<TSchema> | undefined;
  if (sink?.reader) {
    const reader = new CachedReader(await sink.reader(use.config, plan, use.document, logger), plan, cache, liveStatus);
    reader.start();
    return { plan, levels: reader.levels, reader, liveStatus };
  }
  const queryable = components.sink.filter((spec) => (spec as SinkSpec<TSchema>).reader !== undefined).map((spec) => spec.name);
  return {
    plan,
    levels: planLevels(plan, () => 'not stored'),
    notQueryable: `pipeline ${plan.name} writes to ${plan.sinks.map((s) => `the ${s.name} sink`).join(' and ')}, which keep${plan.sinks.length > 1 ? '' : 's'} nothing to query; only ${queryable.join(', ')} sinks can be queried`,
    liveStatus,
  };
}

/** The pipeline files of a folder (*.yaml and *.yml, not *.test.yaml), or the file itself. */
export function pipelineFiles(target: string): string[] {
  let stat;
  try {
    stat = statSync(target);
  } catch {
    throw new RunnelError(`${target}: no such file or folder`, 2);
  }
  if (!stat.isDirectory()) return [target];
  return readdirSync(target)
    .filter((f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(target, f));
}

/** Compiles every pipeline file; files that do not compile are returned apart, to be reported. */
export function loadPlans(target: string): { plans: Plan[]; failed: Compilation[] } {
  const plans: Plan[] = [];
  const failed: Compilation[] = [];
  for (const file of pipelineFiles(target)) {
    const compilation = compilePipelineFile(file);
    if (compilation.plan) plans.push(compilation.plan);
    else failed.push(compilation);
  }
  const names = new Set<string>();
  for (const plan of plans) {
    if (names.has(plan.name)) throw new RunnelError(`two pipelines are named ${plan.name}; names must be unique to be served`);
    names.add(plan.name);
  }
  return { plans, failed };
}

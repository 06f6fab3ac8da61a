import type { TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import { stateSink, type Plan, type SinkUse } from '../engine/plan.js';
import { findComponent, sourceRuntimes } from '../components/registry.js';
import type { RunnableSpec, Slot } from '../components/spec.js';
import { RunnelError } from '../errors.js';
import type { ComponentContext, DeadLetterRuntime, SinkRuntime, SourceRuntime } from '../engine/runtime.js';
import type { RunParts } from '../engine/pipeline-run.js';
import { UnionSource } from '../engine/union-source.js';
import { SinkSet } from '../engine/sink-set.js';

async function create<Runtime>(slot: Slot, use: { name: string; config: unknown }, context: ComponentContext): Promise<Runtime> {
  const spec = findComponent(slot, use.name) as Partial<RunnableSpec<TSchema, Runtime>> | undefined;
  if (!spec?.create) throw new RunnelError(`the ${use.name} ${slot} validates, but cannot run yet`);
  return spec.create(use.config, context);
}

/** The plan's source, or the union of its sources (`sources:`, even of one); sources that share a runtime (a Kafka group) get one. */
async function createSources(plan: Plan, context: ComponentContext): Promise<SourceRuntime> {
  if (!plan.named.sources) return create('source', plan.sources[0], context);
  const groups = sourceRuntimes(plan.sources).map((uses) => ({ uses, shared: findComponent('source', uses[0].name)?.shared }));
  const runtimes = await createAll(
    groups.map(({ uses, shared }) => () => {
      // the compiler made sure they combine (checkShared)
      const config = uses.length === 1 ? uses[0].config : (shared!.combine(uses.map((u) => u.config)) as { config: unknown }).config;
      return create<SourceRuntime>('source', { name: uses[0].name, config }, { ...context, sourceName: uses[0].label });
    }),
  );
  const sourceOf = (runtime: number, partition: string) => {
    const { uses, shared } = groups[runtime];
    const use = uses.length === 1 ? uses[0] : (uses.find((u) => shared!.owns(u.config, partition)) ?? uses[0]);
    return plan.sources.indexOf(use);
  };
  return new UnionSource(
    runtimes,
    plan.sources.map((s) => s.label),
    sourceOf,
  );
}

/** The plan's sink, or its sinks as one (made side by side; those made are closed if one fails). */
async function createSinks(plan: Plan, context: ComponentContext): Promise<SinkRuntime> {
  const make = (use: SinkUse) => create<SinkRuntime>('sink', use, { ...context, sink: use });
  if (plan.sinks.length === 1) return make(plan.sinks[0]);
  return new SinkSet(await createAll(plan.sinks.map((use) => () => make(use))), plan.sinks.indexOf(stateSink(plan)));
}

/** Makes every part side by side; when one fails, those made are closed and its error is thrown. */
async function createAll<Part extends { close(): Promise<void> }>(factories: (() => Promise<Part>)[]): Promise<Part[]> {
  const made = await Promise.allSettled(factories.map((factory) => factory()));
  const failed = made.find((m): m is PromiseRejectedResult => m.status === 'rejected');
  const parts = made.flatMap((m) => (m.status === 'fulfilled' ? [m.value] : []));
  if (failed) {
    for (const part of parts) await part.close().catch(() => undefined);
    throw failed.reason;
  }
  return parts;
}

export interface Overrides {
  source?: SourceRuntime;
  sink?: SinkRuntime;
  deadLetters?: DeadLetterRuntime;
}

/**
 * Builds the running components of a plan through their registered factories. `overrides` swap
 * an edge (as `runner test` swaps the source and sink) while the transforms stay the real ones.
 */
export async function assemble(
  plan: Plan,
  logger: Logger,
  signal: AbortSignal,
  overrides: Overrides = {},
  cwd = process.cwd(),
): Promise<RunParts> {
  const context: ComponentContext = { plan, logger, cwd, signal };
  // Nothing writes at creation (files are opened on first use), so a part that fails to start
  // (an unreachable broker or database) leaves no partial output; the parts made so far are closed.
  const made: { close(): Promise<void> }[] = [];
  try {
    const deadLetters = overrides.deadLetters ?? (await create<DeadLetterRuntime>('deadLetter', plan.deadLetter, context));
    made.push(deadLetters);
    // side by side: joining a consumer group and connecting to a database both take a while
    const [sink, source] = await Promise.allSettled([
      overrides.sink ?? createSinks(plan, context),
      overrides.source ?? createSources(plan, context),
    ]);
    for (const part of [sink, source]) if (part.status === 'fulfilled') made.push(part.value);
    // with both failing, the sink's error is the one reported (as when they started one by one)
    for (const part of [sink, source]) if (part.status === 'rejected') throw part.reason;
    return {
      source: (source as PromiseFulfilledResult<SourceRuntime>).value,
      sink: (sink as PromiseFulfilledResult<SinkRuntime>).value,
      deadLetters,
    };
  } catch (err) {
    for (const part of made.reverse()) await part.close().catch(() => undefined);
    throw err;
  }
}

export async function closeParts(parts: RunParts): Promise<void> {
  await parts.source.close();
  await parts.sink.close();
  await parts.deadLetters.close();
}

#!/usr/bin/env node
import { readFileSync } from 'node:fs';
// each command's module is imported when it runs: a start loads only what its command needs
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { RunnelError } from '../errors.js';
import { LOG_FORMATS, resolveLogFormat, scrubSecrets } from '../log.js';
import type { ProduceOptions } from './produce.js';
import { generatorDefaults } from '../components/sources/generator.js';
import { GEOS } from '../components/sources/impressions.js';
import { parseDuration } from '../config/duration.js';

const USAGE_ERROR = 2;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function positiveInteger(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError('expected a whole number');
  return value;
}

function wholeNumberUpTo(max: number): (text: string) => number {
  return (text) => {
    const value = positiveInteger(text);
    if (value < 1 || value > max) throw new InvalidArgumentError(`expected a whole number from 1 to ${max}`);
    return value;
  };
}

function share(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value >= 0 && value <= 1)) throw new InvalidArgumentError('expected a number from 0 to 1');
  return value;
}

function positiveDuration(text: string): string {
  let ms = 0;
  try {
    ms = parseDuration(text);
  } catch {
    // not a duration: refused below
  }
  if (ms <= 0) throw new InvalidArgumentError('expected a duration longer than zero, e.g. 24h');
  return text;
}

function port(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new InvalidArgumentError('expected a port number (0-65535)');
  return value;
}

/** Commander does the parsing and help; each command lives in its own module and returns an exit code. */
export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('runner')
    .description('Runnel: run declarative stream aggregations written in YAML')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError('(run `runner --help` for usage)')
    .addOption(
      new Option('--log-format <format>', 'logs on stderr: readable lines on a terminal, JSON elsewhere (auto), or always one of them')
        .choices(LOG_FORMATS)
        .env('RUNNEL_LOG_FORMAT')
        .default('auto'),
    )
    .hook('preAction', (command) => {
      // resolved here, so the Kafka thread (whose stderr is no terminal) logs as the main thread does
      process.env.RUNNEL_LOG_FORMAT = resolveLogFormat(command.opts<{ logFormat: string }>().logFormat);
    })
    .exitOverride();

  program
    .command('run', { isDefault: true })
    .description('run a pipeline (also: `runner FILE`)')
    .argument('<file>', 'pipeline YAML file')
    .option('--serve <port>', 'also serve the query API, /metrics and the dashboard for this run on PORT', port)
    .option('--host <address>', 'address the server binds with --serve', '127.0.0.1')
    .action(async (file: string, options: { serve?: number; host: string }) =>
      setExitCode(
        await (
          await import('./run.js')
        ).runCommand(file, options.serve === undefined ? undefined : { port: options.serve, host: options.host }),
      ),
    );

  program
    .command('serve')
    .description('serve the query API, /metrics and the dashboard over the stored windows of pipelines')
    .argument('[target]', 'a pipeline file, or a folder of them', 'pipelines')
    .option('-p, --port <port>', 'port to listen on (0: any free port)', port, 8080)
    .option('--host <address>', 'address to bind', '127.0.0.1')
    .action(async (target: string, options: { port: number; host: string }) =>
      setExitCode(await (await import('./serve.js')).serveCommand(target, options)),
    );

  program
    .command('validate')
    .description('check pipeline files; exit 0 when all are valid, 1 when one is not, 2 on a usage error')
    .argument('<files...>', 'pipeline YAML files')
    .option('--json', 'print a JSON report for machines')
    .action(async (files: string[], options: { json?: boolean }) =>
      setExitCode((await import('./validate.js')).validateCommand(files, options)),
    );

  program
    .command('explain')
    .description('print the compiled plan, stage by stage (secrets redacted)')
    .argument('<file>', 'pipeline YAML file')
    .option('--json', 'print the plan as JSON')
    .action(async (file: string, options: { json?: boolean }) => setExitCode((await import('./explain.js')).explainCommand(file, options)));

  program
    .command('test')
    .description('run pipeline tests (*.test.yaml): input records and the rows expected from them')
    .argument('[target]', 'a test file, or a folder of them', 'pipelines')
    .action(async (target: string) => setExitCode(await (await import('./test.js')).testCommand(target)));

  program
    .command('produce')
    .description('write generated impressions or their clicks (or a JSONL file) to a Kafka topic, creating it if needed')
    .option('--brokers <list>', 'bootstrap brokers', process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
    .option('--topic <name>', 'topic', 'adnetwork-topic')
    .option('-n, --count <n>', 'impressions to generate', positiveInteger, 100000)
    .option('--file <path>', 'send the lines of this JSONL file instead of generated impressions')
    .option('--rate <n>', 'target records per second (default: as fast as possible)', positiveInteger)
    .option('--partitions <n>', 'partitions of the topic when it is created', positiveInteger, 6)
    .option('--seed <n>', 'seed of the generated impressions', positiveInteger, generatorDefaults.seed)
    .option('--start-time <iso|now>', 'event time of the first impression', generatorDefaults.startTime)
    .option('--events-per-second <n>', 'how fast event time advances', positiveInteger, generatorDefaults.eventsPerSecond)
    .option('--span <duration>', 'event time the impressions cover, evenly (instead of --events-per-second)', positiveDuration)
    .option('--publishers <n>', 'distinct publishers', positiveInteger, generatorDefaults.publishers)
    .option('--geos <n>', 'distinct resolved geos', wholeNumberUpTo(GEOS.length), generatorDefaults.geos)
    .option('--uniform', 'draw publishers and websites uniformly (default: a few get most traffic)')
    .option('--jitter <duration>', 'largest random event-time delay (out-of-order records)', generatorDefaults.jitter)
    .option('--batch-size <n>', 'records per produce request', positiveInteger, 2000)
    .addOption(
      new Option('--stream <name>', 'impressions, or the clicks on the impressions these options generate (pair it with a topic of those)')
        .choices(['impressions', 'clicks'])
        .default('impressions'),
    )
    .option('--click-ratio <share>', 'share of impressions clicked, with --stream clicks', share, generatorDefaults.clickRatio)
    .action(async ({ uniform, ...options }: Omit<ProduceOptions, 'skewed'> & { uniform?: boolean }) =>
      setExitCode(await (await import('./produce.js')).produceCommand({ ...options, skewed: !uniform })),
    );

  program
    .command('schema')
    .description('print the pipeline JSON Schema (generated from the component registry)')
    .option('--write <file>', 'write the schema to a file')
    .option('--readme <file>', 'refresh the generated reference section of a README')
    .option('--validator <file>', "write the schema's precompiled validator (a TypeScript module)")
    .option('--check', 'write nothing; exit 1 when a file differs from what would be generated')
    .action(async (options: { write?: string; readme?: string; validator?: string; check?: boolean }) =>
      setExitCode((await import('./schema.js')).schemaCommand(options)),
    );

  return program;
}

async function main(): Promise<void> {
  let exitCode = 0;
  const program = buildProgram((code) => (exitCode = code));
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; anything else commander rejects is a usage error
      process.exitCode = err.exitCode === 0 ? 0 : USAGE_ERROR;
      return;
    }
    if (err instanceof RunnelError) {
      process.stderr.write(`runner: ${scrubSecrets(err.message)}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    throw err;
  }
  process.exitCode = exitCode;
  if (exitCode !== 0) {
    // A failed start may leave a client retrying in the background (kafkajs keeps trying its
    // brokers for a while): the message is out, so do not wait for it.
    setTimeout(() => process.exit(), FAILED_EXIT_GRACE_MS).unref();
  }
}

/** How long a failed command waits for what it left running before it exits anyway. */
const FAILED_EXIT_GRACE_MS = 1000;

await main();

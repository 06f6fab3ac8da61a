import pino, { type Logger } from 'pino';
import { createRequire } from 'node:module';
import type { prettyFactory as PrettyFactory } from 'pino-pretty';
import { REDACTED, redactUrlCredentials } from './redact.js';

/** Secrets shorter than this are not scrubbed from text: they would blank out ordinary words. */
const MIN_SECRET_LENGTH = 4;

/**
 * Credentials of the pipeline being run (see `secretValues`), kept out of everything Runnel
 * prints: every log line passes through `scrubSecrets` on its way out, as does any message
 * printed to stderr. This is the last line of defence: config is redacted before it is logged,
 * and errors name connection strings with their passwords masked.
 */
const secrets = new Set<string>();

export function registerSecrets(values: Iterable<string>): void {
  for (const value of values) {
    if (value.length < MIN_SECRET_LENGTH) continue;
    secrets.add(value);
    // as it appears inside JSON text (a log line) when it has characters JSON escapes
    secrets.add(JSON.stringify(value).slice(1, -1));
  }
}

/** Text with every registered secret, and the password of any connection string, masked. */
export function scrubSecrets(text: string): string {
  let out = redactUrlCredentials(text);
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/** pino-pretty (30 modules) is loaded only for a terminal: a server or a pipe logs JSON. */
function loadPrettyFactory(): typeof PrettyFactory {
  return (createRequire(import.meta.url)('pino-pretty') as { prettyFactory: typeof PrettyFactory }).prettyFactory;
}

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * `auto` (the default) is readable lines on a terminal, JSON anywhere else (a file, a pipe, a
 * log collector); RUNNEL_LOG_FORMAT or `--log-format` forces either.
 */
export function resolveLogFormat(format: string = process.env.RUNNEL_LOG_FORMAT ?? 'auto'): 'json' | 'pretty' {
  if (format === 'json' || format === 'pretty') return format;
  return process.stderr.isTTY ? 'pretty' : 'json';
}

/**
 * Structured logs go to stderr (fd 2) so stdout stays free for results; secrets are scrubbed from
 * each line. On a terminal they are pino-pretty's one-line form (pino's own printer), made from
 * the same JSON line, so what is scrubbed is the same.
 */
export function createLogger(level: string = process.env.RUNNEL_LOG_LEVEL ?? 'info', format = resolveLogFormat()): Logger {
  const destination = pino.destination({ fd: 2, sync: true });
  const terminal = Boolean(process.stderr.isTTY);
  const pretty =
    format === 'pretty'
      ? loadPrettyFactory()({ colorize: terminal, singleLine: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' })
      : undefined;
  // on a terminal a line first clears the live status line (src/cli/progress.ts), which redraws below it
  const prettify = pretty && terminal ? (line: string) => `\r\x1b[2K${pretty(line)}` : pretty;
  return pino(
    { level, base: { pid: process.pid } },
    { write: (line: string) => destination.write(scrubSecrets(prettify ? prettify(line) : line)) },
  );
}

/** For library callers and tests that want no log output. */
export const silentLogger: Logger = pino({ level: 'silent' });

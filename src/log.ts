import pino, { type Logger } from 'pino';
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

/** Structured logs go to stderr (fd 2) so stdout stays free for results; secrets are scrubbed from each line. */
export function createLogger(level: string = process.env.RUNNEL_LOG_LEVEL ?? 'info'): Logger {
  const destination = pino.destination({ fd: 2, sync: true });
  return pino({ level, base: { pid: process.pid } }, { write: (line: string) => destination.write(scrubSecrets(line)) });
}

/** For library callers and tests that want no log output. */
export const silentLogger: Logger = pino({ level: 'silent' });

import pino, { type Logger } from 'pino';

/** Structured logs go to stderr (fd 2) so stdout stays free for results. */
export function createLogger(level: string = process.env.RUNNEL_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}

/** For library callers and tests that want no log output. */
export const silentLogger: Logger = pino({ level: 'silent' });

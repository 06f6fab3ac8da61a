/**
 * How the MongoDB integration tells errors apart and retries them: transient errors (a server
 * away, an election, a shutdown) are tried again with backoff; anything else becomes a RunnelError
 * naming what failed, credentials masked.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoAPIError, MongoBulkWriteError, MongoError, MongoNetworkError, MongoServerSelectionError } from 'mongodb';
import type { Logger } from 'pino';
import { redactUrlCredentials } from '../../redact.js';
import { RunnelError } from '../../errors.js';
import { failedAsAWhole, type MongoConnection, writeErrorsOf } from './connection.js';

/** The server's code for an insert whose `_id` exists (the claims and fences rely on it). */
export const DUPLICATE_KEY = 11000;

/** Server error codes that mean "try again": network trouble, elections, shutdowns. */
export const TRANSIENT_CODES: ReadonlySet<number> = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  134, // ReadConcernMajorityNotAvailableYet
  189, // PrimarySteppedDown
  262, // ExceededTimeLimit
  9001, // SocketException
  10058, // LegacyNotPrimary
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);
const TRANSIENT_LABELS = ['RetryableWriteError', 'ResumableChangeStreamError', 'TransientTransactionError', 'NetworkError'];
const TRANSIENT_MESSAGE =
  /not primary|not master|node is recovering|connection .*closed|socket has been ended|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|Server selection timed out|pool .* was cleared/i;
/** FerretDB answers the queries it cuts short while shutting down with InternalError (1) "context canceled". */
const INTERNAL_ERROR = 1;
const CUT_SHORT = /context canceled/;

/** Whether an error is worth retrying (the server may answer later) rather than a permanent failure. */
export function isTransientMongoError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof MongoNetworkError || error instanceof MongoServerSelectionError) return true;
  // Usage errors, among them "client/topology closed": retrying cannot help.
  if (error instanceof MongoAPIError) return false;
  if (error.name === 'MongoWaitQueueTimeoutError') return true;
  if (error instanceof MongoError) {
    if (TRANSIENT_LABELS.some((label) => error.hasErrorLabel(label))) return true;
    // a bulk write that failed as a whole (the driver's error or the command's) is judged below by its code or message
    if (error instanceof MongoBulkWriteError && !failedAsAWhole(error)) {
      const concern = error.err;
      if (concern) return concern.code !== undefined && TRANSIENT_CODES.has(concern.code);
      const writeErrors = writeErrorsOf(error);
      // Duplicate inserts beside transient failures: a retry is safe, write tokens tell ours apart.
      return (
        writeErrors.some((e) => TRANSIENT_CODES.has(e.code)) &&
        writeErrors.every((e) => TRANSIENT_CODES.has(e.code) || e.code === DUPLICATE_KEY)
      );
    }
    if (typeof error.code === 'number') return isTransientCode(error);
  }
  return TRANSIENT_MESSAGE.test(error.message);
}

function isTransientCode(error: MongoError): boolean {
  return TRANSIENT_CODES.has(error.code as number) || (error.code === INTERNAL_ERROR && CUT_SHORT.test(error.message));
}

export function isDuplicateKey(error: unknown): boolean {
  return error instanceof MongoError && error.code === DUPLICATE_KEY;
}

/** An error's message with credentials masked, plus the server's code name when there is one. */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return redactUrlCredentials(String(error));
  const codeName = 'codeName' in error && typeof error.codeName === 'string' && error.codeName ? ` ${error.codeName}` : '';
  const code = error instanceof MongoError && error.code !== undefined ? ` (code ${error.code}${codeName})` : '';
  return redactUrlCredentials(error.message) + code;
}

function hintFor(error: unknown): string {
  if (error instanceof MongoError && error.code === 18) return '; check the user name, password and authSource of the connection string';
  if (error instanceof MongoError && error.code === 73) return '; database and collection names must be valid MongoDB names';
  if (error instanceof MongoError && (error.code === 13 || error.code === 8000)) return '; the user lacks a permission it needs';
  return '';
}

export interface RetryOptions {
  /** What is being accessed, for messages (namespace and redacted URI). */
  where: string;
  logger: Logger;
  signal?: AbortSignal;
  /** The connection op runs on: each attempt goes through its `run`. */
  connection?: MongoConnection;
  initialMs?: number;
  maxMs?: number;
}

/**
 * Runs op, retrying transient errors with exponential backoff and jitter (initialMs doubling up
 * to maxMs), logging a warning each time, until it succeeds, `signal` aborts (op is still tried
 * once after that, never retried) or `deadline` (epoch
 * ms) would pass. Permanent errors become a RunnelError naming what failed, without credentials.
 */
export async function retryTransient<T>(op: () => Promise<T>, options: RetryOptions & { what: string; deadline?: number }): Promise<T> {
  const { what, where, logger, signal, deadline } = options;
  const maxMs = options.maxMs ?? 5000;
  let delay = options.initialMs ?? 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await (options.connection ? options.connection.run(op) : op());
    } catch (error) {
      if (error instanceof RunnelError) throw error;
      if (!isTransientMongoError(error) && !options.connection?.closedUnder(error)) {
        throw new RunnelError(`MongoDB ${what} on ${where} failed: ${errorText(error)}${hintFor(error)}`, 1, 'operation-failed');
      }
      // a stop still lets every operation be tried (SIGTERM stores the batch in hand), only not retried
      if (signal?.aborted) throw new RunnelError(`MongoDB ${what} on ${where} was stopped: ${errorText(error)}`, 1, 'stopped');
      const wait = Math.round(delay / 2 + (Math.random() * delay) / 2);
      if (deadline !== undefined && Date.now() + wait >= deadline) {
        throw new RunnelError(
          `MongoDB ${where} is not reachable (${what} gave up after ${attempt} attempt(s)): ${errorText(error)}; is the server running and the address right?`,
          1,
          'server-unreachable',
        );
      }
      logger.warn(
        { op: what, where, attempt, retryInMs: wait, err: errorText(error) },
        `MongoDB ${what} failed with a transient error; retrying`,
      );
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        throw new RunnelError(`MongoDB ${what} on ${where} was stopped while retrying: ${errorText(error)}`, 1, 'stopped');
      }
      delay = Math.min(delay * 2, maxMs);
    }
  }
}

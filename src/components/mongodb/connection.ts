import {
  MongoBulkWriteError,
  MongoClient,
  MongoServerSelectionError,
  MongoNotConnectedError,
  MongoTopologyClosedError,
  type MongoClientOptions,
  type WriteError,
} from 'mongodb';
import type { Logger } from 'pino';

/** Slack on top of the longest a heartbeat may take, for a loaded machine. */
const STALL_SLACK_MS = 5_000;

export interface MongoConnectionOptions {
  /** Driver options of every client (the first and each replacement). */
  clientOptions: MongoClientOptions;
  logger: Logger;
  /** What is connected to, for messages (redacted URI). */
  where: string;
  /**
   * Longest time without a finished heartbeat before the monitor counts as stalled (default:
   * heartbeatFrequencyMS + connectTimeoutMS + 5 s).
   */
  stallMs?: number;
}

/**
 * The MongoClient that a sink's stores share, replaced by a new one when its server monitor
 * stalls.
 *
 * The driver learns that a server is up again only from its monitor's heartbeats, and a
 * heartbeat finishes (succeeds or fails) within heartbeatFrequencyMS + connectTimeoutMS. In the
 * database-outage test a runner's monitor once stopped finishing heartbeats after FerretDB
 * restarted: for minutes, with the server up, every operation waited out server selection and
 * failed with the error seen when the server went away. So when an operation finds no server
 * and no heartbeat has finished for longer than that bound, the next operations go to a new
 * client; the old one is closed once operations still waiting on it have given up.
 */
export class MongoConnection {
  private current: MongoClient;
  private lastHeartbeat = Date.now();
  private readonly stallMs: number;
  private readonly retiring = new Set<{ client: MongoClient; timer: NodeJS.Timeout }>();
  /** How many times the client was replaced (for tests and logs). */
  renewals = 0;
  private closed = false;

  /** Throws what the driver throws for an invalid connection string. */
  constructor(
    private readonly uri: string,
    private readonly options: MongoConnectionOptions,
  ) {
    this.current = this.open();
    // from the client's options: the connection string may set them too
    this.stallMs = options.stallMs ?? stallBound(this.current.options);
  }

  get client(): MongoClient {
    return this.current;
  }

  /**
   * Runs an operation on the current client, connecting it first: a no-op when connected; a new
   * client, or one whose first connect failed, is connected here, not by the driver on the first
   * operation, which never tries again after a failure. An operation that found no server lets
   * the connection check its monitor (noServer), so that a retry goes to a working client.
   */
  async run<T>(op: () => Promise<T>): Promise<T> {
    if (this.closed) throw new MongoTopologyClosedError(); // connect() would open the client again
    try {
      await this.current.connect();
      return await op();
    } catch (error) {
      if (foundNoServer(error)) this.noServer();
      throw error;
    }
  }

  /** Replaces the client when its monitor has stalled, so that the retry of an operation goes to a new one. */
  noServer(): void {
    const silentMs = Date.now() - this.lastHeartbeat;
    if (silentMs <= this.stallMs) return;
    const old = this.current;
    this.current = this.open();
    this.renewals++;
    this.options.logger.warn(
      { where: this.options.where, silentMs, renewals: this.renewals },
      `MongoDB driver's server monitor has not finished a heartbeat for ${Math.round(silentMs / 1000)} s; connecting with a new client`,
    );
    // operations still on the old client give up within their server selection timeout
    const retireAfterMs = 2 * old.options.serverSelectionTimeoutMS;
    const entry = { client: old, timer: setTimeout(() => this.retire(entry), retireAfterMs).unref() };
    this.retiring.add(entry);
  }

  /**
   * Whether an operation failed because the client it ran on was replaced: closed under it (one
   * waiting for an answer longer than the retirement delay), or replaced between run()'s connect
   * and the operation, which then met the new client not yet connected (operations reach the
   * client through `client`, read when they start). A retry goes to the new one, connected first.
   */
  closedUnder(error: unknown): boolean {
    return !this.closed && (error instanceof MongoTopologyClosedError || error instanceof MongoNotConnectedError);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.retiring) {
      clearTimeout(entry.timer);
      this.retire(entry);
    }
    await this.current.close();
  }

  private open(): MongoClient {
    const client = new MongoClient(this.uri, this.options.clientOptions);
    const beat = (): void => {
      if (client === this.current) this.lastHeartbeat = Date.now();
    };
    client.on('serverHeartbeatSucceeded', beat).on('serverHeartbeatFailed', beat);
    this.lastHeartbeat = Date.now();
    return client;
  }

  private retire(entry: { client: MongoClient; timer: NodeJS.Timeout }): void {
    this.retiring.delete(entry);
    entry.client.close().catch(() => undefined);
  }
}

/**
 * Whether an operation failed for want of a server: server selection timed out, also inside a
 * bulk write (the driver wraps the selection error, keeping its `reason`, the topology).
 */
export function foundNoServer(error: unknown): boolean {
  return (
    error instanceof MongoServerSelectionError ||
    (error instanceof MongoBulkWriteError && failedAsAWhole(error) && (error as { reason?: unknown }).reason !== undefined)
  );
}

/** The driver gives one write error or a list; concat flattens either into a list. */
export const writeErrorsOf = (error: MongoBulkWriteError): readonly WriteError[] => ([] as readonly WriteError[]).concat(error.writeErrors);

/** A bulk write that failed as a whole (the command, the connection, no server), not document by document. */
export function failedAsAWhole(error: MongoBulkWriteError): boolean {
  return error.err === undefined && writeErrorsOf(error).length === 0;
}

/** The longest a heartbeat may take to finish, with slack: heartbeatFrequencyMS + connectTimeoutMS. */
function stallBound(options: MongoClient['options']): number {
  return options.heartbeatFrequencyMS + options.connectTimeoutMS + STALL_SLACK_MS;
}

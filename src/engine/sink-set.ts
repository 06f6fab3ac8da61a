import type { SinkRuntime, StoredBatch } from './runtime.js';
import type { StateDoc } from './store.js';
import { settleAll } from '../util/settle.js';

/**
 * Several sinks as the one the run loop writes to (`sinks:`). The states live in one store, the
 * state sink's (the one that keeps the windows, else the first); every sink is given each batch's
 * documents and makes its rows from them through its own document mapping.
 */
export class SinkSet implements SinkRuntime {
  readonly store;
  readonly rollups;
  readonly verify;
  readonly reportStatus;
  readonly forgetsFinalWindows;

  constructor(
    private readonly sinks: readonly SinkRuntime[],
    stateIndex: number,
  ) {
    const state = sinks[stateIndex];
    this.store = state.store;
    this.rollups = state.rollups;
    this.verify = state.verify?.bind(state);
    this.reportStatus = state.reportStatus?.bind(state);
    this.forgetsFinalWindows = state.forgetsFinalWindows;
  }

  /** Side by side; when one fails, the others have ended before the failure is thrown (the batch is then not committed). */
  async afterBatch(written: readonly StateDoc[], finalUpTo: number, batch?: StoredBatch): Promise<void> {
    await settleAll(this.sinks.map((sink) => sink.afterBatch(written, finalUpTo, batch)));
  }

  async close(): Promise<void> {
    await settleAll(this.sinks.map((sink) => sink.close()));
  }
}

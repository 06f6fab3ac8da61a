import type { Plan } from '../../engine/plan.js';
import { MemoryStore } from '../../engine/memory-store.js';
import { toRow, type ResultRow } from '../../engine/rows.js';
import type { SinkRuntime } from '../../engine/runtime.js';
import type { StateDoc } from '../../engine/store.js';

export type EmitMode = 'final' | 'updates';

/** How a local sink writes rows; the memory store and emit modes are shared. */
export interface RowWriter {
  /** Called once, after the first batch: the run has started, so the output may be touched now. */
  begin?(): void;
  write(rows: ResultRow[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The local sinks keep states in an in-process store. `final` emits each window's rows once the
 * watermark makes it final; `updates` emits the rows each batch changed. Final windows are
 * forgotten either way, so memory holds only open windows.
 */
export class LocalRowSink implements SinkRuntime {
  readonly store = new MemoryStore();
  private begun = false;

  constructor(
    private readonly plan: Plan,
    private readonly emit: EmitMode,
    private readonly writer: RowWriter,
  ) {}

  async afterBatch(written: readonly StateDoc[], finalUpTo: number): Promise<void> {
    if (!this.begun) {
      this.begun = true;
      this.writer.begin?.();
    }
    const final = this.store.takeWindowsEndingBy(finalUpTo);
    const emitted = this.emit === 'final' ? final : [...written].sort((a, b) => a.windowStart - b.windowStart || (a.id < b.id ? -1 : 1));
    if (emitted.length > 0) await this.writer.write(emitted.map((doc) => toRow(doc, this.plan)));
  }

  async close(): Promise<void> {
    await this.writer.close();
  }
}

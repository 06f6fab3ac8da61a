import type { DocumentField, Plan } from '../../engine/plan.js';
import { MemoryStore } from '../../engine/memory-store.js';
import { toRow, type ResultRow } from '../../engine/rows.js';
import type { SinkRuntime, StoredBatch } from '../../engine/runtime.js';
import type { StateDoc } from '../../engine/store.js';

export type EmitMode = 'final' | 'updates';

/** How a row sink writes rows; the memory store and emit modes are shared. */
export interface RowWriter {
  /** Called once, after the first batch: the run has started, so the output may be touched now. */
  begin?(): void;
  /**
   * The rows emitted after one batch, each made from the document at the same index; `offsets`
   * are the batch's, committed once this has ended (empty for rows emitted at the end of a run),
   * and `progress` the partitions' event-time progress at them (committed with them).
   */
  write(
    rows: ResultRow[],
    docs: readonly StateDoc[],
    offsets: ReadonlyMap<string, number>,
    progress: ReadonlyMap<string, number>,
  ): Promise<void>;
  close(): Promise<void>;
}

export interface RowSinkOptions {
  emit: EmitMode;
  /** The sink's document mapping: the fields of its rows. */
  document: readonly DocumentField[];
  /**
   * Also emit the documents a batch read again left unchanged (StoredBatch.unchanged), as for an
   * output that outlives the run: the rows a crashed run made of them may never have arrived.
   */
  reemitUnchanged?: boolean;
}

/**
 * A sink that emits rows. `final` emits each window's rows once the watermark makes it final;
 * `updates` emits the rows each batch changed. Its in-process store holds the states when no sink
 * of the pipeline keeps the windows; final windows are forgotten either way, so memory holds only
 * open windows.
 */
export class RowSink implements SinkRuntime {
  readonly store = new MemoryStore();
  /** Its store holds the states when no sink keeps the windows, and drops them once final. */
  readonly forgetsFinalWindows = true;
  /** For `final`: the latest version of each document of a window not yet emitted. */
  private readonly open = new Map<string, StateDoc>();
  private begun = false;

  constructor(
    private readonly plan: Plan,
    private readonly options: RowSinkOptions,
    private readonly writer: RowWriter,
  ) {}

  async afterBatch(written: readonly StateDoc[], finalUpTo: number, batch?: StoredBatch): Promise<void> {
    if (!this.begun) {
      this.begun = true;
      this.writer.begin?.();
    }
    const changed = this.options.reemitUnchanged && batch ? [...written, ...batch.unchanged] : written;
    this.store.takeWindowsEndingBy(finalUpTo);
    let emitted: StateDoc[];
    if (this.options.emit === 'final') {
      for (const doc of changed) this.open.set(doc.id, doc);
      emitted = [];
      for (const [id, doc] of this.open) {
        if (doc.windowEnd > finalUpTo) continue;
        emitted.push(doc);
        this.open.delete(id);
      }
    } else {
      emitted = [...changed];
    }
    emitted.sort((a, b) => a.windowStart - b.windowStart || (a.id < b.id ? -1 : 1));
    if (emitted.length === 0) return;
    const rows = emitted.map((doc) => toRow(doc, this.plan, this.options.document));
    await this.writer.write(rows, emitted, batch?.offsets ?? new Map(), batch?.progress ?? new Map());
  }

  async close(): Promise<void> {
    await this.writer.close();
  }
}

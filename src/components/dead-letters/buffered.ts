import type { DeadLetter } from '../../engine/records.js';
import type { DeadLetterRuntime } from '../../engine/runtime.js';

/** A dead-letter destination's writing side: each flush's records, stamped with the time they were written. */
export interface DeadLetterWriter {
  write(deadLetters: (DeadLetter & { at: string })[]): Promise<void>;
  close(): Promise<void>;
}

/** Collects dead letters between flushes and hands them to the writer at each flush (none: no write). */
export function bufferedDeadLetters(writer: DeadLetterWriter): DeadLetterRuntime {
  let pending: DeadLetter[] = [];
  return {
    add(deadLetter) {
      pending.push(deadLetter);
    },
    async flush() {
      if (pending.length === 0) return;
      const at = new Date().toISOString();
      await writer.write(pending.map((d) => ({ ...d, at })));
      pending = [];
    },
    close: () => writer.close(),
  };
}

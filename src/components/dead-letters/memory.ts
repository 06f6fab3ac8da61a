import type { DeadLetter } from '../../engine/records.js';
import type { DeadLetterRuntime } from '../../engine/runtime.js';

/**
 * An in-process destination that appends every written dead letter (without its `at` stamp) to
 * `into`: `runner test` compares them with the test file's, benches and tests read them back.
 */
export function collectDeadLetters(into: DeadLetter[] = []): DeadLetterRuntime {
  return {
    async write(deadLetters) {
      for (const { at: _at, ...deadLetter } of deadLetters) into.push(deadLetter);
    },
    async close() {},
  };
}

import { resolve } from 'node:path';
import type { DeadLetterSpec } from '../spec.js';
import { JsonlFile } from '../../util/jsonl-file.js';
import { strictObject, text } from '../fragments.js';

const config = strictObject('Append rejected records to a JSONL file.', {
  path: text('Path of the dead-letter file; appended to, never truncated.', { examples: ['dead-letters/impressions.jsonl'] }),
});

export const fileDeadLetter: DeadLetterSpec<typeof config> = {
  slot: 'deadLetter',
  name: 'file',
  summary: 'Appends each rejected record as a JSON line {reason, detail, partition, offset, payload} to a file.',
  config,
  examples: [{ title: 'A local file', yaml: 'file:\n  path: dead-letters/impressions.jsonl\n' }],
  files: (config) => [{ path: config.path, at: ['path'], writes: true }],
  // no rejected record is ever lost: a pipeline that names no destination keeps them in a file
  byDefault: (pipeline) => ({ path: `dead-letters/${pipeline}.jsonl` }),
  async create(config, { cwd }) {
    let file: JsonlFile | undefined;
    return {
      async write(deadLetters) {
        // opened on the first dead letter, so a clean run leaves no empty file behind
        file ??= new JsonlFile(resolve(cwd, config.path), 'append');
        file.writeAll(deadLetters);
        await file.flush();
      },
      async close() {
        await file?.close();
      },
    };
  },
};

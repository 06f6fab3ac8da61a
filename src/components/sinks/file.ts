import { resolve } from 'node:path';
import type { SinkSpec } from '../spec.js';
import { JsonlFile } from '../../util/jsonl-file.js';
import { LocalRowSink } from './local-rows.js';
import { emitMode, strictObject, text } from '../../schema/fragments.js';

export interface FileSinkConfig {
  path: string;
  emit?: 'final' | 'updates';
}

export const fileSink: SinkSpec<FileSinkConfig> = {
  slot: 'sink',
  name: 'file',
  summary: 'Writes result rows as JSON lines to a file (replaced at the start of each run).',
  config: strictObject(
    'Write result rows as JSON lines.',
    { path: text('Path of the output file; its folder is created if missing.', { examples: ['out/impressions.jsonl'] }), emit: emitMode },
    ['path'],
  ),
  examples: [{ title: 'Final rows to a file', yaml: 'file:\n  path: out/impressions.jsonl\n  emit: final\n' }],
  async create(config, { plan, cwd }) {
    const file = new JsonlFile(resolve(cwd, config.path), 'truncate');
    return new LocalRowSink(plan, config.emit ?? 'final', {
      async write(rows) {
        file.writeAll(rows);
        await file.flush();
      },
      close: () => file.close(),
    });
  },
};

import { resolve } from 'node:path';
import { sinkUseOf, type SinkSpec } from '../spec.js';
import { JsonlFile } from '../../util/jsonl-file.js';
import { RowSink } from './row-sink.js';
import { emitMode, strictObject, text } from '../fragments.js';

const config = strictObject('Write result rows as JSON lines.', {
  path: text('Path of the output file; its folder is created if missing.', { examples: ['out/impressions.jsonl'] }),
  emit: emitMode,
});

export const fileSink: SinkSpec<typeof config> = {
  slot: 'sink',
  name: 'file',
  summary: 'Writes result rows as JSON lines to a file (replaced once each run has started).',
  config,
  examples: [{ title: 'Final rows to a file', yaml: 'file:\n  path: out/impressions.jsonl\n  emit: final\n' }],
  files: (config) => [{ path: config.path, at: ['path'], writes: true }],
  async create(config, context) {
    const { plan, cwd } = context;
    const path = resolve(cwd, config.path);
    // opened (and so replaced) only once the run has started: a run that fails to start leaves the old file alone
    let file: JsonlFile | undefined;
    return new RowSink(
      plan,
      { emit: config.emit, document: sinkUseOf(context).document },
      {
        begin() {
          file = new JsonlFile(path, 'truncate');
        },
        async write(rows) {
          file!.writeAll(rows);
          await file!.flush();
        },
        close: async () => file?.close(),
      },
    );
  },
};

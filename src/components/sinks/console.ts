import { sinkUseOf, type SinkSpec } from '../spec.js';
import type { ResultRow } from '../../engine/rows.js';
import { RowSink } from './row-sink.js';
import { choice, emitMode, strictObject } from '../fragments.js';

const config = strictObject('Print result rows.', {
  emit: emitMode,
  format: choice(['auto', 'table', 'jsonl'], '`auto`: a table when standard output is a terminal, JSON lines otherwise.', {
    default: 'auto',
  }),
});

export const consoleSink: SinkSpec<typeof config> = {
  slot: 'sink',
  name: 'console',
  summary: 'Prints result rows to standard output: a table on a terminal, JSON lines otherwise.',
  config,
  examples: [{ title: 'Rows as they change', yaml: 'console:\n  emit: updates\n' }],
  async create(config, context) {
    const { plan } = context;
    const out = process.stdout;
    const format = config.format;
    const table = format === 'table' || (format === 'auto' && Boolean(out.isTTY));
    return new RowSink(
      plan,
      { emit: config.emit, document: sinkUseOf(context).document },
      {
        async write(rows) {
          out.write(table ? formatTable(rows) : rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
        },
        async close() {},
      },
    );
  },
};

function cellText(value: unknown): string {
  if (value instanceof Date) return value.toISOString().replace('.000Z', 'Z');
  if (typeof value === 'number' && !Number.isInteger(value)) return value.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** An aligned text table: numbers right-aligned, everything else left-aligned. */
export function formatTable(rows: ResultRow[]): string {
  const columns = Object.keys(rows[0] ?? {});
  const cells = rows.map((row) => columns.map((c) => cellText(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const numeric = columns.map((c) => rows.every((row) => typeof row[c] === 'number'));
  const line = (values: string[]) =>
    values
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n\n';
}

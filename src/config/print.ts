import type { Diagnostic } from '../errors.js';
import type { SourceFile } from './source-file.js';

export interface LocatedDiagnostic extends Diagnostic {
  file: string;
  line?: number;
  col?: number;
}

/** Diagnostics located and in source order. */
export function locateAll(diagnostics: readonly Diagnostic[], source: SourceFile): LocatedDiagnostic[] {
  return diagnostics.map((d) => locate(d, source)).sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}

export function locate(diag: Diagnostic, source: SourceFile): LocatedDiagnostic {
  if (!diag.range) return { ...diag, file: source.path };
  const { line, col } = source.position(diag.range[0]);
  return { ...diag, file: source.path, line, col };
}

/** One line per diagnostic: `file:line:col: error[code]: message (hint)`, the form editors and CI annotate. */
export function formatLine(d: LocatedDiagnostic): string {
  const where = d.line === undefined ? d.file : `${d.file}:${d.line}:${d.col}`;
  const hint = d.hint ? ` (${d.hint})` : '';
  return `${where}: ${d.severity}[${d.code}]: ${d.message}${hint}`;
}

/** The line form plus the offending source line with carets under the range, for people at a terminal. */
export function formatPretty(d: LocatedDiagnostic, source: SourceFile): string {
  const head = formatLine(d);
  if (d.line === undefined || d.col === undefined || !d.range) return head;
  const text = source.lineText(d.line);
  const endOnLine = source.position(d.range[1]);
  const width = endOnLine.line === d.line ? Math.max(1, endOnLine.col - d.col) : Math.max(1, text.length - d.col + 1);
  const gutter = String(d.line).length;
  return [
    head,
    `${' '.repeat(gutter)} |`,
    `${d.line} | ${text}`,
    `${' '.repeat(gutter)} | ${' '.repeat(d.col - 1)}${'^'.repeat(width)}`,
  ].join('\n');
}

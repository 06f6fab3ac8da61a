import type { Compilation } from '../compiler/compile.js';
import { formatLine, formatPretty, locateAll, type LocatedDiagnostic } from '../config/print.js';

export function located(compilation: Compilation): LocatedDiagnostic[] {
  return locateAll(compilation.diagnostics, compilation.loaded.source);
}

/** Human form: one line per problem; on a terminal also the source line with carets under the spot. */
export function printDiagnostics(compilation: Compilation, out: NodeJS.WritableStream, pretty: boolean): void {
  for (const d of located(compilation)) {
    out.write((pretty ? formatPretty(d, compilation.loaded.source) + '\n' : formatLine(d)) + '\n');
  }
}

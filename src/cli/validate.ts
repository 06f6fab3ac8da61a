import { compilePipelineFile, hasErrors } from '../compiler/compile.js';
import { located, printDiagnostics } from './report.js';

/** `runner validate FILE...`: exit 0 when every file is valid, 1 when any has an error. */
export function validateCommand(files: string[], options: { json?: boolean }): number {
  const results = files.map((file) => compilePipelineFile(file));
  if (options.json) {
    const report = results.map((c) => ({ file: c.loaded.source.path, valid: !hasErrors(c.diagnostics), diagnostics: located(c) }));
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    for (const c of results) {
      printDiagnostics(c, process.stdout, Boolean(process.stdout.isTTY));
      const errors = c.diagnostics.filter((d) => d.severity === 'error').length;
      const warnings = c.diagnostics.length - errors;
      const verdict = errors === 0 ? 'valid' : `${errors} error${errors === 1 ? '' : 's'}`;
      process.stdout.write(
        `${c.loaded.source.path}: ${verdict}${warnings > 0 ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}\n`,
      );
    }
  }
  return results.some((c) => hasErrors(c.diagnostics)) ? 1 : 0;
}

import { compilePipelineFile } from '../compiler/compile.js';
import { describePlan, formatStages } from '../compiler/describe.js';
import { fingerprintOf, meaningOf } from '../engine/meaning.js';
import { printDiagnostics } from './report.js';

/** `runner explain FILE`: the compiled plan stage by stage; a file with errors prints them instead. */
export function explainCommand(file: string, options: { json?: boolean }): number {
  const compilation = compilePipelineFile(file);
  if (!compilation.plan) {
    printDiagnostics(compilation, process.stderr, Boolean(process.stderr.isTTY));
    return 1;
  }
  const stages = describePlan(compilation.plan);
  process.stdout.write(
    options.json
      ? JSON.stringify(
          { pipeline: compilation.plan.name, file, fingerprint: fingerprintOf(meaningOf(compilation.plan)), stages },
          null,
          2,
        ) + '\n'
      : formatStages(compilation.plan, stages),
  );
  return 0;
}

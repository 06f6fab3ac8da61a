import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A filter that never finishes, whatever the record: jsonata runs the tail call as a loop. */
export const RECURSION = '($f := function($x){ $f($x) }; $f(1))';

/** Writes `runaway.yaml` in `dir`: impressions from `source` through the never-ending filter; its line is 5. */
export function runawayPipeline(dir: string, source: string, expressionTimeout: string): string {
  const path = join(dir, 'runaway.yaml');
  writeFileSync(
    path,
    `name: runaway
source: ${source}
limits: { expressionTimeout: ${expressionTimeout} }
time: { field: timestamp }
filter: '${RECURSION}'
window: { tumbling: 1m }
groupBy: [publisher]
aggregate: { imps: count }
sink: { file: { path: out.jsonl } }
deadLetter: { file: { path: dead.jsonl } }
`,
  );
  return path;
}

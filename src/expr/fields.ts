/** Static analysis: which top-level input fields an expression reads. */
import { children, type AstNode } from './ast.js';
import { parseExpression } from './compile.js';

/**
 * Collects first steps of paths evaluated against the record itself. Steps after the first, and
 * predicates, sort terms and group-by expressions on later steps, are relative to nested values and
 * are not top-level fields. `$$.name` always reads the record.
 */
function collect(node: AstNode, atRecord: boolean, found: Set<string>): void {
  if (node.type === 'path') {
    const steps = node.steps ?? [];
    const first = steps.at(0);
    const second = steps.at(1);
    if (first) {
      if (atRecord && first.type === 'name') found.add(first.value as string);
      const rootVariable = first.type === 'variable' && (first.value === '$' || (atRecord && first.value === ''));
      if (rootVariable && second?.type === 'name') found.add(second.value as string);
      collect(first, atRecord, found);
    }
    for (const step of steps.slice(1)) collect(step, false, found);
    for (const pair of node.group?.lhs ?? []) pair.forEach((n) => collect(n, false, found));
    return;
  }
  // a step's own predicates and sort terms are relative to the step's values
  const relative = new Set<AstNode>();
  for (const stage of [...(node.stages ?? []), ...(node.predicate ?? [])]) if (stage.expr) relative.add(stage.expr);
  for (const term of node.terms ?? []) relative.add(term.expression);
  for (const pair of node.group?.lhs ?? []) pair.forEach((n) => relative.add(n));
  for (const child of children(node)) collect(child, atRecord && !relative.has(child), found);
}

/**
 * The top-level record fields `source` reads, in order of first appearance: the first step of
 * each path (`a.b.c` -> "a"), best effort. Wildcards, `$lookup($, name)` and the like read fields
 * that cannot be named statically and are not reported. Throws ExpressionSyntaxError.
 */
export function referencedFields(source: string): string[] {
  const found = new Set<string>();
  collect(parseExpression(source).ast() as unknown as AstNode, true, found);
  return [...found];
}

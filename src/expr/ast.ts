/**
 * The shape of jsonata's processed syntax tree (`jsonata(source).ast()`), as far as this module
 * reads it. jsonata's own typings describe the unprocessed parse tree and miss most of these.
 */
export interface AstNode {
  readonly type: string;
  readonly value?: unknown;
  readonly position?: number;
  /** path */
  readonly steps?: AstNode[];
  /** block, array constructor (unary "[") */
  readonly expressions?: AstNode[];
  /** function, partial, lambda */
  readonly arguments?: AstNode[];
  readonly procedure?: AstNode;
  readonly body?: AstNode;
  /** binary, bind, apply (object constructors hold [key, value] pairs here) */
  readonly lhs?: AstNode | [AstNode, AstNode][];
  readonly rhs?: AstNode | SortTerm[];
  /** unary "-" */
  readonly expression?: AstNode;
  /** condition */
  readonly condition?: AstNode;
  readonly then?: AstNode;
  readonly else?: AstNode;
  /** predicates and index bindings on a step */
  readonly stages?: { type: string; expr?: AstNode }[];
  readonly predicate?: { type: string; expr?: AstNode }[];
  /** group-by on a step or path */
  readonly group?: { lhs: [AstNode, AstNode][] };
  /** sort step */
  readonly terms?: SortTerm[];
  /** transform */
  readonly pattern?: AstNode;
  readonly update?: AstNode;
  readonly delete?: AstNode;
}

export interface SortTerm {
  readonly descending: boolean;
  readonly expression: AstNode;
}

/** Every node this module may meet, children first in evaluation order (for static analysis). */
export function children(node: AstNode): AstNode[] {
  const out: AstNode[] = [];
  const add = (n: unknown): void => {
    if (n !== null && typeof n === 'object' && typeof (n as AstNode).type === 'string') out.push(n as AstNode);
  };
  for (const step of node.steps ?? []) add(step);
  for (const e of node.expressions ?? []) add(e);
  add(node.procedure);
  for (const a of node.arguments ?? []) add(a);
  add(node.body);
  for (const side of [node.lhs, node.rhs]) {
    if (Array.isArray(side)) {
      for (const item of side) {
        if (Array.isArray(item)) item.forEach(add);
        else add(item.expression);
      }
    } else add(side);
  }
  add(node.expression);
  add(node.condition);
  add(node.then);
  add(node.else);
  for (const stage of [...(node.stages ?? []), ...(node.predicate ?? [])]) add(stage.expr);
  for (const pair of node.group?.lhs ?? []) pair.forEach(add);
  for (const term of node.terms ?? []) add(term.expression);
  add(node.pattern);
  add(node.update);
  add(node.delete);
  return out;
}

import { isMap, isScalar, isSeq, type Document, type Node } from 'yaml';

export type Path = readonly (string | number)[];

export interface Located {
  /** The key node of the last path step, when it is a mapping entry. */
  key?: Node;
  /** The value node at the path; absent when the path goes past the document. */
  value?: Node;
}

/** Finds the YAML nodes at a data path, so a problem found in the plain value can point at the source. */
export function locatePath(doc: Document, path: Path): Located {
  let value: unknown = doc.contents;
  let key: Node | undefined;
  for (const step of path) {
    if (isMap(value)) {
      const pair = value.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step));
      if (!pair) return { key, value: undefined };
      key = pair.key as Node;
      value = pair.value;
    } else if (isSeq(value) && typeof step === 'number') {
      key = undefined;
      value = value.items[step];
    } else {
      return { key, value: undefined };
    }
  }
  return { key, value: (value ?? undefined) as Node | undefined };
}

/** The best range to show for a path: the value, else its key, else the nearest ancestor that exists. */
export function rangeOf(doc: Document, path: Path, prefer: 'value' | 'key' = 'value'): [number, number] {
  for (let depth = path.length; depth >= 0; depth--) {
    const { key, value } = locatePath(doc, path.slice(0, depth));
    const node = depth < path.length ? (key ?? value) : prefer === 'key' ? (key ?? value) : (value ?? key);
    if (node?.range) return [node.range[0], node.range[1]];
  }
  return [0, 0];
}

/** A JSON pointer (`/aggregate/avgBid`) as path steps; array indexes become numbers. */
export function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

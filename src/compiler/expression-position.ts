import { isScalar, type Node } from 'yaml';

/**
 * The offset in the file of character `index` of a string scalar's value, so that an expression
 * error points at the right column inside the YAML line, whatever the scalar's style.
 */
export function offsetInScalar(node: Node | undefined, text: string, index: number): number {
  if (!node?.range) return 0;
  const start = node.range[0];
  if (!isScalar(node)) return start;
  switch (node.type) {
    case 'QUOTE_DOUBLE':
    case 'QUOTE_SINGLE':
      return start + 1 + index;
    case 'BLOCK_LITERAL':
    case 'BLOCK_FOLDED': {
      const value = String(node.value);
      const lineIndex = value.slice(0, index).split('\n').length - 1;
      const column = index - (value.lastIndexOf('\n', index - 1) + 1);
      const firstLine = text.indexOf('\n', start) + 1;
      // the block's indentation is its first line's; deeper lines keep the rest in the value
      const blockIndent = /^ */.exec(text.slice(firstLine))![0].length;
      let lineStart = firstLine;
      for (let i = 0; i < lineIndex && lineStart > 0; i++) lineStart = text.indexOf('\n', lineStart) + 1;
      return lineStart + blockIndent + column;
    }
    default:
      return start + index;
  }
}

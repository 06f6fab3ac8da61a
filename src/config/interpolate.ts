import { visit, type Document } from 'yaml';
import { diagnostic, type Diagnostic } from '../errors.js';

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

export type Environment = Readonly<Record<string, string | undefined>>;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string value of the document, in place.
 * `$${` stands for a literal `${`. An unset variable without a default is reported at the
 * scalar's position. A plain (unquoted) scalar that is exactly one reference takes the type of
 * what it resolves to, so `maxRecords: ${MAX:-1000}` is a number, as if it had been written inline.
 */
export function interpolateEnv(doc: Document, env: Environment): Diagnostic[] {
  const problems: Diagnostic[] = [];
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const original = node.value;
      const range: [number, number] | undefined = node.range ? [node.range[0], node.range[1]] : undefined;
      let wholeReference = false as boolean; // set inside the callback
      const replaced = original.replace(REFERENCE, (match, body: string | undefined, at: number) => {
        if (match === '$${') return '${';
        wholeReference = match.length === original.length && at === 0;
        const sep = body!.indexOf(':-');
        const name = (sep >= 0 ? body!.slice(0, sep) : body!).trim();
        if (!NAME.test(name)) {
          problems.push(
            diagnostic('env-syntax', `malformed environment reference \`${match}\``, range, 'write ${NAME} or ${NAME:-default}'),
          );
          return match;
        }
        const value = env[name];
        if (value !== undefined && value !== '') return value;
        if (sep >= 0) return body!.slice(sep + 2);
        problems.push(
          diagnostic(
            'env-unset',
            `environment variable ${name} is not set`,
            range,
            `set ${name}, or give a default with \${${name}:-value}`,
          ),
        );
        return '';
      });
      node.value = wholeReference && node.type === 'PLAIN' ? retype(replaced) : replaced;
    },
  });
  return problems;
}

function retype(text: string): string | number | boolean | null {
  if (NUMBER.test(text)) return Number(text);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null' || text === '~') return null;
  return text;
}

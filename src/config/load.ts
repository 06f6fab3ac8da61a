import { readFileSync, statSync } from 'node:fs';
import { LineCounter, isMap, parseDocument, type Document } from 'yaml';
import { diagnostic, type Diagnostic } from '../errors.js';
import { interpolateEnv, type Environment } from './interpolate.js';
import { SourceFile } from './source-file.js';

export interface LoadedPipeline {
  source: SourceFile;
  /** The parsed document, environment already interpolated; nodes keep their source ranges. */
  doc?: Document.Parsed;
  /** The document as plain data; present only when it parsed into a mapping. */
  value?: Record<string, unknown>;
  diagnostics: Diagnostic[];
}

const yamlCodes: Record<string, 'yaml-duplicate-key' | 'yaml-syntax'> = { DUPLICATE_KEY: 'yaml-duplicate-key' };

/**
 * The largest pipeline file read: a pipeline is a page or two of YAML, and parsing keeps several
 * copies of the text and a node per value, so a file of hundreds of megabytes would exhaust memory.
 */
export const MAX_PIPELINE_BYTES = 1024 * 1024;

/** Reads and parses a pipeline file; every problem becomes a diagnostic, none is thrown. */
export function loadPipelineFile(path: string, env: Environment = process.env): LoadedPipeline {
  let text: string;
  try {
    const { size } = statSync(path);
    if (size > MAX_PIPELINE_BYTES) {
      return {
        source: new SourceFile(path, ''),
        diagnostics: [
          diagnostic(
            'file-too-large',
            `the pipeline file is ${size} bytes, more than ${MAX_PIPELINE_BYTES} (1 MiB)`,
            undefined,
            'is this the pipeline, or a data file? records go in the source, not the pipeline',
          ),
        ],
      };
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    return {
      source: new SourceFile(path, ''),
      diagnostics: [diagnostic('file-missing', `cannot read pipeline file: ${reason}`)],
    };
  }
  return parsePipelineText(path, text, env);
}

export function parsePipelineText(path: string, text: string, env: Environment = process.env): LoadedPipeline {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, keepSourceTokens: false });
  const source = new SourceFile(path, text, lineCounter);
  // yaml places some errors at the end of the text, one past its last character: clamp them into it
  const clamp = (at: number) => Math.max(0, Math.min(at, text.length));
  const diagnostics: Diagnostic[] = doc.errors.map((e) =>
    diagnostic(yamlCodes[e.code] ?? 'yaml-syntax', yamlMessage(e.code, e.message), [clamp(e.pos[0]), clamp(e.pos[1])]),
  );
  if (diagnostics.length > 0) return { source, doc, diagnostics };
  if (doc.contents === null) {
    return {
      source,
      doc,
      diagnostics: [diagnostic('empty-file', 'the pipeline file is empty', [0, 0], 'start from pipelines/impressions-local.yaml')],
    };
  }
  if (!isMap(doc.contents)) {
    const range = doc.contents.range;
    return {
      source,
      doc,
      diagnostics: [
        diagnostic('not-a-mapping', 'a pipeline file must be a mapping of keys such as name, source, window, aggregate and sink', [
          range[0],
          range[1],
        ]),
      ],
    };
  }
  diagnostics.push(...interpolateEnv(doc, env));
  let value: Record<string, unknown>;
  try {
    value = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
  } catch (err) {
    // an alias bomb (aliases of aliases, each expanding to many nodes) or an alias to itself
    return {
      source,
      doc,
      diagnostics: [
        ...diagnostics,
        diagnostic('yaml-syntax', `YAML aliases: ${(err as Error).message}`, [0, 0], 'write the values out instead of repeating aliases'),
      ],
    };
  }
  return { source, doc, value, diagnostics };
}

/** yaml's messages end with a source excerpt of their own; ours prints its own, so keep the first line. */
function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  // the parser recurses per level of nesting: thousands of levels exhaust its stack
  if (/Maximum call stack size exceeded/.test(first))
    return 'YAML syntax: nested too deeply to read (thousands of levels of brackets or indentation)';
  return code === 'DUPLICATE_KEY' ? `${first}; each key may appear only once in a mapping` : `YAML syntax: ${first}`;
}

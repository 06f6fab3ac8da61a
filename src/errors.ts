/**
 * The catalogue of diagnostic codes. Every problem Runnel reports about a pipeline file is a
 * Diagnostic with one of these codes, a severity and a source range, so that all problems in a
 * file can be collected and printed together (never thrown one at a time).
 */
export const diagnosticCodes = {
  'file-missing': 'the pipeline file does not exist or cannot be read',
  'file-too-large': 'the pipeline file is larger than a pipeline can be (1 MiB)',
  'yaml-syntax': 'the file is not valid YAML',
  'yaml-duplicate-key': 'a key appears twice in the same mapping',
  'empty-file': 'the file has no content',
  'not-a-mapping': 'the top level of a pipeline must be a mapping',
  'env-unset': 'an environment variable used with ${VAR} is not set and has no default',
  'env-syntax': 'a ${...} reference is malformed',
  'unknown-key': 'a key that the schema does not allow',
  'missing-key': 'a required key is absent',
  'wrong-type': 'a value of the wrong type',
  'invalid-value': 'a value outside the allowed set or format',
  'one-of': 'exactly one of several alternatives is required',
  'expression-syntax': 'a JSONata expression does not parse',
  'expression-not-allowed': 'a JSONata expression uses a function pipelines may not use ($eval)',
  'duplicate-name': 'two outputs share a name',
  'unknown-name': 'a reference to a name that does not exist',
  conflict: 'settings that contradict each other',
  unused: 'something declared but never used',
} as const;

export type DiagnosticCode = keyof typeof diagnosticCodes;
export type Severity = 'error' | 'warning';

export interface Diagnostic {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  /** What to do about it; printed after the message. */
  hint?: string;
  /** Character offsets [start, end) in the source text; absent when the problem has no location. */
  range?: [number, number];
}

export function diagnostic(
  code: DiagnosticCode,
  message: string,
  range?: [number, number],
  hint?: string,
  severity: Severity = 'error',
): Diagnostic {
  return { code, severity, message, range, hint };
}

/**
 * Codes of the runtime errors that code tells apart (as diagnostics have theirs), so that no code
 * decides by matching message text.
 */
export const runtimeErrorCodes = {
  'server-unreachable': 'a server did not answer within the time allowed',
  stopped: 'an operation was cut short because the run is stopping',
  'operation-failed': 'a server refused an operation for good (permissions, invalid names, a full disk)',
} as const;

export type RuntimeErrorCode = keyof typeof runtimeErrorCodes;

/** A problem that stops a command before or while running, with an exit code; never a stack trace for users. */
export class RunnelError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** Set where callers tell errors apart. */
    readonly code?: RuntimeErrorCode,
  ) {
    super(message);
    this.name = 'RunnelError';
  }
}

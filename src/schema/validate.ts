import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { Document } from 'yaml';
import { diagnostic, type Diagnostic } from '../errors.js';
import { pointerToPath, rangeOf, type Path } from '../config/positions.js';
import { DURATION_PATTERN } from '../components/fragments.js';
import type { JsonSchema } from '../json-schema.js';
import validatePipeline from './pipeline-validator.generated.js';
import { didYouMean, listOf } from './suggest.js';
import { redactUrlCredentials } from '../redact.js';

/** How every schema is compiled, the pipeline schema's committed validator included (standalone.ts). */
export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: true, strictTypes: false, strictRequired: false } as const;

const compiled = new WeakMap<JsonSchema, ValidateFunction>();

/**
 * Each schema is compiled once per process (ajv compiles to code; recompiling costs milliseconds).
 * ajv's compiler is loaded only then: the pipeline schema's validator comes precompiled.
 */
function validator(schema: JsonSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    const ajv2020 = createRequire(import.meta.url)('ajv/dist/2020.js') as { Ajv2020: typeof Ajv2020 };
    validate = new ajv2020.Ajv2020(AJV_OPTIONS).compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** Validates the plain value of a YAML document against a schema; every problem is located in the YAML. */
export function validateDocument(schema: JsonSchema, value: unknown, doc: Document): Diagnostic[] {
  return located(validator(schema), value, doc);
}

/** Validates a pipeline against the schema the registry generates, compiled ahead (`npm run schema`). */
export function validateAgainstSchema(value: unknown, doc: Document): Diagnostic[] {
  return located(validatePipeline as unknown as ValidateFunction, value, doc);
}

function located(validate: ValidateFunction, value: unknown, doc: Document): Diagnostic[] {
  if (validate(value)) return [];
  return resolveUnions(validate.errors ?? [])
    .map((e) => toDiagnostic(e, doc))
    .filter((d): d is Diagnostic => d !== undefined);
}

type UnionProblem = { kind: 'none' | 'several'; error: ErrorObject; tags: string[]; present: string[] };
type Resolved = ErrorObject | UnionProblem;

function isUnionProblem(e: Resolved): e is UnionProblem {
  return 'kind' in e;
}

function within(instancePath: string, parent: string): boolean {
  return instancePath === parent || instancePath.startsWith(parent + '/');
}

/** The key that selects a union branch: its single required key (`{ avg: ... }`), or its JSON type. */
function branchTag(branch: JsonSchema): string | undefined {
  const required = branch.required as string[] | undefined;
  return required?.length === 1 ? required[0] : undefined;
}

function typeMatches(branch: JsonSchema, data: unknown): boolean {
  const types = ([] as unknown[]).concat(branch.type ?? []);
  const actual = Array.isArray(data) ? 'array' : data === null ? 'null' : typeof data;
  return types.includes(actual);
}

/**
 * ajv reports every branch's errors for a failed oneOf; people need only the branch they meant.
 * The branch is chosen by its tag key (or by type for the bare form), and the others are dropped.
 */
function resolveUnions(errors: ErrorObject[]): Resolved[] {
  let remaining: Resolved[] = [...errors];
  const unions = errors
    .filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const union of unions) {
    if (!remaining.includes(union)) continue;
    const branches = union.schema as JsonSchema[];
    const data = union.data;
    const prefix = union.schemaPath + '/';
    let chosen: number | undefined;
    let problem: UnionProblem | undefined;
    if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
      const tags = branches.map(branchTag);
      // in the order written, which is the order people read them back in
      const present = Object.keys(data).filter((k) => tags.includes(k));
      if (present.length === 1) chosen = tags.indexOf(present[0]);
      else problem = { kind: present.length === 0 ? 'none' : 'several', error: union, tags: tags.filter((t): t is string => !!t), present };
    } else {
      const index = branches.findIndex(
        (b) => branchTag(b) === undefined && typeMatches(b, data) && (!Array.isArray(b.enum) || b.enum.includes(data)),
      );
      if (index >= 0) chosen = index;
      else problem = { kind: 'none', error: union, tags: branches.map(branchTag).filter((t): t is string => !!t), present: [] };
    }
    const keep = chosen === undefined ? undefined : `${prefix}${chosen}/`;
    remaining = remaining.filter((e) => {
      if (e === union) return false;
      if (isUnionProblem(e)) return true;
      const inUnion = e.schemaPath.startsWith(prefix) && within(e.instancePath, union.instancePath);
      return !inUnion || (keep !== undefined && e.schemaPath.startsWith(keep));
    });
    if (problem) {
      // An unknown key beside the union already says what is wrong and what was expected.
      const unknownKeyBeside = remaining.some(
        (e) => !isUnionProblem(e) && e.keyword === 'additionalProperties' && e.instancePath === union.instancePath,
      );
      if (!(problem.kind === 'none' && unknownKeyBeside)) remaining.push(problem);
    }
  }
  return remaining;
}

function where(path: Path): string {
  return path.length === 0 ? 'at the top level' : `in \`${path.join('.')}\``;
}

function describeValue(data: unknown): string {
  if (data === null) return 'null';
  if (Array.isArray(data)) return 'a list';
  if (typeof data === 'object') return 'a mapping';
  if (typeof data === 'string') {
    const text = redactUrlCredentials(data);
    return `the string "${text.length > 40 ? text.slice(0, 37) + '...' : text}"`;
  }
  if (typeof data === 'number' || typeof data === 'boolean' || data === undefined) return `${typeof data} ${String(data)}`;
  return typeof data;
}

const typeNames: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function unionDiagnostic(problem: UnionProblem, doc: Document): Diagnostic {
  const path = pointerToPath(problem.error.instancePath);
  const data = problem.error.data;
  const label = path.length === 0 ? 'the pipeline' : `\`${path.join('.')}\``;
  if (problem.kind === 'several') {
    return diagnostic(
      'one-of',
      `${label} has ${listOf(problem.present)} together, but takes only one of them`,
      rangeOf(doc, path),
      `keep one of ${listOf(problem.present)}`,
    );
  }
  const bare = (problem.error.schema as JsonSchema[]).flatMap((b) => (b.enum as string[] | undefined) ?? []);
  if (typeof data === 'string' && bare.length > 0) {
    const hint =
      didYouMean(data, bare) ??
      `the aggregations that take an input are written as a mapping: ${problem.tags
        .slice(0, 3)
        .map((t) => `{ ${t}: field }`)
        .join(', ')}`;
    return diagnostic('invalid-value', `\`${data}\` is not an aggregation written alone (${listOf(bare)})`, rangeOf(doc, path), hint);
  }
  if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
    const besides = Object.keys((problem.error.parentSchema?.properties as object | undefined) ?? {});
    const stray = Object.keys(data).find((k) => !problem.tags.includes(k) && !besides.includes(k));
    const suggestion = stray === undefined ? undefined : didYouMean(stray, [...problem.tags, ...bare]);
    return diagnostic(
      'one-of',
      stray === undefined
        ? `${label} needs one of ${listOf(problem.tags)}`
        : `\`${stray}\` is not one of ${listOf(problem.tags)} ${where(path)}`,
      stray === undefined ? rangeOf(doc, path, 'key') : rangeOf(doc, [...path, stray], 'key'),
      suggestion,
    );
  }
  return diagnostic(
    'wrong-type',
    `${label} should be ${bare.length > 0 ? `${listOf(bare)} or ` : ''}a mapping such as { ${problem.tags[0]}: ... }, not ${describeValue(data)}`,
    rangeOf(doc, path),
  );
}

/** A value as a message may show it: never the value of a secret field (schema `writeOnly`). */
function shown(data: unknown, schema: JsonSchema): string {
  return schema.writeOnly === true ? 'the secret value (not shown)' : describeValue(data);
}

function toDiagnostic(e: Resolved, doc: Document): Diagnostic | undefined {
  if (isUnionProblem(e)) return unionDiagnostic(e, doc);
  const path = pointerToPath(e.instancePath);
  const parent = (e.parentSchema ?? {}) as JsonSchema;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((parent.properties as object | undefined) ?? {});
      return diagnostic(
        'unknown-key',
        `unknown key \`${key}\` ${where(path)}`,
        rangeOf(doc, [...path, key], 'key'),
        didYouMean(key, allowed) ?? (allowed.length > 0 ? `expected one of ${listOf(allowed)}` : 'this mapping takes no keys'),
      );
    }
    case 'required': {
      const missing = String(params.missingProperty);
      const described = ((parent.properties as Record<string, JsonSchema> | undefined)?.[missing]?.description as string | undefined) ?? '';
      return diagnostic(
        'missing-key',
        `\`${missing}\` is missing ${where(path)}`,
        rangeOf(doc, path, 'key'),
        described ? `${missing}: ${described.split('. ')[0].replace(/\.$/, '')}` : undefined,
      );
    }
    case 'type': {
      const expected = ([] as string[]).concat(params.type as string | string[]).map((t) => typeNames[t] ?? t);
      return diagnostic(
        'wrong-type',
        `${label(path)} should be ${expected.join(' or ')}, not ${shown(e.data, parent)}`,
        rangeOf(doc, path),
        parent.writeOnly === true && expected.includes('a string')
          ? 'quote the reference, as in "${VAR}", so that it stays a string'
          : undefined,
      );
    }
    case 'enum': {
      const allowed = [...new Set((params.allowedValues as unknown[]).map(String))];
      return diagnostic(
        'invalid-value',
        `${label(path)} must be one of ${listOf(allowed)}, not ${shown(e.data, parent)}`,
        rangeOf(doc, path),
        typeof e.data === 'string' ? didYouMean(e.data, allowed) : undefined,
      );
    }
    case 'pattern': {
      const propertyName = (e as ErrorObject & { propertyName?: string }).propertyName;
      if (propertyName !== undefined) {
        return diagnostic(
          'invalid-value',
          `\`${propertyName}\` is not a valid name ${where(path)}`,
          rangeOf(doc, [...path, propertyName], 'key'),
          'names start with a letter or _ and hold only letters, digits and _, so they can be used in expressions and documents',
        );
      }
      const isDuration = params.pattern === DURATION_PATTERN;
      const examples = (parent.examples as unknown[] | undefined)?.slice(0, 3).map(String);
      return diagnostic(
        'invalid-value',
        `${label(path)} is not a valid ${isDuration ? 'duration' : 'value'}: ${shown(e.data, parent)}`,
        rangeOf(doc, path),
        isDuration
          ? 'write a number and a unit: ms, s, m, h or d, such as 500ms, 10s, 1m'
          : examples
            ? `write it like ${examples.join(', ')}`
            : undefined,
      );
    }
    case 'propertyNames':
      return undefined; // the failing name is reported by its own pattern error
    default:
      return diagnostic('invalid-value', `${label(path)} ${e.message ?? 'is invalid'}`, rangeOf(doc, path), describedHint(parent));
  }
}

function describedHint(parent: JsonSchema): string | undefined {
  return typeof parent.description === 'string' ? parent.description.split('. ')[0] : undefined;
}

function label(path: Path): string {
  return path.length === 0 ? 'the pipeline' : `\`${path.join('.')}\``;
}

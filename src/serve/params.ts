import type { Plan } from '../engine/plan.js';
import { formatDuration, parseDuration } from '../config/duration.js';
import { DURATION_PATTERN } from '../components/fragments.js';
import type { JsonSchema } from '../json-schema.js';
import { BadRequest } from './query.js';
import type { Level } from '../engine/reader.js';
import { outputNames } from './outputs.js';

/** A time: ISO 8601 (a date, or a date and time with a zone), epoch milliseconds, `now`, or `now-<duration>`. */
export const TIME_PATTERN =
  '^(now(-[0-9]+(\\.[0-9]+)?(ms|s|m|h|d))?|[0-9]{1,15}|[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2}))?)$';

const timeParam = (description: string): JsonSchema => ({
  type: 'string',
  pattern: TIME_PATTERN,
  description: `${description}: ISO 8601 (\`2026-01-01T00:00:00Z\`), epoch milliseconds, \`now\` or \`now-24h\`.`,
});

const formatParam: JsonSchema = {
  type: 'string',
  enum: ['json', 'csv'],
  description: 'Response format; without it, `Accept: text/csv` selects CSV and anything else JSON.',
};

function keyParams(plan: Plan): Record<string, JsonSchema> {
  return Object.fromEntries(
    plan.groupBy.map((k) => [
      k.name,
      { type: 'string', minLength: 1, description: `Only windows whose \`${k.name}\` equals this value (others are merged).` },
    ]),
  );
}

/** The querystring schema of `/api/pipelines/<name>/series`; every parameter is checked by Fastify's ajv. */
export function seriesQuerySchema(plan: Plan, levels: readonly Level[]): JsonSchema {
  const names = outputNames(plan);
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      from: timeParam('Start of the range (inclusive; rounded down to the granularity). Default: 24 hours before `to`'),
      to: timeParam('End of the range (exclusive; rounded up to the granularity). Default: now'),
      granularity: {
        type: 'string',
        pattern: DURATION_PATTERN,
        description: `Length of one point, a whole multiple of the window (${levels[0].label}); stored levels: ${levels.map((l) => l.label).join(', ')}. Default: the coarsest stored level giving at least 24 points.`,
        examples: levels.map((l) => l.label),
      },
      fields: {
        type: 'string',
        pattern: `^(${names.join('|')})(,(${names.join('|')}))*$`,
        description: `Comma-separated outputs (aggregates and derived outputs) to return, of: ${names.join(', ')}. Default: all.`,
      },
      format: formatParam,
      ...keyParams(plan),
    },
  };
}

/** The querystring schema of `/api/pipelines/<name>/top`. */
export function topQuerySchema(plan: Plan): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['field', 'by'],
    properties: {
      field: { type: 'string', enum: outputNames(plan), description: 'The output (an aggregate or a derived output) to rank by.' },
      by: { type: 'string', enum: plan.groupBy.map((k) => k.name), description: 'The group key whose values are ranked.' },
      from: timeParam('Start of the range (inclusive; rounded down to the window). Default: 24 hours before `to`'),
      to: timeParam('End of the range (exclusive; rounded up to the window). Default: now'),
      limit: { type: 'integer', minimum: 1, maximum: 1000, default: 10, description: 'How many values to return.' },
      format: formatParam,
      ...keyParams(plan),
    },
  };
}

/** A time parameter as epoch ms; `now` is the time of the request. */
export function parseTime(parameter: string, text: string, now: number): number {
  if (text === 'now') return now;
  if (text.startsWith('now-')) return now - parseDuration(text.slice(4));
  if (/^[0-9]+$/.test(text)) return Number(text);
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new BadRequest(parameter, `${parameter} is not a valid time: ${JSON.stringify(text)}`);
  return ms;
}

export function timeRange(params: { from?: string; to?: string }, now = Date.now()): { from: number; to: number } {
  const to = params.to === undefined ? now : parseTime('to', params.to, now);
  const from = params.from === undefined ? to - 86_400_000 : parseTime('from', params.from, now);
  if (from >= to) throw new BadRequest('to', `to (${new Date(to).toISOString()}) must be after from (${new Date(from).toISOString()})`);
  return { from, to };
}

/** The granularity asked for, or the coarsest stored level giving at least 24 points in the range. */
export function granularity(text: string | undefined, levels: readonly Level[], from: number, to: number): number {
  if (text !== undefined) {
    const ms = parseDuration(text);
    if (ms <= 0 || ms % levels[0].sizeMs !== 0) {
      throw new BadRequest(
        'granularity',
        `granularity ${text} is not a whole multiple of the pipeline's window (${levels[0].label}); stored levels: ${levels.map((l) => l.label).join(', ')}`,
      );
    }
    return ms;
  }
  let chosen = levels[0].sizeMs;
  for (const level of levels) if ((to - from) / level.sizeMs >= 24) chosen = level.sizeMs;
  return chosen;
}

export { formatDuration };

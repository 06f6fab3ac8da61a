import { components } from '../components/registry.js';
import type { ComponentSpec, Slot } from '../components/spec.js';
import { aggregationKinds } from '../components/aggregations/index.js';
import type { JsonSchema } from '../json-schema.js';
import { DERIVED_DESCRIPTION, WHERE_DESCRIPTION } from '../schema/pipeline-schema.js';

const slotTitles: Record<Slot, string> = {
  source: 'Sources (`source:`, or each of `sources:`)',
  window: 'Windows (`window:`)',
  sink: 'Sinks (`sink:`, or each of `sinks:`)',
  deadLetter: 'Dead-letter destinations (`deadLetter:`)',
};

function cell(text: unknown): string {
  return (typeof text === 'string' ? text : '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function typeOf(schema: JsonSchema): string {
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => `\`${v}\``).join(' \\| ');
  if (schema.pattern === '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$') return 'duration';
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as JsonSchema[]).map(typeOf).join(' or ');
  return ([] as unknown[]).concat(schema.type ?? 'any').join(' or ');
}

function fieldTable(schema: JsonSchema): string[] {
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  if (!properties || Object.keys(properties).length === 0) return [];
  const required = (schema.required as string[] | undefined) ?? [];
  const rows = Object.entries(properties).map(
    ([name, field]) =>
      `| \`${name}\` | ${typeOf(field)} | ${required.includes(name) ? 'yes' : field.default === undefined ? '' : `\`${JSON.stringify(field.default)}\``} | ${cell(field.description)} |`,
  );
  return ['| field | type | required / default | description |', '| --- | --- | --- | --- |', ...rows];
}

function componentSection(spec: ComponentSpec): string[] {
  const lines = [`#### \`${spec.name}\``, '', spec.summary, ''];
  const table = fieldTable(spec.config);
  if (table.length > 0) lines.push(...table, '');
  else if (typeof spec.config.description === 'string') lines.push(`Value: ${typeOf(spec.config)}. ${spec.config.description}`, '');
  for (const example of spec.examples) {
    lines.push(
      `${example.title}:`,
      '',
      '```yaml',
      `${spec.slot}:`,
      ...example.yaml
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`),
      '```',
      '',
    );
  }
  return lines;
}

/** The component reference in README, generated from the registry so docs cannot drift from code. */
export function renderReference(): string {
  const lines: string[] = [];
  for (const slot of Object.keys(components) as Slot[]) {
    lines.push(`### ${slotTitles[slot]}`, '');
    for (const spec of components[slot]) lines.push(...componentSection(spec));
  }
  lines.push('### Aggregations (`aggregate:`)', '', '| aggregation | written as | options | state kept |', '| --- | --- | --- | --- |');
  for (const kind of aggregationKinds) {
    const written = kind.input === 'none' ? `\`out: ${kind.name}\`` : `\`out: { ${kind.name}: expression }\``;
    const options = Object.entries(kind.options)
      .map(
        ([name, s]) =>
          `\`${name}\` (${s.default === undefined ? 'no default' : `default ${JSON.stringify(s.default)}`}): ${cell(s.description)}`,
      )
      .join('<br>');
    lines.push(
      `| \`${kind.name}\` | ${written} | ${options} | ${cell(kind.summary)} ${cell(kind.describeState(defaults(kind.options)))} |`,
    );
  }
  lines.push(
    '',
    `**\`where\`**: any aggregation may take \`where: <predicate>\` (\`out: { count: true, where: 'type = "click"' }\`, \`out: { sum: bid, where: bid > 0.5 }\`). ${cell(WHERE_DESCRIPTION)}.`,
    '',
    `**Derived outputs**: \`out: { expression: clicks / imps }\`. ${cell(DERIVED_DESCRIPTION)}.`,
  );
  return lines.join('\n') + '\n';
}

function defaults(options: Record<string, JsonSchema>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(options)
      .filter(([, s]) => s.default !== undefined)
      .map(([n, s]) => [n, s.default]),
  );
}

const BEGIN = '<!-- BEGIN GENERATED REFERENCE (npm run schema) -->';
const END = '<!-- END GENERATED REFERENCE -->';

/** README with its generated section replaced by the current reference. */
export function withReference(readme: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README lacks the markers ${BEGIN} ... ${END}`);
  return `${readme.slice(0, start + BEGIN.length)}\n\n${renderReference()}\n${readme.slice(end)}`;
}

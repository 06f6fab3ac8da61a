/** A JSON Schema (2020-12) fragment, as plain data; kept loose on purpose so declarations read like the published file. */
export type JsonSchema = { [keyword: string]: unknown };

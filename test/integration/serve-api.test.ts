/**
 * The serving API against FerretDB with known data: records written through the real engine and
 * MongoDB sink (base minutes plus 1h and 1d rollups), then every endpoint's numbers compared with
 * a reference computed from the raw records (HLL uniques equal an HLL built directly from the
 * records of the whole period).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import type { FastifyInstance } from 'fastify';
import { getAggregationKind } from '../../src/components/aggregations/index.js';
import type { Plan } from '../../src/engine/plan.js';
import { assemble, closeParts } from '../../src/cli/assemble.js';
import { PipelineRun } from '../../src/engine/pipeline-run.js';
import type { Chunk, DeadLetter } from '../../src/engine/records.js';
import { silentLogger } from '../../src/log.js';
import { buildServer } from '../../src/serve/app.js';
import { servePipeline, type ServedPipeline } from '../../src/serve/catalog.js';
import { MongoReader } from '../../src/components/mongodb/reader.js';
import { CachedReader } from '../../src/serve/cache.js';
import type { LevelDoc } from '../../src/engine/reader.js';
import type { MongoSinkConfig } from '../../src/components/mongodb/sink.js';
import { compileText, ScriptedSource } from '../helpers/pipeline.js';
import { groupBy, seededRandom } from '../helpers/reference.js';
import { BrokenProxy, freePort } from '../helpers/proxy.js';
import { mongoUri, requireStack } from '../helpers/stack.js';
import { collectDeadLetters } from '../../src/components/dead-letters/memory.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 4, 1);
const database = `runnel_serve_${process.pid}_${Date.now().toString(36)}`;

interface Impression {
  timestamp: number;
  publisher: string;
  geo: string;
  bid: number;
  cookie: string;
}

/** 3000 impressions on 40 distinct minutes spread over two days and a bit (so every level has several windows). */
function records(): Impression[] {
  const r = seededRandom(21);
  const minutes = Array.from({ length: 40 }, (_, i) => T0 + Math.floor((i * 52 * HOUR) / 40 / MINUTE) * MINUTE + 7 * MINUTE);
  return Array.from({ length: 3000 }, (_, i) => ({
    timestamp: minutes[Math.floor((i * minutes.length) / 3000)] + Math.floor(r() * 59_000),
    publisher: `publisher_${1 + Math.floor(r() * 3)}`,
    geo: ['US', 'CA'][Math.floor(r() * 2)],
    bid: Math.floor(1 + r() * 999_999) / 1e6,
    cookie: `cookie_${Math.floor(r() * 800)}`,
  }));
}

const pipelineYaml = (name: string, sink: string, slot = 'sink') => `
name: ${name}
source: { stdin: {} }
time: { field: timestamp, format: epochMillis, maxOutOfOrder: 5s, allowedLateness: 1m }
window: { tumbling: 1m, rollups: [1h, 1d] }
groupBy: [publisher, geo]
aggregate:
  imps: count
  uniques: { approxDistinct: cookie }
  avgBid: { avg: bid }
  bigBids: { count: true, where: bid > 0.5 }
  bigShare: { expression: bigBids / imps }
${slot}:
${sink}
`;

const MONGO_SINK = `  mongodb: { uri: "${mongoUri()}", database: ${database}, collection: imps }
  document: { date: window.start, publisher: publisher, geo: geo, imps: imps, uniques: uniques, avgBid: avgBid }`;

/** The reference numbers of a set of records. */
function reference(group: Impression[]): { imps: number; uniques: number; avgBid: number | null; bigShare: number | null } {
  const hll = getAggregationKind('approxDistinct')!.create({});
  for (const r of group) hll.add(r.cookie, r.timestamp);
  return {
    imps: group.length,
    uniques: hll.result() as number,
    avgBid: group.length === 0 ? null : group.reduce((s, r) => s + r.bid, 0) / group.length,
    // of the merged counts, never a mean of finer windows' shares; no impressions, no share
    bigShare: group.length === 0 ? null : group.filter((r) => r.bid > 0.5).length / group.length,
  };
}

function assertClose(actual: unknown, expected: number | null, what: string): void {
  if (expected === null) return assert.equal(actual, null, what);
  assert.ok(typeof actual === 'number' && Math.abs(actual - expected) <= 1e-9, `${what}: ${String(actual)} vs ${expected}`);
}

/** The JSON bodies of the endpoints, as far as these tests read them. */
interface SeriesBody {
  level: string;
  fields: string[];
  points: { time: string; imps: number; uniques: number; avgBid: unknown; bigShare: unknown }[];
}
interface TopBody {
  levels: { level: string }[];
  top: Record<string, unknown>[];
}
interface ErrorBody {
  parameter: string;
  message: string;
}
interface PipelinesBody {
  pipelines: {
    name: string;
    granularities: { label: string; where: string }[];
    groupBy: string[];
    fields: { name: string; aggregation: string }[];
    extent: { from: string };
    queryable: boolean;
    notQueryable?: string;
    sinks: { name: string; component: string; config: Record<string, unknown>; queried: boolean }[];
  }[];
}
interface OpenApiBody {
  openapi: string;
  paths: Record<string, { get: { parameters: { name: string; schema: { enum?: string[] } }[] } }>;
}

const stack = await requireStack('mongodb');

describe('serving API against FerretDB', stack, () => {
  const data = records();
  let plan: Plan;
  // undefined until before() sets them: after() closes whatever it got to
  let app: FastifyInstance | undefined;
  let served: ServedPipeline[] | undefined;
  let mongo: MongoClient | undefined;

  const get = async (url: string, headers: Record<string, string> = {}) => app!.inject({ method: 'GET', url, headers });
  const json = async <T>(url: string): Promise<T> => {
    const res = await get(url);
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    return res.json<T>();
  };

  before(async () => {
    plan = compileText(pipelineYaml('imps', MONGO_SINK));
    // two batches, so the second merges into documents the first wrote, on every level
    const half = Math.floor(data.length / 2);
    const chunk = (from: number, to: number): Chunk => ({
      partition: 'p0',
      offsets: data.slice(from, to).map((_, i) => from + i),
      payloads: data.slice(from, to).map((r) => JSON.stringify(r)),
    });
    const deadLetters: DeadLetter[] = [];
    const parts = await assemble(plan, silentLogger, new AbortController().signal, {
      source: new ScriptedSource([[chunk(0, half)], [chunk(half, data.length)]]),
      deadLetters: collectDeadLetters(deadLetters),
    });
    try {
      await new PipelineRun(
        { ...plan, batch: { ...plan.batch, intervalMs: 10, maxRecords: half, maxHeldRecords: half } },
        parts,
        silentLogger,
        new AbortController().signal,
      ).run();
    } finally {
      await closeParts(parts);
    }
    assert.deepEqual(deadLetters, []);
    served = [
      await servePipeline(plan),
      await servePipeline(compileText(pipelineYaml('local', '  shown: { console: {} }\n  kept: { file: { path: out.jsonl } }', 'sinks'))),
    ];
    app = await buildServer({ pipelines: served });
    mongo = await new MongoClient(mongoUri()).connect();
  });

  after(async () => {
    await app?.close();
    for (const p of served ?? []) await p.reader?.close();
    await mongo
      ?.db(database)
      .dropDatabase()
      .catch(() => undefined);
    await mongo?.close();
  });

  test('each level holds one document per window and key, as the base collection does', async () => {
    const db = mongo!.db(database);
    for (const [collection, size] of [
      ['imps', MINUTE],
      ['imps_1h', HOUR],
      ['imps_1d', DAY],
    ] as const) {
      const expected = groupBy(data, (r) => `${Math.floor(r.timestamp / size) * size}|${r.publisher}|${r.geo}`);
      assert.equal(await db.collection(collection).countDocuments(), expected.size, collection);
    }
  });

  test('hourly series for one publisher and geo equals the reference, read from the 1h level', async () => {
    const from = T0;
    const to = T0 + 2 * DAY;
    const body = await json<SeriesBody>(
      `/api/pipelines/imps/series?from=${new Date(from).toISOString()}&to=${to}&granularity=1h&publisher=publisher_2&geo=CA`,
    );
    assert.equal(body.level, '1h');
    assert.equal(body.points.length, 48);
    const mine = data.filter((r) => r.publisher === 'publisher_2' && r.geo === 'CA');
    for (const point of body.points) {
      const start = Date.parse(point.time);
      const expected = reference(mine.filter((r) => r.timestamp >= start && r.timestamp < start + HOUR));
      assert.equal(point.imps, expected.imps, point.time);
      assert.equal(point.uniques, expected.uniques, point.time);
      assertClose(point.avgBid, expected.avgBid, point.time);
    }
  });

  test('granularities that are not stored merge finer levels: 2h and 3h from 1h, 30m from 1m, 1d stored', async () => {
    for (const [granularity, size, level] of [
      ['2h', 2 * HOUR, '1h'],
      ['3h', 3 * HOUR, '1h'],
      ['30m', 30 * MINUTE, '1m'],
      ['1d', DAY, '1d'],
    ] as const) {
      const body = await json<SeriesBody>(
        `/api/pipelines/imps/series?from=${T0}&to=${T0 + 3 * DAY}&granularity=${granularity}&publisher=publisher_1`,
      );
      assert.equal(body.level, level, granularity);
      const mine = data.filter((r) => r.publisher === 'publisher_1');
      let total = 0;
      for (const point of body.points) {
        const start = Date.parse(point.time);
        // no geo filter: both geos merged, uniques an HLL over the whole period and both geos
        const expected = reference(mine.filter((r) => r.timestamp >= start && r.timestamp < start + size));
        assert.equal(point.imps, expected.imps, `${granularity} ${point.time}`);
        assert.equal(point.uniques, expected.uniques, `${granularity} ${point.time}`);
        assertClose(point.avgBid, expected.avgBid, `${granularity} ${point.time}`);
        assertClose(point.bigShare, expected.bigShare, `${granularity} ${point.time}`);
        total += point.imps;
      }
      assert.equal(total, mine.length, granularity);
    }
  });

  test('daily uniques are the HLL merge of the minutes, never their sum', async () => {
    const body = await json<SeriesBody>(`/api/pipelines/imps/series?from=${T0}&to=${T0 + DAY}&granularity=1d&fields=uniques`);
    assert.deepEqual(body.fields, ['uniques']);
    const day = data.filter((r) => r.timestamp < T0 + DAY);
    assert.equal(body.points[0].uniques, reference(day).uniques);
    const minutes = await json<SeriesBody>(`/api/pipelines/imps/series?from=${T0}&to=${T0 + DAY}&granularity=1m&fields=uniques`);
    const summed = minutes.points.reduce((s, p) => s + p.uniques, 0);
    assert.ok(summed > body.points[0].uniques * 1.5, `summed minute uniques ${summed} would overcount ${body.points[0].uniques}`);
  });

  test("a day's derived share is its merged counts' ratio, not a mean of its hours' shares", async () => {
    const day = await json<SeriesBody>(`/api/pipelines/imps/series?from=${T0}&to=${T0 + DAY}&granularity=1d&fields=bigShare`);
    assert.deepEqual(Object.keys(day.points[0]), ['time', 'bigShare'], 'only the requested output, though it reads two aggregates');
    assertClose(day.points[0].bigShare, reference(data.filter((r) => r.timestamp < T0 + DAY)).bigShare, 'daily share');
    const hours = await json<SeriesBody>(`/api/pipelines/imps/series?from=${T0}&to=${T0 + DAY}&granularity=1h&fields=bigShare`);
    assert.ok(
      hours.points.some((p) => p.bigShare === null),
      'an hour without impressions has no share',
    );
    // the mean of the stored minute documents' shares: what merging derived values would give
    const perDocument = [
      ...groupBy(
        data.filter((r) => r.timestamp < T0 + DAY),
        (r) => `${Math.floor(r.timestamp / MINUTE)}|${r.publisher}|${r.geo}`,
      ).values(),
    ];
    const mean = perDocument.reduce((sum, group) => sum + reference(group).bigShare!, 0) / perDocument.length;
    assert.ok(Math.abs(mean - (day.points[0].bigShare as number)) > 1e-3, `the test data tells the two apart (${mean})`);
  });

  test('top-N over a range that is not day-aligned merges days, hours and minutes correctly', async () => {
    const from = T0 + 5 * HOUR + 30 * MINUTE;
    const to = T0 + 2 * DAY + 3 * HOUR + 10 * MINUTE;
    for (const field of ['imps', 'uniques', 'avgBid', 'bigShare'] as const) {
      const body = await json<TopBody>(`/api/pipelines/imps/top?field=${field}&by=publisher&from=${from}&to=${to}&limit=2`);
      assert.deepEqual(
        body.levels.map((l) => l.level),
        ['1m', '1h', '1d', '1h', '1m'],
      );
      const inRange = data.filter((r) => r.timestamp >= from && r.timestamp < to);
      const expected = [...groupBy(inRange, (r) => r.publisher)]
        .map(([publisher, group]) => ({ publisher, value: reference(group)[field] as number }))
        .sort((a, b) => b.value - a.value || (a.publisher < b.publisher ? -1 : 1))
        .slice(0, 2);
      assert.equal(body.top.length, 2);
      body.top.forEach((row, i) => {
        assert.equal(row.publisher, expected[i].publisher, `${field} rank ${i + 1}`);
        assertClose(row[field], expected[i].value, `${field} rank ${i + 1}`);
      });
    }
    const byGeo = await json<TopBody>(`/api/pipelines/imps/top?field=uniques&by=geo&publisher=publisher_3&from=${T0}&to=${T0 + 3 * DAY}`);
    for (const row of byGeo.top) {
      assert.equal(row.uniques, reference(data.filter((r) => r.publisher === 'publisher_3' && r.geo === row.geo)).uniques);
    }
  });

  test('CSV through format=csv or the Accept header', async () => {
    const url = `/api/pipelines/imps/series?from=${T0}&to=${T0 + 2 * DAY}&granularity=1d&fields=imps,avgBid`;
    const viaParam = await get(`${url}&format=csv`);
    assert.equal(viaParam.statusCode, 200);
    assert.match(viaParam.headers['content-type'] as string, /^text\/csv/);
    const lines = viaParam.body.trim().split('\n');
    assert.equal(lines[0], 'time,imps,avgBid');
    assert.equal(lines.length, 3);
    const [time, imps] = lines[1].split(',');
    assert.equal(time, new Date(T0).toISOString());
    assert.equal(Number(imps), data.filter((r) => r.timestamp < T0 + DAY).length);
    const viaAccept = await get(url, { accept: 'text/csv' });
    assert.equal(viaAccept.body, viaParam.body);
    const top = await get(`/api/pipelines/imps/top?field=imps&by=geo&from=${T0}&to=${T0 + 3 * DAY}`, { accept: 'text/csv' });
    assert.equal(top.body.split('\n')[0], 'rank,geo,imps');
  });

  test('bad requests get 400 naming the parameter, unknown pipelines 404', async () => {
    const cases: [string, string, RegExp][] = [
      ['/api/pipelines/imps/series?granularity=90s', 'granularity', /whole multiple of the pipeline's window \(1m\)/],
      ['/api/pipelines/imps/series?granularity=soon', 'granularity', /must be a duration/],
      ['/api/pipelines/imps/series?from=yesterday', 'from', /`from` must be ISO 8601/],
      ['/api/pipelines/imps/series?from=2026-05-02&to=2026-05-01', 'to', /must be after from/],
      ['/api/pipelines/imps/series?fields=imps,clicks', 'fields', /`fields` must be a comma-separated list/],
      ['/api/pipelines/imps/series?publsher=publisher_1', 'publsher', /unknown query parameter `publsher` \(did you mean `publisher`\?\)/],
      ['/api/pipelines/imps/series?from=0&to=2026-05-01&granularity=1m', 'granularity', /at most 10000/],
      ['/api/pipelines/imps/top?by=publisher', 'field', /`field` is required/],
      ['/api/pipelines/imps/top?field=clicks&by=publisher', 'field', /`field` must be one of `imps`, `uniques`, `avgBid`/],
      ['/api/pipelines/imps/top?field=imps&by=publisher&limit=0', 'limit', /`limit` must be >= 1/],
      ['/api/pipelines/imps/top?field=imps&by=publisher&limit=many', 'limit', /`limit` must be integer/],
      ['/api/pipelines/imps/top?field=imps&by=publisher&publisher=publisher_1', 'publisher', /cannot rank/],
    ];
    for (const [url, parameter, message] of cases) {
      const res = await get(url);
      assert.equal(res.statusCode, 400, `${url}: ${res.body}`);
      assert.equal(res.json<ErrorBody>().parameter, parameter, url);
      assert.match(res.json<ErrorBody>().message, message, url);
    }
    for (const url of ['/api/pipelines/imsp/series', '/api/pipelines/nope/top?field=imps', '/api/pipelines/imsp']) {
      const res = await get(url);
      assert.equal(res.statusCode, 404, url);
      assert.match(res.json<ErrorBody>().message, /unknown pipeline/);
    }
    assert.match((await get('/api/pipelines/imsp/series')).json<ErrorBody>().message, /did you mean `imps`\?/);
    const local = await get('/api/pipelines/local/series');
    assert.equal(local.statusCode, 409);
    assert.match(
      local.json<ErrorBody>().message,
      /console sink and the file sink, which keep nothing to query; only mongodb sinks can be queried/,
    );
  });

  test('the pipeline list, the OpenAPI document, /healthz and /metrics', async () => {
    const { pipelines } = await json<PipelinesBody>('/api/pipelines');
    const imps = pipelines.find((p) => p.name === 'imps')!;
    assert.deepEqual(
      imps.granularities.map((g) => [g.label, g.where]),
      [
        ['1m', `${database}.imps`],
        ['1h', `${database}.imps_1h`],
        ['1d', `${database}.imps_1d`],
      ],
    );
    assert.deepEqual(imps.groupBy, ['publisher', 'geo']);
    assert.deepEqual(
      imps.fields.map((f) => [f.name, f.aggregation]),
      [
        ['imps', 'count'],
        ['uniques', 'approxDistinct'],
        ['avgBid', 'avg'],
        ['bigBids', 'count'],
        ['bigShare', 'derived'],
      ],
    );
    assert.equal(imps.extent.from, new Date(T0).toISOString());
    assert.equal(imps.queryable, true);
    assert.deepEqual(imps.sinks, [
      {
        name: 'mongodb',
        component: 'mongodb',
        config: { uri: mongoUri(), database, collection: 'imps', writeBatchSize: 1000, connectTimeout: '15s' },
        queried: true,
      },
    ]);
    const local = pipelines.find((p) => p.name === 'local')!;
    assert.equal(local.queryable, false);
    assert.deepEqual(
      local.sinks.map((s) => [s.name, s.component, s.queried]),
      [
        ['shown', 'console', false],
        ['kept', 'file', false],
      ],
    );

    const openapi = await json<OpenApiBody>('/api/openapi.json');
    assert.equal(openapi.openapi, '3.1.0');
    const params = openapi.paths['/api/pipelines/imps/series'].get.parameters.map((p) => p.name);
    assert.deepEqual(params, ['from', 'to', 'granularity', 'fields', 'format', 'publisher', 'geo']);
    assert.deepEqual(openapi.paths['/api/pipelines/imps/top'].get.parameters.find((p) => p.name === 'field')!.schema.enum, [
      'imps',
      'uniques',
      'avgBid',
      'bigBids',
      'bigShare',
    ]);

    // 200 while the newest windows are read after the start ("warming"), then "ok"
    const healthz = () => json<{ status: string; pipelines: Record<string, string> }>('/healthz');
    const started = Date.now();
    let health = await healthz();
    while (health.pipelines.imps === 'warming' && Date.now() - started < 60_000) {
      assert.equal(health.status, 'warming');
      await new Promise((resolve) => setTimeout(resolve, 100));
      health = await healthz();
    }
    assert.deepEqual(health, { status: 'ok', pipelines: { imps: 'ok', local: 'not stored' } });
    const described = await json<{ serving: string; granularities: { inMemory: { loading: boolean } }[] }>('/api/pipelines/imps');
    assert.equal(described.serving, 'ready');
    assert.deepEqual(
      described.granularities.map((g) => g.inMemory.loading),
      [false, false, false],
    );
    const metrics = await get('/metrics');
    assert.match(metrics.headers['content-type'] as string, /^text\/plain/);
    for (const name of [
      'runnel_records_in_total',
      'runnel_sink_records_total',
      'runnel_sink_documents_written_total',
      'runnel_batch_duration_seconds_bucket',
      'runnel_sink_write_duration_seconds_bucket',
      'runnel_http_request_duration_seconds_bucket',
    ]) {
      assert.match(metrics.body, new RegExp(`^${name}\\{`, 'm'), name);
    }
    assert.match(metrics.body, /^runnel_sink_documents_written_total\{pipeline="imps",sink="mongodb",level="1h"\} \d+/m);
    assert.match(metrics.body, /# TYPE runnel_dead_letters_total counter/);
    assert.match(metrics.body, /# TYPE runnel_consumer_lag_records gauge/);
  });

  test('windows read one by one into memory, cold and warmed, equal what a range read finds', async () => {
    const inner = MongoReader.create(plan, plan.sinks[0].document, plan.sinks[0].config as MongoSinkConfig);
    const cache = new CachedReader(inner, plan, { refreshMs: 0, baseSpanMs: 6 * HOUR });
    try {
      const base = cache.levels[0];
      const aggregates = plan.aggregates;
      const text = (docs: LevelDoc[]) => docs.map((d) => JSON.stringify([d.windowStart, d.key, d.states.map((s) => s.result())])).sort();
      const ranges = [
        [T0, T0 + 3 * DAY, new Map<number, string>()],
        [T0 + 45 * HOUR - 13 * MINUTE, T0 + 52 * HOUR, new Map([[0, 'publisher_2']])],
        [
          T0 + 7 * MINUTE,
          T0 + 30 * HOUR,
          new Map([
            [0, 'publisher_1'],
            [1, 'CA'],
          ]),
        ],
      ] as const;
      // cold: each request reads the windows it needs
      for (const [from, to, filters] of ranges) {
        const expected = await inner.find(base, from, to, filters, aggregates);
        assert.ok(expected.length > 0);
        assert.deepEqual(text(await cache.find(base, from, to, filters, aggregates)), text(expected));
      }
      // warmed, without a request: the newest 6 hours of minutes, all of their documents
      const warmed = new CachedReader(MongoReader.create(plan, plan.sinks[0].document, plan.sinks[0].config as MongoSinkConfig), plan, {
        refreshMs: 0,
        baseSpanMs: 6 * HOUR,
      });
      try {
        for (let i = 0; i < 50 && warmed.warming(); i++) await warmed.refresh();
        assert.equal(warmed.warming(), false);
        // the last base window the runner published it stored
        const { extent } = (await inner.publishedStatus())!;
        const stored = await mongo!
          .db(database)
          .collection('imps')
          .countDocuments({ '_runnel.start': { $gte: new Date(extent!.last - 6 * HOUR) } });
        assert.ok(stored > 0);
        assert.equal(warmed.held()['1m'].documents, stored);
        for (const [from, to, filters] of ranges) {
          assert.deepEqual(
            text(await warmed.find(base, from, to, filters, aggregates)),
            text(await inner.find(base, from, to, filters, aggregates)),
          );
        }
      } finally {
        await warmed.close();
      }
      // the runner published the extent of what it stored, on the coarsest level's windows
      assert.deepEqual(await cache.extent(), await inner.extent());
    } finally {
      await cache.close();
    }
  });

  test('a database started after the API is found by the next query', async () => {
    const port = await freePort();
    const later = compileText(pipelineYaml('later', MONGO_SINK.replace(mongoUri(), `mongodb://127.0.0.1:${port}/?directConnection=true`)));
    const reader = MongoReader.create(later, later.sinks[0].document, later.sinks[0].config as MongoSinkConfig, 300);
    const proxy = new BrokenProxy();
    try {
      await assert.rejects(reader.ping(), /ECONNREFUSED/);
      await assert.rejects(reader.ping(), /ECONNREFUSED/); // still looking, not given up
      await proxy.start(new URL(mongoUri()), port);
      await reader.ping();
      const [first] = await reader.findStored(reader.levels[2], T0, T0 + 3 * DAY, new Map());
      assert.equal(first.windowStart, T0);
    } finally {
      await reader.close();
      await proxy.stop();
    }
  });
});

/**
 * The dashboard end to end in headless Chromium (Debian's `chromium`, driven by playwright-core):
 * a pipeline runs (generator -> FerretDB, with 1h and 1d rollups) while `runner serve` serves it;
 * the page must refresh the chart live, and once the run has drained, show exactly the series a
 * reference computes from the generated records. A screenshot goes to test-artifacts/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient } from 'mongodb';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ImpressionGenerator } from '../../src/components/sources/impressions.js';
import { impressionDefaults } from '../../src/components/sources/generator.js';
import { mongoUri, requireStack } from '../helpers/stack.js';

const CHROMIUM = '/usr/bin/chromium';
const root = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(root, 'dist/src/cli/main.js');
const artifacts = join(root, 'test-artifacts');
const run = `${process.pid}_${Date.now().toString(36)}`;
const database = `runnel_dashboard_${run}`;
const workDir = mkdtempSync(join(tmpdir(), 'runnel-dashboard-'));
const START = '2026-02-01T00:00:00Z';
const COUNT = 16_000;
const RATE = 800; // 20 s of wall-clock time
const EVENTS_PER_SECOND = 4; // 4000 s of event time: about 67 one-minute windows
const SEED = 9;
const MINUTE = 60_000;

/** Chromium missing: skip with one line locally, fail under CI=true (.ci/run installs it). */
function requireChromium(): { skip: string | false } {
  if (existsSync(CHROMIUM)) return { skip: false };
  const hint = `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)`;
  if (process.env.CI === 'true') {
    test('chromium is installed', () => {
      throw new Error(`${hint}; CI=true requires it`);
    });
  }
  return { skip: hint };
}

const pipelineYaml = `
name: dashboard
source:
  generator: { count: ${COUNT}, rate: ${RATE}, seed: ${SEED}, startTime: ${START}, eventsPerSecond: ${EVENTS_PER_SECOND}, publishers: 2 }
batch: { interval: 1s, maxRecords: 5000 }
time: { field: timestamp, format: epochMillis, maxOutOfOrder: 5s, allowedLateness: 1m }
filter: geo != "unknown"
window: { tumbling: 1m, rollups: [1h, 1d] }
groupBy: [publisher, geo]
aggregate:
  imps: count
  uniques: { approxDistinct: cookie }
  avgBid: { avg: bid }
sink:
  mongodb: { uri: "${mongoUri()}", database: ${database}, collection: imps }
  document: { date: window.start, publisher: publisher, geo: geo, imps: imps, uniques: uniques, avgBid: avgBid }
deadLetter: { file: { path: ${JSON.stringify(join(workDir, 'dead.jsonl'))} } }
`;

function spawnRunner(args: string[], label: string): ChildProcess {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: root,
    env: { ...process.env, RUNNEL_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    if (/"level":(4|5)\d/.test(text)) process.stderr.write(`[${label}] ${text}`);
  });
  return child;
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** The URL a `runner serve --port 0` logs once it listens. */
function listeningUrl(child: ChildProcess, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`runner serve did not listen within ${timeoutMs} ms: ${seen}`)), timeoutMs);
    child.stderr!.on('data', (text: string) => {
      seen += text;
      const match = /serving the API, metrics and dashboard on (http:\/\/[0-9.:]+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`runner serve exited with ${code}: ${seen}`)));
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

interface ChartState {
  refreshes: number;
  label: string;
  xs: number[];
  ys: (number | null)[];
  series: { from: string; to: string; granularity: string; filters: Record<string, string>; points: { time: string; imps: number }[] };
  status: string;
}

/** What the page exposes as `window.dashboard`, as far as these tests read it. */
interface DashboardGlobal {
  refreshes: number;
  chart?: { series: { label: string }[]; data: ArrayLike<number | null>[] } | null;
  series?: ChartState['series'] | null;
}

const chartState = (page: Page): Promise<ChartState | null> =>
  page.evaluate(() => {
    const d = (window as unknown as { dashboard?: DashboardGlobal }).dashboard;
    if (!d?.chart || !d.series) return null;
    return {
      refreshes: d.refreshes,
      label: d.chart.series[1].label,
      xs: Array.from(d.chart.data[0] as number[]),
      ys: Array.from(d.chart.data[1] as (number | null)[]),
      series: d.series,
      status: document.getElementById('status')!.textContent,
    };
  });

const sum = (ys: (number | null)[]) => ys.reduce<number>((s, y) => s + (y ?? 0), 0);

const stack = await requireStack('mongodb');
const browserReady = requireChromium();

describe('dashboard in headless Chromium', { skip: stack.skip || browserReady.skip }, () => {
  // undefined until before() starts them: after() stops what there is
  let server: ChildProcess | undefined;
  let runner: ChildProcess | undefined;
  let url: string;
  let browser: Browser | undefined;
  let page: Page;

  before(async () => {
    const dir = join(workDir, 'pipelines');
    mkdirSync(dir);
    writeFileSync(join(dir, 'dashboard.yaml'), pipelineYaml);
    mkdirSync(artifacts, { recursive: true });
    server = spawnRunner(['serve', dir, '--port', '0'], 'serve');
    url = await listeningUrl(server);
    runner = spawnRunner(['run', join(dir, 'dashboard.yaml')], 'run');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    page = await browser.newPage({ viewport: { width: 1100, height: 640 } });
    page.on('pageerror', (error) => process.stderr.write(`[page] ${error.message}\n`));
  });

  after(async () => {
    await browser?.close();
    runner?.kill('SIGTERM');
    server?.kill('SIGTERM');
    if (runner) await exitOf(runner);
    if (server) await exitOf(server);
    const mongo = await new MongoClient(mongoUri()).connect();
    await mongo
      .db(database)
      .dropDatabase()
      .catch(() => undefined);
    await mongo.close();
  });

  test('the chart refreshes live while the pipeline runs', async () => {
    await page.goto(url);
    assert.equal(await page.title(), 'Runnel dashboard');
    const first = await waitFor('a first chart with data', async () => {
      const s = await chartState(page);
      return s && sum(s.ys) > 0 ? s : undefined;
    });
    assert.ok((await page.locator('#chart canvas').count()) > 0, 'uPlot drew a canvas');
    assert.equal(runner!.exitCode, null, 'the pipeline is still running: make it slower');
    const later = await waitFor('a later refresh with more impressions', async () => {
      const s = await chartState(page);
      return s && s.refreshes > first.refreshes && sum(s.ys) > sum(first.ys) ? s : undefined;
    });
    assert.match(later.status, /running; [0-9,]+ records/);
  });

  test('after the run, the chart shows the reference series for a publisher and geo', async () => {
    assert.equal(await exitOf(runner!), 0, 'the run drains and exits 0');
    await page.reload();
    await waitFor('the status of the drained run', async () => /^drained/.test((await page.textContent('#status')) ?? ''));
    await page.selectOption('#range', '21600000'); // last 6 hours
    await page.selectOption('#granularity', '1m');
    await waitFor(
      'publisher values in the filter',
      async () => (await page.locator('#filter-publisher option[value="publisher_1"]').count()) > 0,
    );
    await page.selectOption('#filter-publisher', 'publisher_1');
    await page.selectOption('#filter-geo', 'CA');
    const shown = await waitFor('the filtered chart', async () => {
      const s = await chartState(page);
      return s && s.series.filters.geo === 'CA' && s.series.filters.publisher === 'publisher_1' && s.series.granularity === '1m'
        ? s
        : undefined;
    });
    assert.equal(shown.label, 'imps (publisher=publisher_1, geo=CA)');

    // the reference: the same generated records, bucketed per minute
    const generator = new ImpressionGenerator({
      ...impressionDefaults,
      seed: SEED,
      startTime: Date.parse(START),
      eventsPerSecond: EVENTS_PER_SECOND,
      publishers: 2,
    });
    const perMinute = new Map<number, number>();
    for (let i = 0; i < COUNT; i++) {
      const r = generator.next();
      if (r.publisher !== 'publisher_1' || r.geo !== 'CA') continue;
      const minute = Math.floor(r.timestamp / MINUTE) * MINUTE;
      perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
    }
    const from = Date.parse(shown.series.from);
    assert.deepEqual(
      shown.xs,
      shown.series.points.map((p) => Date.parse(p.time) / 1000),
      'x: one point per minute of the range',
    );
    const expected = shown.xs.map((x) => perMinute.get(x * 1000) ?? 0);
    assert.deepEqual(shown.ys, expected, 'y: impressions per minute of publisher_1 in CA');
    const total = [...perMinute].filter(([m]) => m >= from && m < Date.parse(shown.series.to)).reduce((s, [, n]) => s + n, 0);
    assert.equal(sum(shown.ys), total);
    assert.ok(total > 0);
    await page.screenshot({ path: join(artifacts, 'dashboard.png'), fullPage: true });
    // live refreshes keep the chosen series: no answer to an older request replaces it
    await waitFor('two more live refreshes', async () => ((await chartState(page))?.refreshes ?? 0) >= shown.refreshes + 2);
    const still = (await chartState(page))!;
    assert.equal(still.label, shown.label);
    assert.deepEqual(still.ys, expected);
    assert.match((await page.textContent('#summary')) ?? '', new RegExp(`sum of points ${total.toLocaleString('en-US')}`));
  });
});

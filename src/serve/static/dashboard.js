// The Runnel dashboard: pick a pipeline, a field, group-key filters and a range; the chart reads
// /api/pipelines/<name>/series and refreshes while the pipeline runs. Plain DOM and uPlot.
'use strict';
const $ = (id) => document.getElementById(id);
const state = { pipelines: [], pipeline: null, chart: null, timer: null, series: null, refreshes: 0, requests: 0 };
window.dashboard = state;

async function getJson(url) {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}

function option(value, text) {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = text ?? value;
  return o;
}

/** The end of the range: now, or the end of the stored data when that lies elsewhere (replayed or generated data). */
function rangeEnd(p) {
  const now = Date.now();
  if (!p.extent) return now;
  // the watermark says how far the data reach; the extent ends with the coarsest stored window
  const last = p.status?.watermark ? Math.min(Date.parse(p.status.watermark) + 60000, Date.parse(p.extent.to)) : Date.parse(p.extent.to);
  return last < now - 60000 || last > now + 60000 ? last : now;
}

async function loadPipelines() {
  const { pipelines } = await getJson('/api/pipelines');
  state.pipelines = pipelines;
  const select = $('pipeline');
  const previous = select.value;
  select.replaceChildren(...pipelines.map((p) => option(p.name, p.queryable ? p.name : `${p.name} (not stored)`)));
  if (previous && pipelines.some((p) => p.name === previous)) select.value = previous;
  else {
    const firstQueryable = pipelines.find((p) => p.queryable);
    if (firstQueryable) select.value = firstQueryable.name;
  }
  await choosePipeline();
}

async function choosePipeline() {
  const p = state.pipelines.find((x) => x.name === $('pipeline').value);
  state.pipeline = p;
  if (!p) return;
  $('field').replaceChildren(...p.fields.map((f) => option(f.name, `${f.name} (${f.aggregation})`)));
  $('granularity').replaceChildren(option('', 'auto'), ...p.granularities.map((g) => option(g.label)));
  const filters = $('filters');
  filters.replaceChildren();
  for (const key of p.groupBy) {
    const label = document.createElement('label');
    label.textContent = key + ' ';
    const select = document.createElement('select');
    select.id = `filter-${key}`;
    select.dataset.key = key;
    select.append(option('', '(all)'));
    select.addEventListener('change', refresh);
    label.append(select);
    filters.append(label);
  }
  // the chart does not wait for the filters' values (the server shares the windows both read)
  await Promise.all([loadKeyValues(), refresh()]);
}

/**
 * Offers each group key's values seen in the range (the API's top-N over all of them), the range
 * widened to whole windows of the level the chart reads: the server then reads no finer windows at
 * its edges than the chart does.
 */
async function loadKeyValues() {
  const p = state.pipeline;
  if (!p || !p.queryable) return;
  const end = rangeEnd(p);
  const span = Number($('range').value);
  // the API's automatic granularity: the coarsest level giving at least 24 points
  const size = p.granularities.reduce((chosen, g) => (span / g.sizeMs >= 24 ? g.sizeMs : chosen), p.granularities[0].sizeMs);
  const from = Math.floor((end - span) / size) * size;
  const to = Math.ceil(end / size) * size;
  await Promise.all(
    p.groupBy.map(async (key) => {
      try {
        const { top } = await getJson(`/api/pipelines/${p.name}/top?field=${p.fields[0].name}&by=${key}&limit=1000&from=${from}&to=${to}`);
        const select = $(`filter-${key}`);
        const chosen = select.value;
        const values = top.map((row) => String(row[key])).sort();
        select.replaceChildren(option('', '(all)'), ...values.map((v) => option(v)));
        if (values.includes(chosen)) select.value = chosen;
      } catch (err) {
        $('error').textContent = err.message;
      }
    }),
  );
}

function seriesUrl(p) {
  const to = rangeEnd(p);
  const from = to - Number($('range').value);
  const params = new URLSearchParams({ fields: $('field').value, from: String(from), to: String(to) });
  if ($('granularity').value) params.set('granularity', $('granularity').value);
  for (const select of document.querySelectorAll('#filters select')) if (select.value) params.set(select.dataset.key, select.value);
  return `/api/pipelines/${p.name}/series?${params}`;
}

function draw(series) {
  const field = series.fields[0];
  const xs = series.points.map((pt) => Date.parse(pt.time) / 1000);
  const ys = series.points.map((pt) => (typeof pt[field] === 'number' ? pt[field] : null));
  const data = [xs, ys];
  const filterText = Object.entries(series.filters).map(([k, v]) => `${k}=${v}`).join(', ') || 'all keys';
  const label = `${field} (${filterText})`;
  const width = Math.max(400, $('panel').clientWidth - 24);
  if (!state.chart || state.chart.series[1].label !== label) {
    state.chart?.destroy();
    state.chart = new uPlot(
      { width, height: 360, series: [{}, { label, stroke: '#2f6fdf', fill: '#2f6fdf22', width: 2, spanGaps: false }], axes: [{}, { size: 70 }], scales: { x: { time: true } } },
      data,
      $('chart'),
    );
  } else {
    state.chart.setData(data);
  }
}

async function refresh() {
  const p = state.pipeline;
  clearTimeout(state.timer);
  // a later refresh (a changed control, a live tick) supersedes any answer still on its way
  const token = ++state.requests;
  if (!p) return;
  try {
    if (!p.queryable) throw new Error(p.notQueryable);
    const series = await getJson(seriesUrl(p));
    if (token !== state.requests) return;
    state.series = series;
    state.refreshes++;
    draw(series);
    const total = series.points.reduce((s, pt) => s + (typeof pt[series.fields[0]] === 'number' ? pt[series.fields[0]] : 0), 0);
    $('summary').textContent = `${series.points.length} points of ${series.granularity} (read from the ${series.level} level, ${series.documents} documents), ${series.from} to ${series.to}; sum of points ${total.toLocaleString()}`;
    $('error').textContent = '';
  } catch (err) {
    if (token !== state.requests) return;
    $('error').textContent = err.message;
  }
  const every = Number($('live').value);
  if (every > 0) state.timer = setTimeout(liveTick, every);
}

/** A live tick: new status and extent (the range follows the data), then the series. */
async function liveTick() {
  try {
    const { pipelines } = await getJson('/api/pipelines');
    state.pipelines = pipelines;
    state.pipeline = pipelines.find((x) => x.name === $('pipeline').value) ?? state.pipeline;
    showStatus();
  } catch (err) {
    $('error').textContent = err.message;
  }
  await refresh();
}

function showStatus() {
  const s = state.pipeline?.status;
  $('status').textContent = !s
    ? 'no run status published'
    : `${s.state}; ${Number(s.records).toLocaleString()} records in ${s.batches} batches; last batch ${s.lastBatchAt ?? '–'}; watermark ${s.watermark ?? '–'}; lag ${s.totalLag}`;
}

$('pipeline').addEventListener('change', choosePipeline);
for (const id of ['field', 'granularity', 'live']) $(id).addEventListener('change', refresh);
$('range').addEventListener('change', async () => { await loadKeyValues(); await refresh(); });
loadPipelines().then(showStatus).catch((err) => { $('error').textContent = err.message; });

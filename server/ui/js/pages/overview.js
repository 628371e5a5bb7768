// Overview: /health, the store's gauges and, from /metrics polled every few
// seconds, appends/s and append latency over the last minutes (computed here
// from the counter and the histogram's buckets).

import * as api from '../api.js';
import { h, a, href, badge, num, bytes, duration, errorBox, every } from '../dom.js';
import * as prom from '../prom.js';
import { lineChart } from '../chart.js';
import { title } from '../router.js';

const KEEP_SEC = 900; // the longest window offered
const WINDOWS = { 60: '1 min', 300: '5 min', 900: '15 min' };
// Kept for the tab's life, so leaving the page and coming back keeps the curve.
const samples = []; // {t, values: [appends/s]} and latency {t, values: [mean ms, p99 ms]}
const latency = [];
let prev = null; // the last scrape: {t, appends, hist}

function sample(text, interval) {
  const m = prom.parse(text);
  const now = Date.now();
  const cur = { t: now, appends: prom.value(m, 'eventd_appends_total'), hist: prom.histogram(m, 'eventd_http_append_seconds') };
  if (prev && now - prev.t <= 3 * interval) {
    const dt = (now - prev.t) / 1000;
    const d = cur.appends >= prev.appends ? cur.appends - prev.appends : cur.appends;
    samples.push({ t: now, values: [d / dt] });
    const hd = prom.delta(prev.hist, cur.hist);
    const ms = (s) => (s === null ? null : s * 1000);
    latency.push({ t: now, values: hd.count ? [ms(hd.sum / hd.count), ms(prom.quantile(0.99, hd))] : [null, null] });
  }
  prev = cur;
  while (samples.length && samples[0].t < now - KEEP_SEC * 1000) samples.shift();
  while (latency.length && latency[0].t < now - KEEP_SEC * 1000) latency.shift();
  return m;
}

function card(label, value, id) {
  return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value', id }, value));
}

const fmtRate = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const fmtMs = (v) => (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(1) : v.toFixed(2)) + ' ms';

export async function render({ el, query, signal, setQuery }) {
  title('Overview');
  const interval = Math.max(1, Number(query.get('every')) || 3) * 1000;
  let windowSec = WINDOWS[query.get('window')] ? Number(query.get('window')) : 300;
  const windowIn = h('select', { id: 'chart-window' }, Object.entries(WINDOWS).map(([v, t]) => h('option', { value: v }, t)));
  windowIn.value = String(windowSec);
  const statusEl = h('span');
  const cards = h('div', { class: 'cards', id: 'health-cards' });
  const problems = h('div', { id: 'problems' });
  const healthErr = h('div');
  const store = h('div', { class: 'cards', id: 'store-cards' });
  const metricsErr = h('div');
  const projSummary = h('div', { id: 'projection-summary' });

  const rateChart = lineChart({ label: 'appends per second', series: ['appends/s'], format: fmtRate, windowSec, maxGapMs: 3 * interval });
  const latChart = lineChart({ label: 'append latency', series: ['mean', 'p99'], format: (v) => fmtMs(v), windowSec, maxGapMs: 3 * interval });
  const rateNow = h('b', { id: 'rate-now' }, '—');
  const meanNow = h('b', { id: 'latency-mean' }, '—');
  const p99Now = h('b', { id: 'latency-p99' }, '—');

  el.append(
    h('div', { class: 'spread' }, h('h1', null, 'Overview ', statusEl),
      h('span', { class: 'muted small' }, `refreshed every ${interval / 1000} s`)),
    healthErr, cards,
    h('div', { class: 'panel' }, h('h2', null, 'Problems'), problems),
    h('div', { class: 'panel' },
      h('div', { class: 'spread' }, h('h2', null, 'Appends'), h('label', { class: 'check' }, 'window ', windowIn)), metricsErr,
      h('div', { class: 'charts' },
        h('div', { class: 'chart', id: 'chart-rate' }, h('h3', null, 'Appends per second'), rateChart.el,
          h('div', { class: 'legend' }, h('span', null, h('span', { class: 'sw s0' }), 'appends/s ', rateNow))),
        h('div', { class: 'chart', id: 'chart-latency' }, h('h3', null, 'Append latency (HTTP, successful appends)'), latChart.el,
          h('div', { class: 'legend' },
            h('span', null, h('span', { class: 'sw s0' }), 'mean ', meanNow),
            h('span', null, h('span', { class: 'sw s1' }), 'p99 ', p99Now))))),
    h('div', { class: 'cols even' },
      h('div', { class: 'panel' }, h('h2', null, 'Store'), store),
      h('div', { class: 'panel' }, h('h2', null, 'Projections'), projSummary)),
  );

  const showHealth = async () => {
    try {
      const hl = await api.get('/health', { accept: [503], plain: true, signal });
      healthErr.replaceChildren();
      statusEl.replaceChildren(badge(hl.status));
      statusEl.id = 'health-status';
      cards.replaceChildren(
        card('Status', badge(hl.status), 'card-status'),
        card('Events', num(hl.totalEvents), 'card-events'),
        card('Streams', num(hl.totalStreams), 'card-streams'),
        card('Commands', num(hl.totalCommands), 'card-commands'),
        card('Head position', num(hl.headPosition), 'card-head'),
        card('Fsync policy', hl.fsync, 'card-fsync'),
        card('Data dir', bytes(hl.dataDirBytes), 'card-bytes'),
        card('Uptime', duration(hl.uptimeSeconds), 'card-uptime'),
      );
      problems.replaceChildren((hl.problems || []).length
        ? h('ul', { class: 'problems' }, hl.problems.map((p) => h('li', null, p)))
        : h('p', { class: 'muted' }, 'No problems reported.'));
    } catch (e) {
      if (e.name !== 'AbortError') healthErr.replaceChildren(errorBox(e));
    }
  };

  const draw = () => {
    const now = Date.now();
    rateChart.update(samples, now);
    latChart.update(latency, now);
  };
  windowIn.addEventListener('change', () => {
    windowSec = Number(windowIn.value);
    setQuery({ every: query.get('every'), window: windowSec === 300 ? '' : windowSec });
    rateChart.setWindow(windowSec);
    latChart.setWindow(windowSec);
    draw();
  });

  const showMetrics = async () => {
    try {
      const m = sample(await api.text('/metrics', { signal }), interval);
      metricsErr.replaceChildren();
      draw();
      const last = samples[samples.length - 1], lastLat = latency[latency.length - 1];
      rateNow.textContent = last ? fmtRate(last.values[0]) : '—';
      meanNow.textContent = lastLat && lastLat.values[0] !== null ? fmtMs(lastLat.values[0]) : '—';
      p99Now.textContent = lastLat && lastLat.values[1] !== null ? fmtMs(lastLat.values[1]) : '—';
      const policy = (m.get('eventd_fsync_policy_info') || [])[0];
      store.replaceChildren(
        card('Segments', num(prom.value(m, 'eventd_segments'))),
        card('Log on disk', bytes(prom.value(m, 'eventd_log_bytes'))),
        card('Index memory', bytes(prom.value(m, 'eventd_index_memory_bytes'))),
        card('Subscribers', num(prom.value(m, 'eventd_subscribers'))),
        card('Appends (total)', num(prom.value(m, 'eventd_appends_total'))),
        card('Fsync policy', policy ? policy.labels.policy : '—'),
      );
    } catch (e) {
      if (e.name !== 'AbortError') metricsErr.replaceChildren(errorBox(e));
    }
  };

  const showProjections = async () => {
    try {
      const { projections } = await api.get('/api/projections', { signal });
      const by = {};
      for (const p of projections) by[p.status] = (by[p.status] || 0) + 1;
      const bad = projections.filter((p) => p.status === 'error');
      projSummary.replaceChildren(
        h('div', { class: 'row' }, Object.entries(by).map(([s, n]) => h('span', null, badge(s), ' ', num(n)))),
        bad.length ? h('ul', { class: 'problems' }, bad.map((p) => h('li', null, a(href('projections', p.id), p.id), ': ', p.error || '')))
          : h('p', { class: 'muted' }, `${projections.length} projections, none in error.`),
      );
    } catch (e) {
      if (e.name !== 'AbortError') projSummary.replaceChildren(errorBox(e));
    }
  };

  every(interval, () => Promise.all([showHealth(), showMetrics(), showProjections()]), signal);
}

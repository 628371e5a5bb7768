// Live tail of $all over SSE (GET /api/subscribe), with filters. Pausing
// closes the subscription and remembers the position of the last event
// shown; resuming subscribes again from it (fromPosition), so the daemon
// catches up from disk and no event is lost or shown twice. A dropped
// connection is retried the same way. "Live" starts at the head read from
// /health just before subscribing, so even a pause before the first event
// resumes from there.

import * as api from '../api.js';
import * as sse from '../sse.js';
import { h, a, href, jsonView, time, compact, field, splitList, num } from '../dom.js';
import { title } from '../router.js';

const MAX_ROWS = 500;

export async function render({ el, query, signal, setQuery }) {
  title('Live tail');
  const typesIn = h('input', { id: 'tail-types', placeholder: 'e.g. UserCreated, UserUpdated', value: query.get('types') || '', spellcheck: 'false' });
  const prefixIn = h('input', { id: 'tail-prefix', placeholder: 'e.g. user-', value: query.get('prefix') || '', spellcheck: 'false' });
  const sysIn = h('input', { type: 'checkbox', id: 'tail-exclude-system', checked: query.get('system') !== 'show' });
  const startIn = h('select', { id: 'tail-start' },
    h('option', { value: 'live' }, 'now (live)'), h('option', { value: 'beginning' }, 'the beginning'), h('option', { value: 'position' }, 'after position…'));
  startIn.value = query.get('from') ? 'position' : 'live';
  const posIn = h('input', { type: 'number', id: 'tail-position', min: '0', value: query.get('from') || '0' });
  const applyB = h('button', { type: 'submit', class: 'primary', id: 'tail-apply' }, 'Apply');
  const pauseB = h('button', { type: 'button', id: 'tail-pause' }, 'Pause');
  const clearB = h('button', { type: 'button', id: 'tail-clear' }, 'Clear');
  const status = h('span', { id: 'tail-status', class: 'badge' });
  const note = h('span', { id: 'tail-note', class: 'muted small' });
  const count = h('span', { id: 'tail-count', class: 'muted small' });
  const rows = h('tbody', { id: 'tail-rows' });

  let conn = null; // the AbortController of the open subscription
  let last = null; // the position to resume after (the last event shown)
  let paused = false;
  let retries = 0;
  let shown = 0;
  let queue = [];
  let flushTimer = 0;
  let headPoll = null;

  const setStatus = (state, kind, text) => {
    status.textContent = state;
    status.className = 'badge ' + (kind || '');
    status.dataset.state = state;
    note.textContent = text || '';
  };
  const filters = () => ({
    eventTypes: splitList(typesIn.value).join(','),
    streamPrefix: prefixIn.value.trim(),
    excludeSystem: sysIn.checked ? 'true' : '',
  });

  function row(e) {
    const tr = h('tr', { class: 'clickable ev', dataset: { position: String(e.position), stream: e.streamId, type: e.eventType } },
      h('td', { class: 'num' }, num(e.position)),
      h('td', null, time(e.timestamp)),
      h('td', { class: 'wrap' }, a(href('streams', e.streamId), e.streamId)),
      h('td', null, e.eventType),
      h('td', { class: 'num' }, num(e.version)),
      h('td', { class: 'preview' }, compact(e.eventData)));
    tr.addEventListener('click', (ev) => {
      if (ev.target.closest('a')) return;
      const nx = tr.nextElementSibling;
      if (nx && nx.classList.contains('detail')) return nx.remove();
      tr.after(h('tr', { class: 'detail' }, h('td', { colspan: '6' },
        h('div', { class: 'small muted' }, 'eventId ', e.eventId, ' · schema v', String(e.schemaVersion)),
        jsonView(e.eventData), h('div', { class: 'small muted' }, 'metadata'), jsonView(e.metadata))));
    });
    return tr;
  }

  function flush() {
    clearTimeout(flushTimer);
    flushTimer = 0;
    const batch = queue.slice(-MAX_ROWS);
    queue = [];
    for (const e of batch) rows.prepend(row(e));
    let evs = rows.querySelectorAll('tr.ev');
    for (let i = evs.length - 1; i >= MAX_ROWS; i--) {
      const nx = evs[i].nextElementSibling;
      if (nx && nx.classList.contains('detail')) nx.remove();
      evs[i].remove();
    }
    evs = rows.querySelectorAll('tr.ev');
    count.textContent = `${num(shown)} received · ${evs.length} shown` + (shown > MAX_ROWS ? ` (the newest ${MAX_ROWS})` : '');
  }

  function onMessage(m) {
    if (!m.hasId && m.event === 'error') {
      let why = m.data;
      try { why = JSON.parse(m.data); } catch { /* keep the text */ }
      throw new Error('the daemon ended the subscription: ' + why);
    }
    let e;
    try { e = api.parseJSON(m.data); } catch { return; }
    if (!e || typeof e !== 'object') return;
    last = Number(m.id);
    shown++;
    queue.push(e);
    if (!flushTimer) flushTimer = setTimeout(flush, 50);
  }

  async function connect() {
    if (conn) conn.abort();
    const ac = new AbortController();
    conn = ac;
    setStatus('connecting', 'info');
    try {
      if (last === null) {
        if (startIn.value === 'beginning') last = 0;
        else if (startIn.value === 'position') last = Math.max(0, Number(posIn.value) || 0);
        else last = (await api.get('/health', { accept: [503], plain: true, signal: ac.signal })).headPosition;
      }
      await sse.open('/api/subscribe', { ...filters(), fromPosition: last }, {
        signal: ac.signal,
        onOpen: () => { retries = 0; setStatus('live', 'ok', `after position ${last}`); },
        onMessage,
      });
      throw new Error('the daemon closed the stream');
    } catch (e) {
      if (ac.signal.aborted) return; // paused, restarted, or the page was left
      flush();
      if ([400, 401, 403].includes(e.status)) {
        setStatus('stopped', 'bad', e.message);
        return;
      }
      const wait = Math.min(10, 2 ** retries++);
      setStatus('reconnecting', 'warn', `${e.message}; again in ${wait} s from position ${last}`);
      setTimeout(() => { if (conn === ac && !ac.signal.aborted) connect(); }, wait * 1000);
    }
  }

  function pause() {
    paused = true;
    if (conn) conn.abort();
    conn = null;
    flush();
    pauseB.textContent = 'Resume';
    setStatus('paused', 'warn', `after position ${last ?? '—'}; resuming continues from there`);
    headPoll = new AbortController();
    const stop = headPoll.signal;
    const tick = async () => {
      try {
        const hl = await api.get('/health', { accept: [503], plain: true, signal: stop });
        if (!stop.aborted && last !== null) {
          setStatus('paused', 'warn', `after position ${last}; the head is at ${hl.headPosition} (${hl.headPosition - last} newer, before filters)`);
        }
      } catch { /* shown on resume */ }
      if (!stop.aborted) setTimeout(tick, 2000);
    };
    tick();
  }

  function resume() {
    paused = false;
    if (headPoll) headPoll.abort();
    pauseB.textContent = 'Pause';
    connect();
  }

  const form = h('form', { id: 'tail-form' },
    h('div', { class: 'form-grid' },
      field('Event types', typesIn), field('Stream prefix', prefixIn), field('Start from', startIn), field('Position', posIn)),
    h('div', { class: 'row' }, h('label', { class: 'check' }, sysIn, 'exclude system streams ($…)'), applyB));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = filters();
    setQuery({ types: f.eventTypes, prefix: f.streamPrefix, system: sysIn.checked ? '' : 'show', from: startIn.value === 'position' ? posIn.value : '' });
    rows.replaceChildren();
    shown = 0;
    queue = [];
    last = null;
    flush();
    if (paused) resume();
    else connect();
  });
  pauseB.addEventListener('click', () => (paused ? resume() : pause()));
  clearB.addEventListener('click', () => { rows.replaceChildren(); shown = 0; flush(); });
  signal.addEventListener('abort', () => {
    if (conn) conn.abort();
    if (headPoll) headPoll.abort();
    clearTimeout(flushTimer);
  });

  el.append(
    h('h1', null, 'Live tail of $all'),
    h('div', { class: 'panel' }, form),
    h('div', { class: 'panel' },
      h('div', { class: 'spread' }, h('div', { class: 'row' }, status, note), h('div', { class: 'row' }, count, pauseB, clearB)),
      h('div', { class: 'table-wrap' }, h('table', null,
        h('thead', null, h('tr', null, ['Position', 'Time', 'Stream', 'Type', 'Version', 'Data'].map((t) => h('th', null, t)))),
        rows))),
  );
  flush();
  connect();
}

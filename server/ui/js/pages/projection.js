// One projection: its definition and progress (refreshed), its actions, its
// state (count) and its read model's items, queried with where filters or
// one key (GET /api/queries/{id}).

import * as api from '../api.js';
import { h, badge, num, time, table, jsonView, errorBox, field, every, busy } from '../dom.js';
import { title, go } from '../router.js';
import { actions } from './projections.js';

function summary(p) {
  const row = (k, v) => h('tr', null, h('th', null, k), h('td', { class: 'wrap' }, v));
  const list = (v) => (v === null || v === undefined ? h('span', { class: 'muted' }, '—') : Array.isArray(v) ? v.join(', ') : String(v));
  return h('div', { class: 'table-wrap' }, h('table', null, h('tbody', null,
    row('Name', p.name), row('Kind', p.kind), row('Status', h('span', { id: 'proj-status' }, badge(p.status))),
    row('Error', p.error ? h('span', { class: 'error-text', id: 'proj-error' }, p.error) : h('span', { class: 'muted' }, 'none')),
    row('Lag', h('span', { id: 'proj-lag' }, num(p.lag))),
    row('Processed', h('span', { id: 'proj-processed' }, num(p.eventsProcessed))),
    row('Position', `${num(p.lastProcessedPosition)} of ${num(p.headPosition)}`),
    row('Event types', list(p.eventTypes)), row('Stream prefix', list(p.streamPrefix)),
    row('Key by', list(p.keyBy)), row('Reducer', list(p.reducer)), row('Start from', list(p.startFrom)),
    p.keys !== undefined ? row('Keys', num(p.keys)) : null,
    row('Created', time(p.createdAt)), row('Updated', time(p.updatedAt)))));
}

export async function render({ el, params, query, signal, setQuery }) {
  const id = params.id;
  title(id);
  const info = h('div', { id: 'proj-summary' });
  const acts = h('div');
  const msg = h('div');
  const state = h('div', { id: 'proj-state' });

  const whereIn = h('textarea', { id: 'query-where', rows: '3', placeholder: 'one field:value per line, e.g.\nstatus:active', spellcheck: 'false' });
  whereIn.value = query.getAll('where').join('\n');
  const keyIn = h('input', { id: 'query-key', placeholder: 'one key (instead of where)', value: query.get('key') || '', spellcheck: 'false' });
  const limitIn = h('input', { id: 'query-limit', type: 'number', min: '1', max: '10000', value: query.get('limit') || '50' });
  const runB = h('button', { type: 'submit', class: 'primary', id: 'query-run' }, 'Query');
  const nextB = h('button', { type: 'button', id: 'query-next', disabled: true }, 'Next page →');
  const items = h('div', { id: 'query-items' });
  let cursor = '';
  let next = null;

  const load = async () => {
    if (el.querySelector('button.armed')) return;
    try {
      const p = await api.get('/api/projections/' + api.p(id), { signal });
      info.replaceChildren(summary(p));
      acts.replaceChildren(actions(p, async (verb) => {
        msg.replaceChildren();
        if (verb === 'delete') return go('#/projections');
        await load();
      }, (e) => msg.replaceChildren(errorBox(e))));
      state.replaceChildren(...(p.state !== undefined
        ? [h('h3', null, 'State'), jsonView(p.state)]
        : []));
    } catch (e) {
      if (e.name !== 'AbortError') info.replaceChildren(errorBox(e));
    }
  };

  async function runQuery() {
    const where = whereIn.value.split('\n').map((s) => s.trim()).filter(Boolean);
    const key = keyIn.value.trim();
    setQuery(key ? { key } : { where: where.join('\n'), limit: limitIn.value === '50' ? '' : limitIn.value });
    try {
      if (key) {
        const d = await api.get('/api/queries/' + api.p(id), { query: { key }, signal });
        next = null;
        items.replaceChildren(h('p', { class: 'muted small' }, `as of position ${d.position}`), h('h3', null, d.key), jsonView(d.value));
      } else {
        const d = await api.get('/api/queries/' + api.p(id), { query: { where, limit: limitIn.value, cursor }, signal });
        next = d.nextCursor || null;
        items.replaceChildren(
          h('p', { class: 'muted small' }, `${d.items.length} item${d.items.length === 1 ? '' : 's'} as of position ${d.position}` + (next ? '; more follow' : '')),
          d.items.length ? table([
            { title: 'Key', cell: (it) => h('span', { class: 'mono' }, it.key), class: 'wrap' },
            { title: 'Value', cell: (it) => jsonView(it.value) },
          ], d.items, (it) => ({ dataset: { key: it.key } })) : h('p', { class: 'muted' }, 'No items match.'));
      }
    } catch (e) {
      if (e.name !== 'AbortError') items.replaceChildren(errorBox(e));
      next = null;
    }
    nextB.disabled = !next;
  }
  const form = h('form', { id: 'query-form' },
    h('div', { class: 'cols even' }, field('Where (field:value, all must match)', whereIn),
      h('div', null, field('Key', keyIn), h('div', { class: 'row' }, field('Limit', limitIn)))),
    h('div', { class: 'row' }, runB, nextB));
  form.addEventListener('submit', (e) => { e.preventDefault(); cursor = ''; busy(runB, runQuery); });
  nextB.addEventListener('click', () => { if (next) { cursor = next; busy(nextB, runQuery); } });

  el.append(
    h('h1', null, h('a', { href: '#/projections' }, 'Projections'), ' / ', id),
    h('div', { class: 'cols' },
      h('div', { class: 'panel' }, h('div', { class: 'spread' }, h('h2', null, 'Status'), acts), msg, info, state),
      h('div', { class: 'panel' }, h('h2', null, 'Read model'), form, items)),
  );
  every(3000, load, signal);
  await runQuery();
}

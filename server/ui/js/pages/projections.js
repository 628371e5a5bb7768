// Projections: status, lag, processed and error of each (refreshed every few
// seconds), their actions, and a form to create one.

import * as api from '../api.js';
import { h, a, href, badge, num, table, errorBox, gated, field, every, confirmButton, splitList, busy } from '../dom.js';
import { title, go } from '../router.js';

// actions are the buttons of one projection; after one ran, done() reloads.
export function actions(p, done, onError) {
  const system = p.kind === 'system';
  const act = (verb) => async () => {
    try {
      if (verb === 'delete') await api.del('/api/projections/' + api.p(p.id));
      else await api.post('/api/projections/' + api.p(p.id) + '/' + verb);
      await done(verb);
    } catch (e) {
      onError(e);
    }
  };
  const btn = (verb, label, props = {}) => gated('admin', h('button', { type: 'button', dataset: { action: verb }, ...props, onclick: act(verb) }, label));
  const out = [];
  if (!system) {
    if (p.status === 'paused') out.push(btn('resume', 'Resume'));
    else out.push(btn('pause', 'Pause', { disabled: p.status === 'error', title: p.status === 'error' ? 'a projection in error cannot be paused: reset it' : null }));
  }
  out.push(gated('admin', confirmButton('Reset', 'Really reset?', act('reset'), { dataset: { action: 'reset' }, title: 'wipe the read model and rebuild it' })));
  if (!system) out.push(gated('admin', confirmButton('Delete', 'Really delete?', act('delete'), { class: 'danger', dataset: { action: 'delete' } })));
  return h('div', { class: 'row actions' }, out);
}

function createForm(onCreated) {
  const idIn = h('input', { id: 'new-proj-id', placeholder: 'optional: made by the server', spellcheck: 'false' });
  const nameIn = h('input', { id: 'new-proj-name', required: true });
  const kindIn = h('select', { id: 'new-proj-kind' }, h('option', { value: 'count' }, 'count'), h('option', { value: 'state' }, 'state'));
  const typesIn = h('input', { id: 'new-proj-types', placeholder: 'all types', spellcheck: 'false' });
  const prefixIn = h('input', { id: 'new-proj-prefix', placeholder: 'all streams', spellcheck: 'false' });
  const keyByIn = h('input', { id: 'new-proj-keyby', placeholder: 'stream id, or eventData.<field>', spellcheck: 'false' });
  const reducerIn = h('select', { id: 'new-proj-reducer' }, h('option', { value: '' }, "each stream's reducer"));
  const startIn = h('select', { id: 'new-proj-start' }, h('option', { value: 'beginning' }, 'the beginning'), h('option', { value: 'now' }, 'now'));
  const submit = h('button', { type: 'submit', class: 'primary', id: 'new-proj-create' }, 'Create projection');
  const out = h('div');
  const stateOnly = [keyByIn, reducerIn];
  const syncKind = () => { for (const c of stateOnly) c.disabled = kindIn.value !== 'state'; };
  kindIn.addEventListener('change', syncKind);
  syncKind();
  api.get('/api/reducers').then((d) => {
    for (const r of d.reducers) reducerIn.append(h('option', { value: r.name }, r.name));
  }).catch(() => {});

  const fs = gated('admin', h('fieldset', null,
    h('div', { class: 'form-grid' },
      field('Id', idIn), field('Name', nameIn), field('Kind', kindIn), field('Event types', typesIn),
      field('Stream prefix', prefixIn), field('Key by (state)', keyByIn), field('Reducer (state)', reducerIn), field('Start from', startIn)),
    h('div', { class: 'row' }, submit)));
  const form = h('form', { id: 'new-proj' }, fs, out);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy(submit, async () => {
      const body = { name: nameIn.value, kind: kindIn.value, startFrom: startIn.value };
      if (idIn.value.trim()) body.projectionId = idIn.value.trim();
      const types = splitList(typesIn.value);
      if (types.length) body.eventTypes = types;
      if (prefixIn.value.trim()) body.streamPrefix = prefixIn.value.trim();
      if (kindIn.value === 'state' && keyByIn.value.trim()) body.keyBy = keyByIn.value.trim();
      if (kindIn.value === 'state' && reducerIn.value) body.reducer = reducerIn.value;
      try {
        const p = await api.post('/api/projections', body);
        onCreated(p);
      } catch (err) {
        out.replaceChildren(errorBox(err));
      }
    });
  });
  return form;
}

export async function render({ el, signal }) {
  title('Projections');
  const list = h('div', { id: 'projection-list' });
  const msg = h('div');
  const load = async () => {
    if (el.querySelector('button.armed')) return; // do not redraw under a half-confirmed action
    try {
      const { projections } = await api.get('/api/projections', { signal });
      list.replaceChildren(table([
        { title: 'Id', cell: (p) => a(href('projections', p.id), p.id), class: 'id' },
        { title: 'Name', cell: (p) => p.name },
        { title: 'Kind', cell: (p) => p.kind },
        { title: 'Status', cell: (p) => h('span', { class: 'status' }, badge(p.status)) },
        { title: 'Lag', cell: (p) => num(p.lag), class: 'num' },
        { title: 'Processed', cell: (p) => num(p.eventsProcessed), class: 'num' },
        { title: 'Position', cell: (p) => num(p.lastProcessedPosition), class: 'num' },
        { title: 'Error', cell: (p) => (p.error ? h('span', { class: 'error-text proj-error' }, p.error) : '') },
        { title: '', cell: (p) => actions(p, async () => { msg.replaceChildren(); await load(); }, (e) => msg.replaceChildren(errorBox(e))) },
      ], projections, (p) => ({ dataset: { id: p.id, status: p.status } })));
    } catch (e) {
      if (e.name !== 'AbortError') list.replaceChildren(errorBox(e));
    }
  };
  el.append(
    h('h1', null, 'Projections'),
    h('div', { class: 'panel' }, msg, list),
    h('div', { class: 'panel' }, h('h2', null, 'New projection'), createForm((p) => go(href('projections', p.id)))),
  );
  every(3000, load, signal);
}

// One stream: its events (newest or oldest first, paged both ways, upcast
// on or off), a replay to a chosen version showing the state, and its
// snapshots.

import * as api from '../api.js';
import { h, a, href, badge, jsonView, time, num, bytes, table, errorBox, gated, field, busy } from '../dom.js';
import { title } from '../router.js';

function eventCard(e, replayTo) {
  const md = e.metadata && typeof e.metadata === 'object' ? e.metadata : {};
  return h('div', { class: 'event', dataset: { version: String(e.version), type: e.eventType } },
    h('div', { class: 'event-head' },
      badge('v' + e.version, 'info'),
      h('span', { class: 'type' }, e.eventType),
      h('span', { class: 'meta' }, 'position ', num(e.position)),
      h('span', { class: 'meta' }, time(e.timestamp)),
      e.schemaVersion > 1 ? h('span', { class: 'meta' }, 'schema v' + e.schemaVersion) : null,
      h('span', { class: 'meta mono' }, e.eventId),
      gated('write', h('button', { type: 'button', class: 'small', dataset: { action: 'state-here' }, onclick: () => replayTo(e.version) }, 'State here')),
    ),
    jsonView(e.eventData, { class: 'json event-data' }),
    Object.keys(md).length ? h('details', null, h('summary', null, 'metadata'), jsonView(md)) : h('div', { class: 'muted small' }, 'no metadata'),
  );
}

export async function render({ el, params, query, signal, setQuery }) {
  const id = params.id;
  const sp = api.p(id);
  title(id);
  let order = query.get('order') === 'oldest' ? 'oldest' : 'newest';
  let upcast = query.get('upcast') !== 'false';
  let limit = Number(query.get('limit')) || 20;
  let from = query.get('from') || '';
  const back = [];
  let next = null;

  const head = h('div', { id: 'stream-head' });
  el.append(h('h1', null, h('a', { href: '#/streams' }, 'Streams'), ' / ', h('span', { id: 'stream-id' }, id)), head);

  let info;
  try {
    info = await api.get('/api/streams/' + sp, { signal });
  } catch (e) {
    if (e.status === 404) {
      head.append(h('div', { class: 'panel' }, h('p', null, 'The stream ', h('b', null, id), ' has no events (a stream with no events does not exist).')));
      return;
    }
    throw e;
  }
  head.append(h('div', { class: 'cards' },
    h('div', { class: 'card' }, h('div', { class: 'label' }, 'Current version'), h('div', { class: 'value', id: 'stream-version' }, num(info.currentVersion))),
    h('div', { class: 'card' }, h('div', { class: 'label' }, 'Created'), h('div', null, time(info.createdAt))),
    h('div', { class: 'card' }, h('div', { class: 'label' }, 'Updated'), h('div', null, time(info.updatedAt))),
  ));

  // events
  const orderIn = h('select', { id: 'event-order' }, h('option', { value: 'newest' }, 'Newest first'), h('option', { value: 'oldest' }, 'Oldest first'));
  orderIn.value = order;
  const upcastIn = h('input', { type: 'checkbox', id: 'event-upcast', checked: upcast });
  const limitIn = h('select', { id: 'event-limit' }, [...new Set([10, 20, 50, 100, limit])].sort((x, y) => x - y).map((n) => h('option', { value: String(n) }, String(n))));
  limitIn.value = String(limit);
  const firstB = h('button', { type: 'button', id: 'events-first' }, order === 'newest' ? 'Newest' : 'Oldest');
  const prevB = h('button', { type: 'button', id: 'events-prev' }, '← Previous page');
  const nextB = h('button', { type: 'button', id: 'events-next' }, 'Next page →');
  const pageInfo = h('span', { class: 'muted small', id: 'events-info' });
  const list = h('div', { id: 'event-list' });

  async function loadEvents() {
    setQuery({ order: order === 'newest' ? '' : order, upcast: upcast ? '' : 'false', limit: limit === 20 ? '' : limit, from });
    firstB.textContent = order === 'newest' ? 'Newest' : 'Oldest';
    try {
      const d = await api.get('/api/events/' + sp, {
        query: { direction: order === 'newest' ? 'backward' : 'forward', limit, fromVersion: from, upcast: upcast ? '' : 'false' }, signal,
      });
      next = d.nextFromVersion ?? null;
      list.replaceChildren(...(d.events.length ? d.events.map((e) => eventCard(e, replayTo)) : [h('p', { class: 'muted' }, 'No events on this page.')]));
      const vs = d.events.map((e) => e.version);
      pageInfo.textContent = vs.length ? `versions ${Math.min(...vs)}–${Math.max(...vs)} of ${d.currentVersion}` + (upcast ? '' : ' · as stored') : '';
    } catch (e) {
      if (e.name === 'AbortError') return;
      next = null;
      list.replaceChildren(errorBox(e));
    }
    prevB.disabled = back.length === 0;
    nextB.disabled = next === null;
    firstB.disabled = !from;
  }
  const restart = () => { from = ''; back.length = 0; loadEvents(); };
  orderIn.addEventListener('change', () => { order = orderIn.value; restart(); });
  upcastIn.addEventListener('change', () => { upcast = upcastIn.checked; loadEvents(); });
  limitIn.addEventListener('change', () => { limit = Number(limitIn.value); restart(); });
  firstB.addEventListener('click', restart);
  nextB.addEventListener('click', () => { if (next !== null) { back.push(from); from = String(next); loadEvents(); } });
  prevB.addEventListener('click', () => { if (back.length) { from = back.pop(); loadEvents(); } });

  // replay
  const toIn = h('input', { type: 'number', id: 'replay-to', min: '1', max: String(info.currentVersion), value: String(info.currentVersion) });
  const reducerIn = h('select', { id: 'replay-reducer' }, h('option', { value: '' }, "the stream's reducer"));
  const snapIn = h('input', { type: 'checkbox', id: 'replay-snapshot', checked: true });
  const replayB = gated('write', h('button', { type: 'submit', class: 'primary', id: 'replay-run' }, 'Replay'));
  const replayOut = h('div', { id: 'replay-result' });
  const replayForm = h('form', null,
    h('div', { class: 'row' }, field('To version', toIn), field('Reducer', reducerIn)),
    h('div', { class: 'row' }, h('label', { class: 'check' }, snapIn, 'start from a snapshot if one fits'), replayB),
  );
  async function replay() {
    try {
      const body = { toVersion: Number(toIn.value), useSnapshot: snapIn.checked, includeEvents: false };
      if (reducerIn.value) body.reducer = reducerIn.value;
      const r = await api.post('/api/events/' + sp + '/replay', body, { signal });
      replayOut.replaceChildren(
        h('p', null, 'State at version ', h('b', { id: 'replay-version' }, String(r.toVersion)), ' — ',
          r.snapshotVersion === null ? 'folded from the first event' : `from the snapshot at version ${r.snapshotVersion}`,
          `, ${r.eventsApplied} event${r.eventsApplied === 1 ? '' : 's'} applied.`),
        jsonView(r.finalState, { id: 'replay-state' }),
      );
    } catch (e) {
      if (e.name !== 'AbortError') replayOut.replaceChildren(errorBox(e));
    }
  }
  replayForm.addEventListener('submit', (e) => { e.preventDefault(); busy(replayB, replay); });
  function replayTo(v) {
    toIn.value = String(v);
    replayB.scrollIntoView({ block: 'nearest' });
    busy(replayB, replay);
  }

  // snapshots
  const snaps = h('div', { id: 'snapshot-list' });
  const takeB = gated('write', h('button', { type: 'button', id: 'snapshot-take' }, 'Take a snapshot now'));
  async function loadSnapshots() {
    try {
      const d = await api.get('/api/snapshots/' + sp, { signal });
      snaps.replaceChildren(
        d.snapshots.length ? table([
          { title: 'Version', cell: (s) => num(s.version), class: 'num' },
          { title: 'Reducer', cell: (s) => s.reducer },
          { title: 'Source', cell: (s) => s.source },
          { title: 'Created', cell: (s) => time(s.createdAt) },
          { title: 'Size', cell: (s) => bytes(s.sizeBytes), class: 'num' },
        ], d.snapshots) : h('p', { class: 'muted' }, 'No snapshots of this stream.'),
        d.latest ? h('details', null, h('summary', null, `latest (version ${d.latest.version}) state`), jsonView(d.latest.data)) : null,
      );
    } catch (e) {
      if (e.name !== 'AbortError') snaps.replaceChildren(errorBox(e));
    }
  }
  takeB.addEventListener('click', () => busy(takeB, async () => {
    try {
      await api.post('/api/snapshots', { streamId: id }, { signal });
      await loadSnapshots();
    } catch (e) {
      if (e.name !== 'AbortError') snaps.prepend(errorBox(e));
    }
  }));

  el.append(h('div', { class: 'cols' },
    h('div', { class: 'panel' },
      h('div', { class: 'spread' }, h('h2', null, 'Events'), pageInfo),
      h('div', { class: 'row' }, field('Order', orderIn), field('Per page', limitIn),
        h('label', { class: 'check', title: 'off: the events as stored, before the upcaster chains' }, upcastIn, 'upcast')),
      h('div', { class: 'row' }, firstB, prevB, nextB),
      list),
    h('div', null,
      h('div', { class: 'panel' }, h('h2', null, 'Replay'), h('p', { class: 'muted small' }, 'Rebuild the state at a version (POST …/replay; writes nothing).'), replayForm, replayOut),
      h('div', { class: 'panel' }, h('div', { class: 'spread' }, h('h2', null, 'Snapshots'), takeB), snaps)),
  ));

  api.get('/api/reducers', { signal }).then((d) => {
    for (const r of d.reducers) reducerIn.append(h('option', { value: r.name }, r.name + (r.category ? ` (category ${r.category})` : '')));
  }).catch(() => {});
  await Promise.all([loadEvents(), loadSnapshots()]);
}

// Streams: prefix search over GET /api/streams, paged with its cursors.

import * as api from '../api.js';
import { h, a, href, table, time, num, errorBox, field } from '../dom.js';
import { title } from '../router.js';

export async function render({ el, query, signal, setQuery }) {
  title('Streams');
  let prefix = query.get('prefix') || '';
  let limit = Number(query.get('limit')) || 50;
  let cursor = query.get('cursor') || '';
  const back = []; // the cursors of the pages before this one

  const prefixIn = h('input', { id: 'stream-prefix', type: 'search', placeholder: 'e.g. user- or $', value: prefix, spellcheck: 'false' });
  const sizes = [...new Set([10, 25, 50, 100, 500, limit])].sort((x, y) => x - y);
  const limitIn = h('select', { id: 'stream-limit' }, sizes.map((n) => h('option', { value: String(n) }, String(n))));
  limitIn.value = String(limit);
  const list = h('div', { id: 'stream-list' });
  const prevB = h('button', { type: 'button', id: 'streams-prev' }, '← Previous');
  const nextB = h('button', { type: 'button', id: 'streams-next' }, 'Next →');
  const firstB = h('button', { type: 'button', id: 'streams-first' }, 'First page');
  const info = h('span', { class: 'muted small', id: 'streams-info' });
  let next = null;

  async function load() {
    setQuery({ prefix, limit: limit === 50 ? '' : limit, cursor });
    try {
      const d = await api.get('/api/streams', { query: { prefix, limit, cursor }, signal });
      next = d.nextCursor || null;
      const rows = d.streams;
      list.replaceChildren(rows.length
        ? table([
          { title: 'Stream', cell: (s) => a(href('streams', s.streamId), s.streamId), class: 'wrap' },
          { title: 'Version', cell: (s) => num(s.currentVersion), class: 'num' },
          { title: 'Created', cell: (s) => time(s.createdAt) },
          { title: 'Updated', cell: (s) => time(s.updatedAt) },
        ], rows, (s) => ({ dataset: { stream: s.streamId } }))
        : h('p', { class: 'muted' }, prefix ? `No stream starts with "${prefix}".` : 'No streams yet.'));
      info.textContent = `${rows.length} stream${rows.length === 1 ? '' : 's'} on this page` + (next ? ', more follow' : '');
    } catch (e) {
      if (e.name === 'AbortError') return;
      next = null;
      list.replaceChildren(errorBox(e));
      info.textContent = '';
    }
    prevB.disabled = back.length === 0;
    firstB.disabled = !cursor;
    nextB.disabled = !next;
  }

  let timer = null;
  prefixIn.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => { prefix = prefixIn.value.trim(); cursor = ''; back.length = 0; load(); }, 250);
  });
  limitIn.addEventListener('change', () => { limit = Number(limitIn.value); cursor = ''; back.length = 0; load(); });
  nextB.addEventListener('click', () => { if (next) { back.push(cursor); cursor = next; load(); } });
  prevB.addEventListener('click', () => { if (back.length) { cursor = back.pop(); load(); } });
  firstB.addEventListener('click', () => { cursor = ''; back.length = 0; load(); });

  el.append(
    h('h1', null, 'Streams'),
    h('div', { class: 'panel' },
      h('div', { class: 'row' }, field('Stream id prefix', prefixIn), field('Per page', limitIn)),
      h('p', { class: 'muted small' }, 'Streams are listed in id order; system streams start with $.')),
    h('div', { class: 'panel' },
      h('div', { class: 'spread' }, info, h('div', { class: 'row' }, firstB, prevB, nextB)),
      list),
  );
  await load();
}

// registry.js: the pages of definitions registered with PUT (schemas,
// reducers, command handlers): a list, one definition shown, and a JSON
// editor that registers one. Each page module passes its own config.

import * as api from './api.js';
import { h, a, href, table, jsonView, errorBox, success, gated, field, busy } from './dom.js';
import { title } from './router.js';

// cfg: {kind, title, api (path), listKey, nameOf(item), nameLabel, columns,
// detail(item) → node, bodyOf(item) → the PUT body, template, help}
export function registryPage(cfg) {
  return async function render({ el, params, signal }) {
    const name = params.name || '';
    title(name ? `${cfg.title}: ${name}` : cfg.title);
    const list = h('div', { id: cfg.kind + '-list' });
    const detail = h('div', { id: cfg.kind + '-detail' });

    const nameIn = h('input', { id: 'edit-name', value: name, placeholder: cfg.nameLabel, spellcheck: 'false' });
    const bodyIn = h('textarea', { id: 'edit-body', rows: '16', spellcheck: 'false' });
    bodyIn.value = JSON.stringify(cfg.template, null, 2);
    const formatB = h('button', { type: 'button', id: 'edit-format' }, 'Format JSON');
    const putB = h('button', { type: 'submit', class: 'primary', id: 'edit-put' }, 'Register (PUT)');
    const out = h('div', { id: 'edit-result' });

    formatB.addEventListener('click', () => {
      try { bodyIn.value = JSON.stringify(api.parseJSON(bodyIn.value), null, 2); out.replaceChildren(); } catch (e) { out.replaceChildren(errorBox('not JSON: ' + e.message)); }
    });
    const form = h('form', { id: 'edit-form' }, gated('admin', h('fieldset', null,
      field(cfg.nameLabel, nameIn), field('Definition (the PUT body, JSON)', bodyIn),
      h('div', { class: 'row' }, formatB, putB))), out);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(putB, async () => {
        const n = nameIn.value.trim();
        let v;
        try { v = JSON.parse(bodyIn.value); } catch (err) { out.replaceChildren(errorBox('not JSON: ' + err.message)); return; }
        if (!n) { out.replaceChildren(errorBox(cfg.nameLabel + ' is required')); return; }
        if (!v || typeof v !== 'object' || Array.isArray(v)) { out.replaceChildren(errorBox('the definition must be a JSON object')); return; }
        try {
          // Sent as typed: the text, not a re-encoding, so numbers keep their spelling.
          const { status, data } = await api.put(cfg.api + '/' + api.p(n), bodyIn.value, { full: true, signal });
          out.replaceChildren(
            success(status === 201 ? `${status} — ${n} registered.` : `${status} — ${n} replaced (or unchanged).`,
              n !== name ? [' ', a(href(cfg.kind, n), 'Open it')] : null),
            jsonView(data));
          await Promise.all([loadList(), loadDetail()]);
        } catch (err) {
          if (err.name !== 'AbortError') out.replaceChildren(errorBox(err));
        }
      });
    });

    async function loadList() {
      try {
        const d = await api.get(cfg.api, { signal });
        const items = d[cfg.listKey];
        list.replaceChildren(items.length ? table([
          { title: cfg.nameLabel, cell: (x) => a(href(cfg.kind, cfg.nameOf(x)), cfg.nameOf(x)), class: 'wrap' },
          ...cfg.columns,
        ], items, (x) => ({ dataset: { name: cfg.nameOf(x) } })) : h('p', { class: 'muted' }, `No ${cfg.title.toLowerCase()} yet.`));
      } catch (e) {
        if (e.name !== 'AbortError') list.replaceChildren(errorBox(e));
      }
    }
    async function loadDetail() {
      if (!name) return;
      try {
        const item = await api.get(cfg.api + '/' + api.p(name), { signal });
        detail.replaceChildren(h('h2', null, name), cfg.detail(item));
        const body = cfg.bodyOf(item);
        if (body) bodyIn.value = JSON.stringify(body, null, 2);
      } catch (e) {
        if (e.name !== 'AbortError') detail.replaceChildren(errorBox(e));
      }
    }

    el.append(
      h('h1', null, h('a', { href: '#/' + cfg.kind }, cfg.title), name ? [' / ', name] : null),
      h('div', { class: 'cols' },
        h('div', null,
          h('div', { class: 'panel' }, list),
          name ? h('div', { class: 'panel' }, detail) : null),
        h('div', { class: 'panel' },
          h('h2', null, name ? 'Edit and register' : 'Register'),
          h('p', { class: 'muted small' }, cfg.help),
          form)),
    );
    await Promise.all([loadList(), loadDetail()]);
  };
}

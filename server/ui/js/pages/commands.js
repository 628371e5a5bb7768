// Commands: the recent ones (read from the system stream $commands, newest
// first: each command's last status event), one looked up by id, and a
// form to send one.

import * as api from '../api.js';
import { h, a, href, badge, time, table, jsonView, errorBox, success, gated, field, busy } from '../dom.js';
import { title } from '../router.js';

const STATUS = { CommandAccepted: 'pending', CommandCompleted: 'completed', CommandFailed: 'failed' };

function outcome(c) {
  if (c.result) return a(href('streams', c.result.streamId), `${c.result.streamId} v${c.result.version}`);
  if (c.error) return h('span', { class: 'error-text' }, c.error);
  return '';
}

function lookupView(c) {
  const row = (k, v) => h('tr', null, h('th', null, k), h('td', { class: 'wrap' }, v));
  return h('div', { id: 'lookup-result' },
    h('div', { class: 'table-wrap' }, h('table', null, h('tbody', null,
      row('Id', h('span', { class: 'mono' }, c.id)), row('Type', c.commandType), row('Status', badge(c.status)),
      row('Created', time(c.createdAt)), row('Processed', time(c.processedAt)),
      c.error ? row('Error', h('span', { class: 'error-text' }, c.error)) : null,
      c.result ? row('Wrote', a(href('streams', c.result.streamId), `${c.result.streamId} version ${c.result.version}`)) : null))),
    c.result ? h('details', null, h('summary', null, 'result'), jsonView(c.result)) : null);
}

function template(hd) {
  if (!hd) return {};
  if (hd.fields) return Object.fromEntries(hd.fields.map((f) => [f.name, f.kind === 'object' ? {} : '']));
  return { [hd.streamIdFrom.replace(/^commandData\./, '').split('.')[0]]: '' };
}

export async function render({ el, signal }) {
  title('Commands');

  // recent
  const rows = h('tbody', { id: 'command-rows' });
  const olderB = h('button', { type: 'button', id: 'commands-older', disabled: true }, 'Load older');
  const recentErr = h('div');
  let seen = new Set();
  let from = '';
  async function loadRecent(reset) {
    if (reset) { seen = new Set(); from = ''; rows.replaceChildren(); }
    try {
      const d = await api.get('/api/events/' + api.p('$commands'), { query: { direction: 'backward', limit: 200, fromVersion: from }, signal });
      for (const e of d.events) {
        const c = e.eventData;
        if (!c || seen.has(c.id)) continue;
        seen.add(c.id);
        const cmd = { ...c, status: STATUS[e.eventType] || e.eventType, processedAt: e.eventType === 'CommandAccepted' ? null : e.timestamp };
        rows.append(h('tr', { dataset: { id: c.id, status: cmd.status } },
          h('td', { class: 'id' }, h('a', { href: '#/commands', class: 'mono small', onclick: (ev) => { ev.preventDefault(); lookup(c.id); } }, c.id)),
          h('td', null, c.commandType), h('td', null, badge(cmd.status)),
          h('td', null, time(cmd.processedAt || c.createdAt)), h('td', { class: 'wrap' }, outcome(cmd))));
      }
      if (!rows.children.length) rows.append(h('tr', null, h('td', { colspan: '5', class: 'muted' }, 'No commands yet.')));
      from = d.nextFromVersion ?? '';
      olderB.disabled = from === '';
      recentErr.replaceChildren();
    } catch (e) {
      if (e.name !== 'AbortError') recentErr.replaceChildren(errorBox(e));
    }
  }
  olderB.addEventListener('click', () => busy(olderB, () => loadRecent(false)));

  // look up
  const idIn = h('input', { id: 'lookup-id', placeholder: 'command id', spellcheck: 'false' });
  const lookB = h('button', { type: 'submit', id: 'lookup-run' }, 'Look up');
  const lookOut = h('div');
  async function lookup(id) {
    idIn.value = id;
    try {
      lookOut.replaceChildren(lookupView(await api.get('/api/commands/' + api.p(id) + '/status', { signal })));
    } catch (e) {
      if (e.name !== 'AbortError') lookOut.replaceChildren(errorBox(e));
    }
  }
  const lookForm = h('form', { id: 'lookup-form' }, h('div', { class: 'row' }, idIn, lookB), lookOut);
  lookForm.addEventListener('submit', (e) => { e.preventDefault(); if (idIn.value.trim()) busy(lookB, () => lookup(idIn.value.trim())); });

  // send
  const handlers = new Map();
  const typeIn = h('select', { id: 'send-type' });
  const dataIn = h('textarea', { id: 'send-data', rows: '8', spellcheck: 'false' });
  const cmdIdIn = h('input', { id: 'send-id', placeholder: 'optional (idempotency)', spellcheck: 'false' });
  const expIn = h('input', { id: 'send-expected', placeholder: 'any', spellcheck: 'false' });
  const asyncIn = h('input', { type: 'checkbox', id: 'send-async' });
  const sendB = h('button', { type: 'submit', class: 'primary', id: 'send-run' }, 'Send command');
  const sendOut = h('div', { id: 'send-result' });
  let lastTemplate = '';
  typeIn.addEventListener('change', () => {
    if (dataIn.value.trim() === '' || dataIn.value === lastTemplate) {
      dataIn.value = lastTemplate = JSON.stringify(template(handlers.get(typeIn.value)), null, 2);
    }
  });
  async function send() {
    let data;
    try { data = JSON.parse(dataIn.value); } catch (e) { sendOut.replaceChildren(errorBox('commandData is not JSON: ' + e.message)); return; }
    if (!data || typeof data !== 'object' || Array.isArray(data)) { sendOut.replaceChildren(errorBox('commandData must be a JSON object')); return; }
    // Built as text so that commandData goes as typed (numbers keep their spelling).
    let body = '{"commandType":' + JSON.stringify(typeIn.value) + ',"commandData":' + dataIn.value.trim();
    if (cmdIdIn.value.trim()) body += ',"commandId":' + JSON.stringify(cmdIdIn.value.trim());
    const ev = expIn.value.trim();
    if (ev) body += ',"expectedVersion":' + (/^-?\d+$/.test(ev) ? ev : JSON.stringify(ev));
    if (asyncIn.checked) body += ',"async":true';
    body += '}';
    try {
      const { status, data: d } = await api.post('/api/commands', body, { full: true, signal });
      const r = d.result;
      sendOut.replaceChildren(
        success(`${status} — command ${d.command.status}`, r ? [' — wrote ', a(href('streams', r.streamId), `${r.streamId} v${r.version}`)] : ''),
        lookupView({ ...d.command, result: r }));
      await loadRecent(true);
    } catch (e) {
      if (e.name !== 'AbortError') sendOut.replaceChildren(errorBox(e));
    }
  }
  const sendForm = h('form', { id: 'send-form' }, gated('write', h('fieldset', null,
    h('div', { class: 'form-grid' }, field('Command type', typeIn), field('Command id', cmdIdIn), field('Expected version', expIn)),
    field('commandData (JSON object)', dataIn),
    h('div', { class: 'row' }, h('label', { class: 'check' }, asyncIn, 'async (202, runs in the background)'), sendB))), sendOut);
  sendForm.addEventListener('submit', (e) => { e.preventDefault(); busy(sendB, send); });

  el.append(
    h('h1', null, 'Commands'),
    h('div', { class: 'cols' },
      h('div', { class: 'panel' }, h('div', { class: 'spread' }, h('h2', null, 'Recent'), olderB), recentErr,
        h('div', { class: 'table-wrap' }, h('table', { id: 'command-table' },
          h('thead', null, h('tr', null, ['Id', 'Type', 'Status', 'Last change', 'Outcome'].map((t) => h('th', null, t)))), rows))),
      h('div', null,
        h('div', { class: 'panel' }, h('h2', null, 'Look up'), lookForm),
        h('div', { class: 'panel' }, h('h2', null, 'Send'), sendForm))),
  );

  try {
    const d = await api.get('/api/command-handlers', { signal });
    for (const hd of d.handlers) {
      handlers.set(hd.commandType, hd);
      typeIn.append(h('option', { value: hd.commandType }, hd.commandType + (hd.builtIn ? ' (built-in)' : '')));
    }
    typeIn.dispatchEvent(new Event('change'));
  } catch (e) {
    if (e.name !== 'AbortError') sendOut.replaceChildren(errorBox(e));
  }
  await loadRecent(true);
}

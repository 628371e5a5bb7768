// dom.js: building the page without HTML strings. Every piece of data goes
// in as text (textContent, attribute values), never as markup, so nothing
// the daemon returns can run as script.

import { auth, can, isRawNumber } from './api.js';

// h(tag, props, ...children): an element. Props: class, on<event>
// (functions), dataset, value/checked/disabled (properties), anything else
// an attribute. href is kept only for the console's own links (#/…, /…).
// Children: nodes, strings (text), numbers, arrays, null (skipped).
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else if (k === 'href') { if (/^[#/]/.test(String(v)) && !String(v).startsWith('//')) el.setAttribute('href', v); }
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  add(el, children);
  return el;
}

export function add(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// link to a console page: link('streams', id) → #/streams/<id encoded>.
export function href(...segments) {
  return '#/' + segments.map((s) => encodeURIComponent(s)).join('/');
}

export function a(to, ...children) {
  return h('a', { href: to }, ...children);
}

// jsonView renders a value as indented, coloured JSON (numbers as sent).
export function jsonView(value, props = {}) {
  const pre = h('pre', { class: 'json', ...props });
  const big = value !== undefined && JSON.stringify(value).length > 200_000;
  if (big) pre.textContent = JSON.stringify(value, null, 2);
  else writeJSON(pre, value, '');
  return pre;
}

function span(el, cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  el.append(s);
}

function writeJSON(el, v, indent) {
  if (v === undefined) return el.append('undefined');
  if (v === null || typeof v === 'boolean') return span(el, 'j-lit', String(v));
  if (typeof v === 'number') return span(el, 'j-num', String(v));
  if (isRawNumber(v)) return span(el, 'j-num', v.rawJSON);
  if (typeof v === 'string') return span(el, 'j-str', JSON.stringify(v));
  const inner = indent + '  ';
  if (Array.isArray(v)) {
    if (v.length === 0) return el.append('[]');
    el.append('[\n');
    v.forEach((x, i) => {
      el.append(inner);
      writeJSON(el, x, inner);
      el.append(i < v.length - 1 ? ',\n' : '\n');
    });
    return el.append(indent + ']');
  }
  const keys = Object.keys(v);
  if (keys.length === 0) return el.append('{}');
  el.append('{\n');
  keys.forEach((k, i) => {
    el.append(inner);
    span(el, 'j-key', JSON.stringify(k));
    el.append(': ');
    writeJSON(el, v[k], inner);
    el.append(i < keys.length - 1 ? ',\n' : '\n');
  });
  el.append(indent + '}');
}

// compact is a one-line JSON preview, cut to max characters.
export function compact(v, max = 160) {
  const s = JSON.stringify(v);
  return s === undefined ? '' : s.length > max ? s.slice(0, max - 1) + '…' : s;
}

// time shows an RFC 3339 timestamp as "2024-01-15 10:30:00.000" (UTC, as stored).
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('span', { title: String(iso), class: 'mono' }, String(iso).replace('T', ' ').replace(/Z$/, ''));
}

// asNumber reads a number that parseJSON may have kept as raw JSON.
function asNumber(n) {
  return isRawNumber(n) ? Number(n.rawJSON) : n;
}

export function num(n) {
  if (isRawNumber(n)) return n.rawJSON;
  return typeof n === 'number' ? n.toLocaleString('en-US') : n === null || n === undefined ? '—' : String(n);
}

export function bytes(n) {
  n = asNumber(n);
  if (typeof n !== 'number') return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
}

export function duration(sec) {
  sec = Math.floor(asNumber(sec) || 0);
  const d = Math.floor(sec / 86400), hr = Math.floor(sec / 3600) % 24, m = Math.floor(sec / 60) % 60, s = sec % 60;
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

const statusKinds = {
  healthy: 'ok', active: 'ok', completed: 'ok',
  degraded: 'warn', paused: 'warn', pending: 'warn', processing: 'info', rebuilding: 'info',
  unhealthy: 'bad', error: 'bad', failed: 'bad',
};

export function badge(text, kind) {
  return h('span', { class: 'badge ' + (kind || statusKinds[text] || '') }, text);
}

// errorBox shows a failed call: the message, the code and the details.
export function errorBox(err) {
  const box = h('div', { class: 'error', role: 'alert' });
  if (err && err.name === 'ApiError') {
    add(box, [h('strong', null, err.message), ' ', h('span', { class: 'small mono' }, `(${err.status || 'no answer'} ${err.code})`)]);
    if (err.details !== undefined && err.details !== null) box.append(jsonView(err.details));
  } else {
    box.append(String((err && err.message) || err));
  }
  return box;
}

export function success(...children) {
  return h('div', { class: 'success', role: 'status' }, ...children);
}

// table(columns, rows): columns are {title, cell(row) → node|text, class?}.
export function table(columns, rows, rowProps) {
  const head = h('tr', null, columns.map((c) => h('th', { class: c.class }, c.title)));
  const body = h('tbody', null, rows.map((r) =>
    h('tr', rowProps ? rowProps(r) : null, columns.map((c) => h('td', { class: c.class }, c.cell(r))))));
  return h('div', { class: 'table-wrap' }, h('table', null, h('thead', null, head), body));
}

// gated disables el (a button or fieldset) when the key's role is below role.
export function gated(role, el) {
  if (!can(role)) {
    el.disabled = true;
    el.title = `needs a key with the ${role} role (this key: ${auth.role || 'none'})`;
    el.classList.add('denied');
  }
  return el;
}

// field wraps a control with its label.
export function field(label, control) {
  return h('label', null, label, control);
}

// every runs fn now and then every ms after it finishes, until signal aborts.
export function every(ms, fn, signal) {
  let timer = null;
  const tick = async () => {
    if (signal.aborted) return;
    try { await fn(); } catch (e) { if (e.name !== 'AbortError') console.warn(e); }
    if (!signal.aborted) timer = setTimeout(tick, ms);
  };
  signal.addEventListener('abort', () => clearTimeout(timer));
  tick();
}

// confirmButton is a button that acts on a second click within 4 s (no
// browser dialog): "Delete" → "Really delete?" → action.
export function confirmButton(label, confirmLabel, action, props = {}) {
  let armed = null;
  const b = h('button', { type: 'button', ...props }, label);
  b.addEventListener('click', async () => {
    if (!armed) {
      b.textContent = confirmLabel;
      b.classList.add('armed');
      armed = setTimeout(() => { armed = null; b.textContent = label; b.classList.remove('armed'); }, 4000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    b.textContent = label;
    b.classList.remove('armed');
    await action();
  });
  return b;
}

// busy disables a button while fn runs.
export async function busy(button, fn) {
  button.disabled = true;
  try { return await fn(); } finally { button.disabled = false; }
}

// splitList: "A, B  C" → ['A', 'B', 'C'].
export function splitList(s) {
  return String(s || '').split(/[\s,]+/).filter(Boolean);
}

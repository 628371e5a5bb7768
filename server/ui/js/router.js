// router.js: hash routes (#/streams/user-1?order=oldest). Each page module
// exports render(ctx) with ctx = {el, params, query, signal, setQuery}; the
// signal aborts when the page is left, stopping its timers and streams.

import { h, errorBox } from './dom.js';

const routes = [];
let main = null;
let current = null;

// route('streams/:id', () => import('./pages/stream.js'))
export function route(pattern, load) {
  routes.push({ parts: pattern.split('/'), load });
}

export function start(el) {
  main = el;
  window.addEventListener('hashchange', render);
  render();
}

// refresh renders the current page again (after a key change).
export function refresh() {
  render();
}

function parse() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = (q < 0 ? raw : raw.slice(0, q)).split('/').filter(Boolean);
  let parts;
  try { parts = path.map(decodeURIComponent); } catch { parts = []; }
  return { parts, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

function match(parts) {
  for (const r of routes) {
    if (r.parts.length !== parts.length) continue;
    const params = {};
    if (r.parts.every((p, i) => (p.startsWith(':') ? ((params[p.slice(1)] = parts[i]), true) : p === parts[i]))) {
      return { r, params };
    }
  }
  return null;
}

async function render() {
  if (current) current.abort();
  const ac = new AbortController();
  current = ac;
  const { parts, query } = parse();
  const m = match(parts);
  if (!m) {
    location.replace('#/overview');
    return;
  }
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('active', link.dataset.page === parts[0]);
  }
  const el = h('div', { class: 'view' });
  main.replaceChildren(el);
  const setQuery = (obj) => {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(obj)) if (v !== null && v !== undefined && v !== '') qs.set(k, String(v));
    const path = parts.map(encodeURIComponent).join('/');
    history.replaceState(null, '', '#/' + path + (qs.size ? '?' + qs : ''));
  };
  try {
    const mod = await m.r.load();
    if (ac.signal.aborted) return;
    await mod.render({ el, params: m.params, query, signal: ac.signal, setQuery });
  } catch (e) {
    if (e.name === 'AbortError' || ac.signal.aborted) return;
    el.append(errorBox(e));
  }
}

// go navigates to a console link (#/…).
export function go(to) {
  location.hash = to;
}

// title sets the document title for a page.
export function title(t) {
  document.title = t + ' · eventd';
}

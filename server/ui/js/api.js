// api.js: every call the console makes to the daemon. It holds the API key
// (sessionStorage: this tab only), sends it as Authorization: Bearer, opens
// the {"success", "data"} envelope and turns error envelopes into ApiError.

const KEY_ITEM = 'eventd.key';
const RANK = { none: 0, read: 1, write: 2, admin: 3 };

export const auth = {
  key: sessionStorage.getItem(KEY_ITEM) || '',
  required: null, // true: the daemon runs with --auth-keys; false: auth off
  role: null, // 'read' | 'write' | 'admin' once known (auth off: 'admin')
};

const listeners = { unauthorized: new Set(), role: new Set() };

// on('unauthorized' | 'role', fn) registers fn; it returns the unregister function.
export function on(event, fn) {
  listeners[event].add(fn);
  return () => listeners[event].delete(fn);
}

function emit(event, arg) {
  for (const fn of listeners[event]) fn(arg);
}

export function setKey(key) {
  auth.key = key;
  if (key) sessionStorage.setItem(KEY_ITEM, key);
  else sessionStorage.removeItem(KEY_ITEM);
}

export function setRole(role) {
  if (auth.role === role) return;
  auth.role = role;
  emit('role', role);
}

// can says whether the current key may do what needs role.
export function can(role) {
  return RANK[auth.role || 'none'] >= RANK[role];
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export function authHeaders() {
  return auth.key ? { Authorization: 'Bearer ' + auth.key } : {};
}

// url builds a same-origin URL; null, undefined and '' parameters are left
// out, arrays are repeated.
export function url(path, query) {
  const u = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v === null || v === undefined || v === '') continue;
    for (const x of Array.isArray(v) ? v : [v]) u.searchParams.append(k, String(x));
  }
  return u.pathname + u.search;
}

// parseJSON keeps numbers exactly as the daemon sent them (it stores the
// client's bytes): a number that a double would change (a big integer, 1.0,
// 1e3) stays a raw JSON value that JSON.stringify writes back unchanged.
const keepsSpelling = typeof JSON.rawJSON === 'function';
export function parseJSON(text) {
  if (!keepsSpelling) return JSON.parse(text);
  return JSON.parse(text, (key, value, ctx) =>
    typeof value === 'number' && ctx && ctx.source !== undefined && String(value) !== ctx.source
      ? JSON.rawJSON(ctx.source) : value);
}

export function isRawNumber(v) {
  return keepsSpelling && JSON.isRawJSON(v);
}

// unauthorized tells the app that the daemon refused the key (a 401 seen
// outside call, e.g. by a subscription).
export function unauthorized(msg) {
  emit('unauthorized', msg);
}

// errorFrom turns a non-2xx answer into an ApiError (and tells the app
// about a 401, or a 403 that shows the key's role is lower than thought).
function errorFrom(res, v, quiet) {
  const msg = (v && typeof v.error === 'string' && v.error) || res.statusText || 'HTTP ' + res.status;
  if (res.status === 401 && !quiet) emit('unauthorized', msg);
  if (res.status === 403) {
    const m = /this key has role (read|write|admin)/.exec(msg);
    if (m) setRole(m[1]);
  }
  return new ApiError(res.status, (v && v.code) || 'http_' + res.status, msg, v && v.details);
}

async function send(method, path, opts, accept) {
  const headers = { Accept: accept };
  if (!opts.noKey) Object.assign(headers, authHeaders());
  if (opts.headers) Object.assign(headers, opts.headers);
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  try {
    return await fetch(url(path, opts.query), { method, headers, body, signal: opts.signal, cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'cannot reach the daemon (' + e.message + ')');
  }
}

// call sends one request. opts: query, body (object, or a JSON string sent
// as is), signal, noKey, accept (statuses whose body is returned although
// not 2xx, e.g. /health's 503), full (return {status, data}), quiet (a 401
// does not open the key dialog), plain (numbers as doubles: for answers the
// console computes with, such as /health's uptimeSeconds).
export async function call(method, path, opts = {}) {
  const res = await send(method, path, opts, 'application/json');
  const text = await res.text();
  let v = null;
  if (text && (res.headers.get('Content-Type') || '').includes('json')) {
    try { v = opts.plain ? JSON.parse(text) : parseJSON(text); } catch { v = null; }
  }
  if (!res.ok && !(opts.accept || []).includes(res.status)) throw errorFrom(res, v, opts.quiet);
  const data = v && typeof v === 'object' && 'success' in v ? v.data : v;
  return opts.full ? { status: res.status, data } : data;
}

// text GETs a non-JSON resource (/metrics).
export async function text(path, opts = {}) {
  const res = await send('GET', path, opts, 'text/plain');
  const body = await res.text();
  if (!res.ok) {
    let v = null;
    try { v = JSON.parse(body); } catch { v = null; }
    throw errorFrom(res, v, opts.quiet);
  }
  return body;
}

export const get = (path, opts) => call('GET', path, opts);
export const post = (path, body, opts = {}) => call('POST', path, { ...opts, body: body === undefined ? {} : body });
export const put = (path, body, opts = {}) => call('PUT', path, { ...opts, body });
export const del = (path, opts) => call('DELETE', path, opts);

// p encodes one path segment (stream ids, projection ids, names).
export const p = (s) => encodeURIComponent(s);

// probe is one harmless request: malformed on purpose, so it changes
// nothing (the daemon answers 400 to a key that may make it, 403 to one that
// may not). It says whether the key has the route's role.
async function probe(path) {
  try {
    await post(path, {});
    return true;
  } catch (e) {
    if (e.status === 403) return false;
    if (e.status === 401) throw e;
    return true;
  }
}

// detectAuth finds whether the daemon wants a key and, with one, the key's
// role. It answers 'ok', or 'login' when a (valid) key is needed.
export async function detectAuth() {
  try {
    await get('/api/streams', { query: { limit: 1 }, noKey: true, quiet: true });
    auth.required = false;
    setRole('admin'); // auth off: every action is allowed
    return 'ok';
  } catch (e) {
    if (e.status !== 401) throw e;
  }
  auth.required = true;
  if (!auth.key) return 'login';
  try {
    await get('/api/streams', { query: { limit: 1 }, quiet: true });
  } catch (e) {
    if (e.status === 401) return 'login';
    throw e;
  }
  // write: POST /api/snapshots {} (400: no streamId); admin: POST /api/projections {} (400: no name).
  if (!(await probe('/api/snapshots'))) setRole('read');
  else if (!(await probe('/api/projections'))) setRole('write');
  else setRole('admin');
  return 'ok';
}

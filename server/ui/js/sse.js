// sse.js: Server-Sent Events read with fetch and a ReadableStream, not
// EventSource. EventSource routes a message by its "event:" name (an event
// type here), so onmessage sees none of them and a type called "error"
// would look like a connection failure; it also cannot send the
// Authorization header. Read this way, every message arrives with its id,
// event name and data, and the key goes in the header (no access_token in
// the URL).

import { url, authHeaders, ApiError, parseJSON, unauthorized } from './api.js';

// open subscribes to path?query and calls onMessage({id, event, data}) for
// each message; hasId says whether the message carried an "id:" line (the
// daemon's own "event: error" has none). It resolves when the stream ends
// and rejects on a failed request (ApiError) or an abort.
export async function open(path, query, { signal, onOpen, onMessage }) {
  const res = await fetch(url(path, query), {
    headers: { Accept: 'text/event-stream', ...authHeaders() },
    signal,
    cache: 'no-store',
  });
  if (!res.ok) {
    let v = null;
    try { v = parseJSON(await res.text()); } catch { v = null; }
    const msg = (v && v.error) || res.statusText || 'HTTP ' + res.status;
    if (res.status === 401) unauthorized(msg);
    throw new ApiError(res.status, (v && v.code) || 'http_' + res.status, msg);
  }
  if (onOpen) onOpen();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let msg = { id: null, hasId: false, event: '', data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') { // end of a message
        if (msg.data.length) onMessage({ id: msg.id, hasId: msg.hasId, event: msg.event || 'message', data: msg.data.join('\n') });
        msg = { id: null, hasId: false, event: '', data: [] };
        continue;
      }
      if (line[0] === ':') continue; // a comment: ": subscribed", ": heartbeat"
      const c = line.indexOf(':');
      const name = c < 0 ? line : line.slice(0, c);
      let val = c < 0 ? '' : line.slice(c + 1);
      if (val[0] === ' ') val = val.slice(1);
      if (name === 'data') msg.data.push(val);
      else if (name === 'event') msg.event = val;
      else if (name === 'id') { msg.id = val; msg.hasId = true; }
    }
  }
}

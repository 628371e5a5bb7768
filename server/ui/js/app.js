// app.js: starts the console. It finds whether the daemon wants a key (and
// the key's role), asks for one when needed, and starts the router.

import * as api from './api.js';
import { h, errorBox } from './dom.js';
import { route, start, refresh } from './router.js';

route('overview', () => import('./pages/overview.js'));
route('streams', () => import('./pages/streams.js'));
route('streams/:id', () => import('./pages/stream.js'));
route('tail', () => import('./pages/tail.js'));
route('projections', () => import('./pages/projections.js'));
route('projections/:id', () => import('./pages/projection.js'));
route('commands', () => import('./pages/commands.js'));
route('schemas', () => import('./pages/schemas.js'));
route('schemas/:name', () => import('./pages/schemas.js'));
route('reducers', () => import('./pages/reducers.js'));
route('reducers/:name', () => import('./pages/reducers.js'));
route('handlers', () => import('./pages/handlers.js'));
route('handlers/:name', () => import('./pages/handlers.js'));

const main = document.getElementById('main');
const dialog = document.getElementById('login');
const form = document.getElementById('login-form');
const input = document.getElementById('login-key');
const why = document.getElementById('login-why');
const loginError = document.getElementById('login-error');
let started = false;

function showWho() {
  const who = document.getElementById('who');
  if (api.auth.required === false) {
    who.replaceChildren(h('span', { class: 'badge', title: 'the daemon runs without --auth-keys' }, 'auth off'));
    return;
  }
  if (!api.auth.role) {
    who.replaceChildren();
    return;
  }
  who.replaceChildren(
    h('span', { id: 'role', class: 'badge info', title: 'the role of the key in use' }, 'key: ' + api.auth.role),
    h('button', { type: 'button', id: 'change-key', onclick: () => askKey('Enter another key.') }, 'Change key'),
    h('button', { type: 'button', id: 'forget-key', onclick: () => { api.setKey(''); api.setRole(null); askKey('Key forgotten.'); } }, 'Forget'),
  );
}

function askKey(message) {
  why.textContent = message || 'This daemon runs with --auth-keys: enter a key to use the console.';
  loginError.textContent = '';
  input.value = '';
  if (!dialog.open) dialog.showModal();
  input.focus();
}

// The dialog stays until a key works (Escape does not close it).
dialog.addEventListener('cancel', (e) => e.preventDefault());

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const key = input.value.trim();
  if (!key) return;
  const button = document.getElementById('login-submit');
  button.disabled = true;
  loginError.textContent = '';
  const before = api.auth.key;
  api.setKey(key);
  try {
    if ((await api.detectAuth()) === 'login') {
      api.setKey(before);
      loginError.textContent = 'This key is not accepted by the daemon (401).';
      return;
    }
    dialog.close();
    ready();
  } catch (err) {
    api.setKey(before);
    loginError.textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

function ready() {
  showWho();
  if (!started) {
    started = true;
    start(main);
  } else {
    refresh();
  }
}

// A 401 from any call: the key was removed or never given.
api.on('unauthorized', (msg) => {
  api.setRole(null);
  showWho();
  askKey(api.auth.key ? `The daemon refused the key (${msg}). Enter a key.` : undefined);
});

// A 403 showed the key's role is lower than thought: draw the page again
// with those actions disabled.
api.on('role', () => {
  showWho();
  if (started && api.auth.role) refresh();
});

async function boot() {
  try {
    if ((await api.detectAuth()) === 'login') {
      main.replaceChildren(h('p', { class: 'muted' }, 'Waiting for an API key…'));
      askKey(api.auth.key ? 'The stored key is not accepted: enter a key.' : undefined);
      return;
    }
    ready();
  } catch (err) {
    main.replaceChildren(errorBox(err), h('button', { type: 'button', onclick: boot }, 'Try again'));
  }
}

boot();

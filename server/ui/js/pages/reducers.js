// Reducers (PUT /api/reducers/{name}): how a stream's events fold into state.

import { h, badge, jsonView } from '../dom.js';
import { registryPage } from '../registry.js';

function describe(op) {
  const parts = [op.op];
  if (op.path) parts.push(op.path);
  if (op.from) parts.push('from ' + op.from);
  if (op.by !== undefined) parts.push('by ' + JSON.stringify(op.by));
  return parts.join(' ');
}

function detail(r) {
  if (r.builtIn) {
    return h('p', null, badge('built-in', 'info'), ' The default reducer: *Created merges eventData and sets createdAt; *Updated merges eventData.updates (or eventData) and sets updatedAt; *Deleted sets deleted and deletedAt; any other type merges eventData.');
  }
  const handlers = r.handlers || {};
  return h('div', null,
    h('p', null, 'Category ', r.category ? h('b', null, r.category) : h('span', { class: 'muted' }, 'none (used by name)'), ' · revision ', h('span', { class: 'mono' }, r.revision)),
    h('ul', { class: 'chain', id: 'reducer-handlers' }, Object.entries(handlers).map(([type, ops]) =>
      h('li', { dataset: { type } }, h('b', null, type), h('ul', { class: 'ops' }, (Array.isArray(ops) ? ops : [ops]).map((op) => h('li', null, describe(op))))))),
    h('details', null, h('summary', null, 'as JSON'), jsonView(handlers)));
}

export const render = registryPage({
  kind: 'reducers',
  title: 'Reducers',
  api: '/api/reducers',
  listKey: 'reducers',
  nameOf: (r) => r.name,
  nameLabel: 'Name',
  columns: [
    { title: 'Category', cell: (r) => r.category || '—' },
    { title: 'Handles', cell: (r) => (r.handlers ? Object.keys(r.handlers).join(', ') : 'every type') },
    { title: 'Built-in', cell: (r) => (r.builtIn ? 'yes' : '') },
    { title: 'Revision', cell: (r) => h('span', { class: 'mono small' }, r.revision) },
  ],
  detail,
  bodyOf: (r) => (r.builtIn ? null : r.category ? { category: r.category, handlers: r.handlers } : { handlers: r.handlers }),
  template: {
    category: 'account',
    handlers: {
      AccountOpened: { op: 'merge' },
      Deposited: { op: 'increment', path: 'balance', from: 'eventData.amount' },
      Closed: { op: 'delete' },
    },
  },
  help: 'Ops: merge, set, unset, increment, append, delete; path is a dotted path in the state, from one in the event (eventData.x, metadata.y, timestamp…). A category has one reducer; "default" cannot be replaced.',
});

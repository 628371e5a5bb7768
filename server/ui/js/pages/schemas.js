// Schemas and their upcaster chains (PUT /api/schemas/{eventType}).

import { h, badge, compact, jsonView } from '../dom.js';
import { registryPage } from '../registry.js';

// describe says what one upcaster op does, in one line.
export function describe(op) {
  const { op: name, ...f } = op;
  const q = (s) => JSON.stringify(s);
  switch (name) {
    case 'rename': case 'move': case 'copy': return `${name} ${f.from} → ${f.to}`;
    case 'default': return `default ${f.path} = ${compact(f.value, 80)} (when absent)`;
    case 'set': return `set ${f.path} = ${compact(f.value, 80)}`;
    case 'remove': return `remove ${f.path}`;
    case 'map': return `map ${f.path} by ${compact(f.values, 80)}` + ('default' in f ? `, else ${compact(f.default, 40)}` : '');
    case 'split': return `split ${f.from} at ${q(f.separator)} → ${(f.to || []).join(', ')}` + (f.keep ? ' (keep)' : '');
    case 'join': return `join ${(f.from || []).join(', ')} with ${q(f.separator)} → ${f.to}` + (f.keep ? ' (keep)' : '');
    default: return `${name} ${compact(f, 100)}`;
  }
}

function chain(s) {
  const steps = s.upcasters || [];
  return h('div', null,
    h('p', null, 'Current version ', badge('v' + s.currentVersion, 'info'), ' · revision ', h('span', { class: 'mono' }, s.revision)),
    h('h3', null, 'Upcaster chain'),
    steps.length
      ? h('ol', { class: 'chain', id: 'upcaster-chain' }, steps.map((st) => h('li', { dataset: { from: String(st.from), to: String(st.to) } },
        h('b', null, `v${st.from} → v${st.to}`),
        h('ul', { class: 'ops' }, st.ops.map((op) => h('li', null, describe(op)))))))
      : h('p', { class: 'muted' }, 'No upcasters: events are read as stored.'),
    h('h3', null, 'JSON Schema (validates appends at the current version)'),
    s.jsonSchema ? jsonView(s.jsonSchema, { id: 'json-schema' }) : h('p', { class: 'muted' }, 'none'));
}

export const render = registryPage({
  kind: 'schemas',
  title: 'Schemas',
  api: '/api/schemas',
  listKey: 'schemas',
  nameOf: (s) => s.eventType,
  nameLabel: 'Event type',
  columns: [
    { title: 'Version', cell: (s) => 'v' + s.currentVersion, class: 'num' },
    { title: 'Upcasters', cell: (s) => (s.upcasters || []).map((u) => `${u.from}→${u.to}`).join(', ') || '—' },
    { title: 'JSON Schema', cell: (s) => (s.jsonSchema ? 'yes' : '—') },
    { title: 'Revision', cell: (s) => h('span', { class: 'mono small' }, s.revision) },
  ],
  detail: chain,
  bodyOf: (s) => {
    const b = { currentVersion: s.currentVersion, upcasters: s.upcasters || [] };
    if (s.jsonSchema) b.jsonSchema = s.jsonSchema;
    return b;
  },
  template: {
    currentVersion: 2,
    upcasters: [{ from: 1, to: 2, ops: [{ op: 'rename', from: 'name', to: 'fullName' }] }],
    jsonSchema: { type: 'object', required: ['fullName'] },
  },
  help: 'Stored events never change: reads see them upcast to currentVersion. The chain needs one step per version (1→2 … N-1→N); currentVersion never goes down.',
});

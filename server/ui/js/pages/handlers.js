// Command handlers (PUT /api/command-handlers/{commandType}).

import { h, badge, table } from '../dom.js';
import { registryPage } from '../registry.js';

function detail(hd) {
  return h('div', null,
    h('p', null, hd.builtIn ? badge('built-in', 'info') : null, ' writes ', h('b', null, hd.eventType),
      ' to the stream named by ', h('span', { class: 'mono' }, hd.streamIdFrom), '; the stream must be ', h('b', null, hd.expect),
      '; the event data is ', h('span', { class: 'mono' }, hd.data), '.'),
    hd.fields ? table([{ title: 'Field', cell: (f) => f.name }, { title: 'Kind', cell: (f) => f.kind }], hd.fields) : null);
}

export const render = registryPage({
  kind: 'handlers',
  title: 'Handlers',
  api: '/api/command-handlers',
  listKey: 'handlers',
  nameOf: (hd) => hd.commandType,
  nameLabel: 'Command type',
  columns: [
    { title: 'Event type', cell: (hd) => hd.eventType },
    { title: 'Stream id from', cell: (hd) => h('span', { class: 'mono' }, hd.streamIdFrom) },
    { title: 'Expect', cell: (hd) => hd.expect },
    { title: 'Built-in', cell: (hd) => (hd.builtIn ? 'yes' : '') },
  ],
  detail,
  bodyOf: (hd) => (hd.builtIn ? null : { eventType: hd.eventType, streamIdFrom: hd.streamIdFrom, expect: hd.expect, data: hd.data }),
  template: { eventType: 'AccountOpened', streamIdFrom: 'commandData.accountId', expect: 'new', data: 'commandData' },
  help: 'A registered handler writes one event: eventType to the stream named by streamIdFrom; expect is new, existing or any. Built-in handlers cannot be replaced.',
});

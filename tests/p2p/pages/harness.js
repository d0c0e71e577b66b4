// Drives adapters from the node tests: `window.h` starts adapters under a label, records their
// events and the frames they receive (size and digest), and sends test frames.

import * as p2p from '/p2p/index.js';
import { digest, pattern } from './bytes.js';
import './custom-adapter.js';

const adapters = new Map();
const EVENTS = ['open', 'peer', 'connection', 'disconnect', 'reconnecting', 'error', 'close'];

function rec(label) {
  const r = adapters.get(label);
  if (!r) throw new Error(`no adapter '${label}'`);
  return r;
}

window.P2P = p2p;
window.h = {
  adapters,
  list: () => p2p.listP2PAdapters(),

  /** Creates and connects an adapter; resolves with its id. */
  async start(label, name, config) {
    const a = p2p.createAdapter(name, config);
    const r = { a, events: [], received: [] };
    adapters.set(label, r);
    for (const ev of EVENTS) {
      a.on(ev, (p) => r.events.push({ ev, ...(p && typeof p === 'object' ? p : { value: p ?? null }), t: Date.now() }));
    }
    a.on('message', ({ from, data }) => {
      r.received.push({ from, size: data.length, digest: digest(data), u8: data instanceof Uint8Array });
    });
    await a.connect();
    await a.ready();
    return a.getId();
  },

  adapter: (label) => rec(label).a,
  events: (label) => rec(label).events,
  received: (label) => rec(label).received,
  peers: (label) => rec(label).a.getPeers(),
  isConnected: (label) => rec(label).a.isConnected,
  count: (label, ev, peerId) =>
    rec(label).events.filter((e) => e.ev === ev && (peerId === undefined || e.peerId === peerId)).length,
  listPeers: (label) => rec(label).a.listPeers(),
  send: (label, peerId, size, seed) => rec(label).a.send(peerId, pattern(size, seed)),
  broadcast: (label, size, seed) => rec(label).a.broadcast(pattern(size, seed)),
  disconnect: (label) => rec(label).a.disconnect(),
  async connect(label) {
    const a = rec(label).a;
    await a.connect();
    await a.ready();
    return a.getId();
  },
};
window.__ready = true;

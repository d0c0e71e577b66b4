// Drives AuroraDB databases in a page for the node tests (harness.mjs): `window.t.open(label,
// config, distributed, peerId)` creates one and records every event it dispatches;
// `t.call(label, method, args)` calls a method of the database; `t.events(label, type)` gives
// the recorded events (details as plain data; the adapter's own events as 'adapter:<event>');
// `t.adapterCall(label, method, args)` calls a
// method of its P2P adapter. Load it after auroradb.js.
(() => {
  'use strict';
  const EVENTS = ['open', 'close', 'error', 'change', 'set', 'delete', 'connection', 'disconnect', 'sync', 'post'];
  const ADAPTER_EVENTS = ['open', 'connection', 'disconnect', 'reconnecting', 'error', 'close'];
  const dbs = new Map();

  /** Event details as plain data: errors become { name, message, type }. */
  const plain = (value) =>
    JSON.parse(
      JSON.stringify(value ?? null, (_k, v) => {
        if (v instanceof Error) return { name: v.name, message: v.message, type: v.type };
        if (typeof v === 'bigint') return `${v}n`;
        if (v instanceof Uint8Array) return { bytes: v.length };
        return v;
      }),
    );

  const rec = (label) => {
    const r = dbs.get(label);
    if (!r) throw new Error(`no database '${label}'`);
    return r;
  };

  window.t = {
    ready: true,
    dbs,
    /** Watches `db` under `label` (for databases a page made itself). */
    watch(label, db) {
      const r = { db, events: [] };
      dbs.set(label, r);
      for (const type of EVENTS) {
        db.addEventListener(type, (e) => r.events.push({ type, t: Date.now(), detail: plain(e.detail) }));
      }
      return r;
    },
    async open(label, config, distributed, peerId) {
      const r = window.t.watch(label, new AuroraDB(config));
      await r.db.create(distributed ?? undefined, peerId ?? undefined);
      // The adapter's own events too (as 'adapter:<event>'), for failure messages.
      const a = r.db.adapter;
      for (const type of ADAPTER_EVENTS) {
        a?.on(type, (p) => r.events.push({ type: `adapter:${type}`, t: Date.now(), detail: plain(p) }));
      }
      return { peerId: r.db.getPeerId(), distributed: r.db.isDistributed() };
    },
    async call(label, method, args) {
      const db = rec(label).db;
      if (typeof db[method] !== 'function') throw new Error(`AuroraDB has no method ${method}`);
      return plain(await db[method](...args));
    },
    async adapterCall(label, method, args) {
      const a = rec(label).db.adapter;
      if (!a) throw new Error(`database '${label}' has no adapter`);
      return plain(await a[method](...args));
    },
    events(label, type) {
      const all = rec(label).events;
      return type ? all.filter((e) => e.type === type) : all;
    },
  };
})();

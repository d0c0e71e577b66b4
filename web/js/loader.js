// How the ES module build (pkg/auroradb.mjs) loads what it does not hold: the wasm engine's
// glue, and each built-in P2P adapter, a bundle of its own in pkg/p2p/ imported the first time a
// database picks it. The classic script build swaps this file for loader-classic.js
// (scripts/bundle.mjs).
//
// The engine comes in two builds: the local-only one (auroradb_core.js, imported with the module
// so bundlers downstream see it) and the one with peer-to-peer sync (auroradb_sync.js), imported
// the first time a distributed database opens.
//
// The paths are literal and relative to this module, kept as written by the bundler: from
// pkg/auroradb.mjs they name files in pkg/.

import initEngine, * as engine from './auroradb_core.js';

/** The engine module, with sync when `sync` is true: its default export instantiates the wasm. */
export function importEngine(sync) {
  if (sync) return import('./auroradb_sync.js');
  return Promise.resolve({ default: initEngine, ...engine });
}

/**
 * The URL of the engine's `.wasm` file (the one with sync when `sync` is true), next to its glue.
 * Each path is a literal of its own in `new URL(..., import.meta.url)`: the form bundlers
 * downstream recognize as an asset to copy.
 */
export function engineWasmUrl(sync) {
  return sync
    ? new URL('./auroradb_sync_bg.wasm', import.meta.url).href
    : new URL('./auroradb_core_bg.wasm', import.meta.url).href;
}

/** The built-in adapters by name, in the order listP2PAdapters() reports them. */
export const BUILTIN_ADAPTERS = Object.freeze({
  peerjs: () => import('./p2p/peerjs.js').then((m) => m.PeerJsAdapter),
  webrtc: () => import('./p2p/webrtc.js').then((m) => m.WebRtcAdapter),
  socketio: () => import('./p2p/socketio.js').then((m) => m.SocketIoAdapter),
  broadcast: () => import('./p2p/broadcast.js').then((m) => m.BroadcastAdapter),
});

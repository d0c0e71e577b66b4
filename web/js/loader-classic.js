// How the classic script build (pkg/auroradb.js, the global AuroraDB) loads what it does not
// hold: the wasm engine's glue (the local-only build, or the one with peer-to-peer sync for a
// distributed database) and each built-in P2P adapter's bundle, with dynamic import() relative to
// the script's own URL (so pkg/ can be served from anywhere), the first time they are needed.
// scripts/bundle.mjs puts this file in place of loader.js.

const scriptUrl = (typeof document !== 'undefined' && document.currentScript?.src) || globalThis.location?.href || '';

function importNextToScript(file) {
  return import(new URL(file, scriptUrl).href);
}

/** The engine module, with sync when `sync` is true: its default export instantiates the wasm. */
export function importEngine(sync) {
  return importNextToScript(sync ? './auroradb_sync.js' : './auroradb_core.js');
}

/** The URL of the engine's `.wasm` file (the one with sync when `sync` is true), next to the script. */
export function engineWasmUrl(sync) {
  return new URL(sync ? './auroradb_sync_bg.wasm' : './auroradb_core_bg.wasm', scriptUrl).href;
}

/** The built-in adapters by name, in the order listP2PAdapters() reports them. */
export const BUILTIN_ADAPTERS = Object.freeze({
  peerjs: () => importNextToScript('./p2p/peerjs.js').then((m) => m.PeerJsAdapter),
  webrtc: () => importNextToScript('./p2p/webrtc.js').then((m) => m.WebRtcAdapter),
  socketio: () => importNextToScript('./p2p/socketio.js').then((m) => m.SocketIoAdapter),
  broadcast: () => importNextToScript('./p2p/broadcast.js').then((m) => m.BroadcastAdapter),
});

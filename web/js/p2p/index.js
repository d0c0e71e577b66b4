// The transport layer of AuroraDB as one module (pkg/p2p/index.js): the adapter contract, the
// registry and every built-in adapter, registered at once, in this order: 'peerjs', 'webrtc',
// 'socketio', 'broadcast' (custom adapters are listed after them). AuroraDB itself does not
// import it: it loads one adapter's bundle (pkg/p2p/<name>.js) when a database picks it.
//
//   import { createAdapter, registerP2PAdapter, listP2PAdapters, P2PAdapter } from './p2p/index.js';
//   const adapter = createAdapter('webrtc', { name: 'app', p2pConfig: { signalingServer: 'ws://127.0.0.1:8787' } });
//   adapter.on('connection', ({ peerId }) => adapter.send(peerId, Uint8Array.of(1, 2, 3)));
//   adapter.on('message', ({ from, data }) => console.log(from, data));
//   await adapter.connect();

import {
  P2PAdapter,
  createAdapter,
  getP2PAdapter,
  hasP2PAdapter,
  listP2PAdapters,
  loadP2PAdapter,
  registerP2PAdapter,
} from './adapter.js';
import { BroadcastAdapter } from './broadcast.js';
import { PeerJsAdapter } from './peerjs.js';
import { SocketIoAdapter } from './socketio.js';
import { WebRtcAdapter } from './webrtc.js';

/** The built-in adapters by name, in the order listP2PAdapters() reports them. */
export const BUILTIN_ADAPTERS = Object.freeze({
  peerjs: PeerJsAdapter,
  webrtc: WebRtcAdapter,
  socketio: SocketIoAdapter,
  broadcast: BroadcastAdapter,
});

for (const [name, cls] of Object.entries(BUILTIN_ADAPTERS)) {
  if (!getP2PAdapter(name)) registerP2PAdapter(name, cls);
}

export { P2PAdapter, createAdapter, getP2PAdapter, hasP2PAdapter, listP2PAdapters, loadP2PAdapter, registerP2PAdapter };
export { ControlKind, controlFrame, parseControlFrame } from './adapter.js';
export { BroadcastAdapter, PeerJsAdapter, SocketIoAdapter, WebRtcAdapter };
export { RtcSignalingAdapter } from './rtc-adapter.js';
export { RtcMesh } from './rtc-mesh.js';
export { CHANNEL_PROTOCOL, CHUNK_SIZE, Reassembler, encodeFrame } from './chunks.js';
export { P2PError, isValidPeerId, randomId, resolveSettings, toBytes } from './util.js';

// What the 'peerjs' and 'webrtc' adapters share: the WebRTC mesh (rtc-mesh.js) that carries the
// frames (MeshAdapter), and for 'webrtc' a WebSocket to a signaling server with the reconnect of
// a lost server connection (RtcSignalingAdapter; 'peerjs' reaches its server through the
// official PeerJS client instead).
//
// Peer links do not go through the server, so losing the server does not drop them: the
// adapter reports 'error' { type: 'network' }, reconnects with backoff (emitting 'reconnecting'
// and then 'open' again), and only new peers wait for it. If every attempt fails, existing
// links stay up and a later connect() attaches again.
//
// A subclass of RtcSignalingAdapter provides:
//   _serverUrl()                  the WebSocket URL
//   _socketOpened(ws)             the socket is open (send a join, or wait for the server)
//   _serverMessage(msg, attach)   a JSON message from the server; `attach.ok()` once attached,
//                                 `attach.fail(err)` when the server refused
//   _sendSignal(peerId, msg)      relay a mesh signal; false when the server is not connected
//   _onAttached() / _onDetached() start / stop timers that live with the server connection

import { P2PAdapter } from './adapter.js';
import { RtcMesh } from './rtc-mesh.js';
import { P2PError, toBytes } from './util.js';

/** An adapter whose frames travel over its mesh (`this.mesh`, set by the subclass). */
export class MeshAdapter extends P2PAdapter {
  static managesPresence = true;

  /**
   * Attaches to the signaling server (`_attach()`, given by each subclass) and starts the mesh.
   * Resolves with this peer's id.
   */
  async connect() {
    if (this.isConnected) return this.id;
    if (typeof RTCPeerConnection !== 'function') {
      throw new P2PError(
        'invalid-config',
        `the '${this.constructor.adapterName}' adapter needs WebRTC (RTCPeerConnection)`,
      );
    }
    this._requireEnvironment();
    this._closing = false;
    this.mesh.start();
    try {
      await this._attachOnce();
    } catch (err) {
      if (this.getConnectionCount() === 0 && !this.isConnected) this.mesh.stop('closed');
      throw err;
    }
    return this.id;
  }

  /** What connect() needs besides WebRTC; throws a P2PError when it is missing. */
  _requireEnvironment() {}

  /** One attempt to attach, shared by concurrent callers (connect() during a reconnect). */
  _attachOnce() {
    if (this.isConnected) return Promise.resolve();
    this._attaching ??= this._attach().finally(() => {
      this._attaching = null;
    });
    return this._attaching;
  }

  send(peerId, data) {
    const bytes = toBytes(data);
    if (bytes === null) throw new TypeError('send: data must be binary (Uint8Array, ArrayBuffer or a view)');
    if (!this.isPeerConnected(peerId)) return false;
    return this.sendWithRetry(peerId, () => this.mesh.send(peerId, bytes));
  }

  broadcast(data) {
    const bytes = toBytes(data);
    if (bytes === null) throw new TypeError('broadcast: data must be binary (Uint8Array, ArrayBuffer or a view)');
    let count = 0;
    for (const peerId of this.getPeers()) if (this.send(peerId, bytes)) count++;
    return count;
  }

  /**
   * Resolves with the open data channel to `peerId`, opening one when needed (this side
   * offers, whatever the ids). Rejects when it does not open within peerConnectionTimeout.
   */
  async connectToPeer(peerId) {
    const open = this.mesh.channel(peerId);
    if (open) return open;
    if (!this.isConnected) throw new P2PError('not-connected', 'connect() first');
    this.peerFound(peerId);
    this.mesh.want(peerId, { explicit: true });
    return this.mesh.connect(peerId);
  }

  /**
   * Drops the link to `peerId` as a network failure would: both sides see 'disconnect', and
   * the link is opened again with backoff. For tests and debugging.
   */
  dropConnection(peerId) {
    this.mesh.drop(peerId);
  }
}

export class RtcSignalingAdapter extends MeshAdapter {
  constructor(config = {}, db = null) {
    super(config, db);
    this.mesh = new RtcMesh(this, (peerId, msg) => this._sendSignal(peerId, msg));
    this.ws = null;
    this._WebSocket = this.config.p2pConfig?.WebSocket ?? globalThis.WebSocket;
    this._closing = false;
    this._attaching = null;
    this._attachedOnce = false;
  }

  /** What connect() needs besides WebRTC (the signaling server's WebSocket). */
  _requireEnvironment() {
    if (typeof this._WebSocket !== 'function')
      throw new P2PError('invalid-config', 'no WebSocket implementation available');
  }

  /** One attempt to attach to the server, bounded by connectionTimeout. */
  _attach() {
    const url = this._serverUrl();
    const timeout = this.settings.connectionTimeout;
    return new Promise((resolve, reject) => {
      let settled = false;
      let ws;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (ws) this._dropSocket(ws);
        reject(err);
      };
      const ok = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this._closing) {
          this._dropSocket(ws);
          reject(new P2PError('network', 'disconnected while attaching'));
          return;
        }
        this.isConnected = true;
        this._attachedOnce = true;
        this._onAttached();
        this.emit('open', this.id);
        resolve();
      };
      const timer = setTimeout(
        () => fail(new P2PError('timeout', `signaling server ${url} did not answer within ${timeout} ms`)),
        timeout,
      );
      try {
        ws = new this._WebSocket(url);
      } catch (err) {
        fail(new P2PError('network', `cannot open ${url}: ${err?.message ?? err}`));
        return;
      }
      this.ws = ws;
      const attach = {
        ok,
        fail,
        get settled() {
          return settled;
        },
      };
      ws.onopen = () => {
        if (this.ws === ws) this._socketOpened(ws, attach);
      };
      ws.onmessage = (e) => {
        if (this.ws !== ws) return;
        let msg;
        try {
          msg = JSON.parse(typeof e.data === 'string' ? e.data : new TextDecoder().decode(e.data));
        } catch {
          this.emitError('server-error', 'the signaling server sent something that is not JSON');
          return;
        }
        if (msg && typeof msg === 'object') this._serverMessage(msg, attach);
      };
      ws.onerror = () => {};
      ws.onclose = (e) => {
        if (this.ws !== ws) return;
        this.ws = null;
        if (!settled) fail(new P2PError('network', `signaling server closed the connection (${e.code})`));
        else this._lost(`signaling server connection closed (${e.code})`);
      };
    });
  }

  _dropSocket(ws) {
    if (this.ws === ws) this.ws = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close();
    } catch {
      // already closed
    }
  }

  /** Sends a JSON message to the server; false when it is not connected. */
  _sendJson(msg) {
    const ws = this.ws;
    if (ws?.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  _lost(reason) {
    if (this._closing || !this.isConnected) return;
    this.isConnected = false;
    this._onDetached();
    this.emitError('network', reason);
    this.reconnect(
      () => this._attachOnce(),
      () => this._closing,
      { closeOnGiveUp: false },
    );
  }

  async disconnect() {
    this._closing = true;
    const was = this.isConnected || this.getConnectionCount() > 0;
    this.mesh.stop('closed');
    this._onDetached();
    if (this.ws) {
      this._beforeClose();
      this._dropSocket(this.ws);
    }
    this.isConnected = false;
    this.allPeersDown('closed');
    this._seen.clear();
    if (was) this.emit('close');
  }

  // Hooks with defaults.
  _socketOpened() {}
  _onAttached() {}
  _onDetached() {}
  _beforeClose() {}
}

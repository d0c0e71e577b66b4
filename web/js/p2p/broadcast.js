// The 'broadcast' adapter: tabs of one origin talk over a BroadcastChannel, no server.
//
// Channel name: p2pConfig.channel, else 'auroradb-p2p:' + config.name, so only databases of
// the same name meet. Every tab receives every message; each message is a structured-clone
// object (the frame travels as a Uint8Array, copied, never chunked):
//
//   { t: 'hello', from }            a tab joined: everyone answers 'here' to it at once
//   { t: 'here', from, to }         the answer to a hello
//   { t: 'hb', from }               heartbeat, every heartbeatInterval
//   { t: 'bye', from }              a tab left (disconnect(), or the page is hidden for good)
//   { t: 'msg', from, to?, data }   a frame, to one peer or (no `to`) to every peer
//
// A peer not heard from for peerTimeout is dropped ('disconnect', reason 'timeout'). There is
// no server to lose, so no reconnect; disconnect() then connect() joins again.

import { P2PAdapter } from './adapter.js';
import { P2PError, toBytes } from './util.js';

export class BroadcastAdapter extends P2PAdapter {
  static managesPresence = true;

  constructor(config = {}, db = null) {
    super(config, db);
    const channel = this.config.p2pConfig?.channel;
    this.channelName = typeof channel === 'string' && channel ? channel : `auroradb-p2p:${this.settings.name}`;
    this.channel = null;
    this._timer = null;
    this._lastSeen = new Map();
    this._refused = new Set();
    this._onPageHide = (e) => {
      if (!e.persisted) this._post({ t: 'bye', from: this.id });
    };
  }

  async connect() {
    if (this.channel) return this.id;
    if (typeof BroadcastChannel !== 'function') {
      throw new P2PError(
        'invalid-config',
        "BroadcastChannel is not available here: the 'broadcast' adapter needs a browser",
      );
    }
    this.channel = new BroadcastChannel(this.channelName);
    this.channel.onmessage = (e) => this._onMessage(e.data);
    this.channel.onmessageerror = () => this.emitError('invalid-frame', 'a BroadcastChannel message could not be read');
    globalThis.addEventListener?.('pagehide', this._onPageHide);
    this.isConnected = true;
    this._post({ t: 'hello', from: this.id });
    this._timer = setInterval(() => this._tick(), this.settings.heartbeatInterval);
    this.emit('open', this.id);
    return this.id;
  }

  send(peerId, data) {
    const bytes = toBytes(data);
    if (bytes === null) throw new TypeError('send: data must be binary (Uint8Array, ArrayBuffer or a view)');
    if (!this.isPeerConnected(peerId)) return false;
    return this.sendWithRetry(peerId, () => this._postOrThrow({ t: 'msg', from: this.id, to: peerId, data: bytes }));
  }

  broadcast(data) {
    const bytes = toBytes(data);
    if (bytes === null) throw new TypeError('broadcast: data must be binary (Uint8Array, ArrayBuffer or a view)');
    const count = this.getConnectionCount();
    if (count === 0) return 0;
    return this.sendWithRetry('*', () => this._postOrThrow({ t: 'msg', from: this.id, data: bytes })) ? count : 0;
  }

  /** Tabs heard from within peerTimeout (connected or refused by maxConnections). */
  async listPeers() {
    return [...this._lastSeen.keys()];
  }

  /** Resolves with the channel once `peerId` is connected (waits up to peerConnectionTimeout). */
  async connectToPeer(peerId) {
    if (!this.channel) throw new P2PError('not-connected', 'connect() first');
    if (!this.isPeerConnected(peerId)) this._post({ t: 'hello', from: this.id });
    return this.waitForPeer(peerId);
  }

  async disconnect() {
    if (!this.channel) return;
    this._post({ t: 'bye', from: this.id });
    clearInterval(this._timer);
    this._timer = null;
    globalThis.removeEventListener?.('pagehide', this._onPageHide);
    this.channel.close();
    this.channel = null;
    this.isConnected = false;
    this.allPeersDown('closed');
    this._lastSeen.clear();
    this._refused.clear();
    this._seen.clear();
    this.emit('close');
  }

  _post(message) {
    try {
      this._postOrThrow(message);
      return true;
    } catch (err) {
      this.emitError('send-failed', `BroadcastChannel refused a message: ${err?.message ?? err}`);
      return false;
    }
  }

  _postOrThrow(message) {
    if (!this.channel) throw new P2PError('not-connected', 'the broadcast adapter is not connected');
    this.channel.postMessage(message);
  }

  _onMessage(m) {
    if (!m || typeof m !== 'object' || typeof m.from !== 'string' || m.from === this.id) return;
    if (m.to !== undefined && m.to !== this.id) return;
    const from = m.from;
    switch (m.t) {
      case 'hello':
        this._heard(from);
        this._post({ t: 'here', from: this.id, to: from });
        break;
      case 'here':
      case 'hb':
        this._heard(from);
        break;
      case 'bye':
        this._forget(from, 'bye');
        break;
      case 'msg':
        this._heard(from);
        if (this.isPeerConnected(from)) this.emit('message', { from, data: m.data, connection: this.channel });
        break;
      default:
        break;
    }
  }

  _heard(peerId) {
    this._lastSeen.set(peerId, Date.now());
    this.peerFound(peerId);
    if (this.isPeerConnected(peerId)) return;
    if (!this.hasRoom()) {
      // Say it once per tab; it is let in when a place frees up and it is heard again.
      if (!this._refused.has(peerId)) {
        this._refused.add(peerId);
        this.emitError(
          'max-connections',
          `refused ${peerId}: ${this.settings.maxConnections} peers connected (maxConnections)`,
          { peerId },
        );
      }
      return;
    }
    this._refused.delete(peerId);
    this.peerUp(peerId, this.channel);
  }

  _forget(peerId, reason) {
    this._lastSeen.delete(peerId);
    this._refused.delete(peerId);
    this.peerDown(peerId, reason);
    this.peerGone(peerId);
  }

  _tick() {
    const limit = Date.now() - this.settings.peerTimeout;
    for (const [peerId, seen] of [...this._lastSeen]) {
      if (seen < limit) this._forget(peerId, 'timeout');
    }
    this._post({ t: 'hb', from: this.id });
  }
}

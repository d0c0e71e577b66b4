// The 'socketio' adapter: frames relayed by a Socket.IO server (servers/socketio-relay.mjs).
//
// Why the protocol is spoken by hand (socketio-client.js) instead of binding the official
// socket.io-client bundle: the adapters are plain ES modules loaded without a bundler, and the
// official client would be one more script every page has to load (or vendor) before
// AuroraDB. What the adapter needs of Socket.IO is small and stable: Engine.IO 4 over a
// WebSocket, events with acknowledgements and binary attachments on the default namespace,
// unchanged since Socket.IO 3 (2020); about 300 lines, tested against the real server. Doing it
// ourselves also keeps one reconnect policy for every adapter (connectionTimeout,
// maxReconnectAttempts, reconnectDelay) instead of the client's own. What is given up: the
// HTTP long-polling fallback, for networks that block WebSockets. The relay works with the
// official client too (its tests use it).
//
// Config: p2pConfig.serverUrl (http(s) or ws(s) URL of the relay), p2pConfig.rooms (default
// [config.name]), p2pConfig.path (default '/socket.io/').
//
// Relay protocol (events on the default namespace):
//   → 'join'  { id, rooms }            ack { ok, peers: [{ id, rooms }] } or { ok: false, error }
//   → 'leave'
//   → 'msg'   { to: id | [ids] }, bytes    ack { ok, delivered } or { ok: false, error }
//   ← 'msg'   { from }, bytes
//   ← 'peer-joined' { id, room }    ← 'peer-left' { id, room }
// A peer is connected while it shares at least one room with us. Losing the relay connection
// drops every peer ('disconnect'), then reconnects with backoff and joins again ('connection').

import { P2PAdapter } from './adapter.js';
import { SocketIoClient } from './socketio-client.js';
import { P2PError, toBytes, withTimeout } from './util.js';

export class SocketIoAdapter extends P2PAdapter {
  static managesPresence = true;

  constructor(config = {}, db = null) {
    super(config, db);
    const p2p = this.config.p2pConfig || {};
    this.serverUrl = p2p.serverUrl ?? null;
    const rooms = Array.isArray(p2p.rooms) && p2p.rooms.length ? p2p.rooms : [this.settings.name];
    this.rooms = [...new Set(rooms.map(String))];
    this.path = typeof p2p.path === 'string' ? p2p.path : '/socket.io/';
    this._WebSocket = p2p.WebSocket ?? globalThis.WebSocket;
    this.client = null;
    this._closing = false;
    this._attaching = null;
    this._roomsOf = new Map();
  }

  async connect() {
    if (this.isConnected) return this.id;
    if (!this.serverUrl) throw new P2PError('invalid-config', "the 'socketio' adapter needs p2pConfig.serverUrl");
    this._closing = false;
    await this._attachOnce();
    return this.id;
  }

  /** One attempt to attach, shared by concurrent callers (connect() during a reconnect). */
  _attachOnce() {
    if (this.isConnected) return Promise.resolve();
    this._attaching ??= this._attach().finally(() => {
      this._attaching = null;
    });
    return this._attaching;
  }

  async _attach() {
    const client = new SocketIoClient(this.serverUrl, {
      path: this.path,
      WebSocket: this._WebSocket,
      onEvent: (name, args) => this._onEvent(client, name, args),
      onClose: (reason) => this._onClientClose(client, reason),
    });
    const timeout = this.settings.connectionTimeout;
    try {
      await withTimeout(client.open(), timeout, `Socket.IO server ${this.serverUrl} did not answer within ${timeout} ms`);
      this.client = client;
      const [reply] = await client.emit('join', [{ id: this.id, rooms: this.rooms }], { ack: true, timeout });
      if (!reply?.ok) {
        const type = reply?.error === 'id-taken' ? 'unavailable-id' : 'server-error';
        throw new P2PError(type, `the relay refused to join: ${reply?.error ?? 'no reason given'}`);
      }
      if (this._closing) throw new P2PError('network', 'disconnected while joining');
      this.isConnected = true;
      this.emit('open', this.id);
      for (const peer of Array.isArray(reply.peers) ? reply.peers : []) {
        for (const room of Array.isArray(peer?.rooms) ? peer.rooms : []) this._present(peer.id, room);
      }
    } catch (err) {
      if (this.client === client) this.client = null;
      client.close();
      throw err;
    }
  }

  send(peerId, data) {
    const bytes = toBytes(data);
    if (bytes === null) throw new TypeError('send: data must be binary (Uint8Array, ArrayBuffer or a view)');
    if (!this.isPeerConnected(peerId)) return false;
    return this.sendWithRetry(peerId, () => this._relay(peerId, bytes));
  }

  broadcast(data) {
    const bytes = toBytes(data);
    if (bytes === null) throw new TypeError('broadcast: data must be binary (Uint8Array, ArrayBuffer or a view)');
    const peers = this.getPeers();
    if (peers.length === 0) return 0;
    return this.sendWithRetry('*', () => this._relay(peers.filter((p) => this.isPeerConnected(p)), bytes)) ? peers.length : 0;
  }

  async _relay(to, bytes) {
    if (!this.client?.connected) throw new P2PError('not-connected', 'not connected to the Socket.IO relay');
    const [reply] = await this.client.emit('msg', [{ to }, bytes], { ack: true, timeout: this.settings.connectionTimeout });
    if (!reply?.ok) throw new P2PError('send-failed', `the relay did not deliver: ${reply?.error ?? 'no reason given'}`);
  }

  /** Peers sharing a room with us (connected, or refused by maxConnections). */
  async listPeers() {
    return [...this._roomsOf.keys()];
  }

  /** Resolves with the relay connection once `peerId` is connected (waits up to peerConnectionTimeout). */
  async connectToPeer(peerId) {
    if (!this.isConnected) throw new P2PError('not-connected', 'connect() first');
    return this.waitForPeer(peerId);
  }

  async disconnect() {
    this._closing = true;
    const client = this.client;
    this.client = null;
    if (client) {
      try {
        if (client.connected) client.emit('leave', []);
      } catch {
        // closing anyway
      }
      client.close();
    }
    const was = this.isConnected;
    this.isConnected = false;
    this._forgetAll('closed');
    if (was) this.emit('close');
  }

  _present(peerId, room) {
    if (typeof peerId !== 'string' || peerId === this.id) return;
    if (!this._roomsOf.has(peerId)) this._roomsOf.set(peerId, new Set());
    this._roomsOf.get(peerId).add(room);
    this.peerFound(peerId);
    if (!this.isPeerConnected(peerId)) this.peerUp(peerId, this.client);
  }

  _absent(peerId, room) {
    const rooms = this._roomsOf.get(peerId);
    if (!rooms) return;
    rooms.delete(room);
    if (rooms.size > 0) return;
    this._roomsOf.delete(peerId);
    this.peerDown(peerId, 'left');
    this.peerGone(peerId);
  }

  _forgetAll(reason) {
    this.allPeersDown(reason);
    this._roomsOf.clear();
    this._seen.clear();
  }

  _onEvent(client, name, args) {
    if (client !== this.client) return;
    const info = args[0];
    switch (name) {
      case 'peer-joined':
        if (info && this.rooms.includes(info.room)) this._present(info.id, info.room);
        break;
      case 'peer-left':
        if (info) this._absent(info.id, info.room);
        break;
      case 'msg': {
        const from = info?.from;
        if (typeof from !== 'string') return;
        if (!this.isPeerConnected(from)) {
          // A peer we refused (maxConnections) or do not share a room with: drop it.
          return;
        }
        this.emit('message', { from, data: args[1], connection: client });
        break;
      }
      default:
        break;
    }
  }

  _onClientClose(client, reason) {
    if (client !== this.client) return;
    this.client = null;
    if (this._closing || !this.isConnected) return;
    this.isConnected = false;
    this._forgetAll('relay connection lost');
    this.emitError('network', `Socket.IO relay connection lost: ${reason}`);
    this.reconnect(() => this._attachOnce(), () => this._closing);
  }
}

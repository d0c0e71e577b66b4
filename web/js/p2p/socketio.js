// The 'socketio' adapter: frames relayed by a Socket.IO server (servers/socketio-relay.mjs),
// spoken through the official client (npm `socket.io-client`), over its WebSocket transport.
//
// Config: p2pConfig.serverUrl (http(s) or ws(s) URL of the relay), p2pConfig.rooms (default
// [config.name]), p2pConfig.path (default '/socket.io/').
//
// The client's own reconnection is off: a lost relay connection is reconnected by the adapter
// base class, with the policy every adapter shares (connectionTimeout per attempt,
// maxReconnectAttempts, reconnectDelay doubling, 'reconnecting' events), and each attempt is a
// fresh Socket.IO connection that joins the rooms again.
//
// Relay protocol (events on the default namespace):
//   → 'join'  { id, rooms }            ack { ok, peers: [{ id, rooms }] } or { ok: false, error }
//   → 'leave'
//   → 'msg'   { to: id | [ids] }, bytes    ack { ok, delivered } or { ok: false, error }
//   ← 'msg'   { from }, bytes
//   ← 'peer-joined' { id, room }    ← 'peer-left' { id, room }
// A peer is connected while it shares at least one room with us. Losing the relay connection
// drops every peer ('disconnect'), then reconnects with backoff and joins again ('connection').

import { io } from 'socket.io-client';
import { P2PAdapter } from './adapter.js';
import { P2PError, toBytes, toWebSocketUrl, withTimeout } from './util.js';

/** The Socket.IO socket's acknowledged emit, with our error types: 'timeout' when no ack came. */
async function emitWithAck(socket, timeout, event, ...args) {
  try {
    return await socket.timeout(timeout).emitWithAck(event, ...args);
  } catch (err) {
    throw new P2PError('timeout', `no acknowledgement of '${event}' within ${timeout} ms (${err?.message ?? err})`);
  }
}

export class SocketIoAdapter extends P2PAdapter {
  static managesPresence = true;

  constructor(config = {}, db = null) {
    super(config, db);
    const p2p = this.config.p2pConfig || {};
    this.serverUrl = p2p.serverUrl ?? null;
    const rooms = Array.isArray(p2p.rooms) && p2p.rooms.length ? p2p.rooms : [this.settings.name];
    this.rooms = [...new Set(rooms.map(String))];
    this.path = typeof p2p.path === 'string' ? p2p.path : '/socket.io/';
    /** The Socket.IO socket of the current relay connection, or null. */
    this.socket = null;
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

  /** Opens a Socket.IO connection (resolves once the namespace is connected). */
  _open(timeout) {
    // The client takes http(s) URLs; ws(s) ones name the same server.
    const url = toWebSocketUrl(this.serverUrl);
    url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    const socket = io(url.origin, {
      path: this.path,
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      autoConnect: false,
      timeout,
    });
    const opened = new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', (err) => {
        const text = `Socket.IO server ${this.serverUrl}: ${err?.message ?? err}`;
        reject(new P2PError(err?.message === 'timeout' ? 'timeout' : 'network', text));
      });
    });
    socket.connect();
    return { socket, opened };
  }

  async _attach() {
    const timeout = this.settings.connectionTimeout;
    const { socket, opened } = this._open(timeout);
    try {
      await withTimeout(opened, timeout, `Socket.IO server ${this.serverUrl} did not answer within ${timeout} ms`);
      this.socket = socket;
      socket.on('disconnect', (reason) => this._onDisconnect(socket, reason));
      for (const event of ['peer-joined', 'peer-left', 'msg'])
        socket.on(event, (...args) => this._onEvent(socket, event, args));
      const reply = await emitWithAck(socket, timeout, 'join', { id: this.id, rooms: this.rooms });
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
      if (this.socket === socket) this.socket = null;
      socket.disconnect();
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
    return this.sendWithRetry('*', () =>
      this._relay(
        peers.filter((p) => this.isPeerConnected(p)),
        bytes,
      ),
    )
      ? peers.length
      : 0;
  }

  async _relay(to, bytes) {
    // Checked here: the client would otherwise buffer the frame until a reconnect.
    if (!this.socket?.connected) throw new P2PError('not-connected', 'not connected to the Socket.IO relay');
    const reply = await emitWithAck(this.socket, this.settings.connectionTimeout, 'msg', { to }, bytes);
    if (!reply?.ok)
      throw new P2PError('send-failed', `the relay did not deliver: ${reply?.error ?? 'no reason given'}`);
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
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      if (socket.connected) socket.emit('leave');
      socket.disconnect();
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
    if (!this.isPeerConnected(peerId)) this.peerUp(peerId, this.socket);
  }

  _absent(peerId, room) {
    const rooms = this._roomsOf.get(peerId);
    if (!rooms) return;
    rooms.delete(room);
    if (rooms.size > 0) return;
    this._roomsOf.delete(peerId);
    const was = this.peerDown(peerId, 'left');
    this.peerGone(peerId);
    // A place under maxConnections is free: the peers refused for want of one, still in a room
    // with us, take it in turn (they stayed refused for good).
    if (!was) return;
    for (const other of this._roomsOf.keys()) {
      if (!this.hasRoom()) break;
      if (!this.isPeerConnected(other)) this.peerUp(other, this.socket);
    }
  }

  _forgetAll(reason) {
    this.allPeersDown(reason);
    this._roomsOf.clear();
    this._seen.clear();
  }

  _onEvent(socket, name, args) {
    if (socket !== this.socket) return;
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
        this.emit('message', { from, data: args[1], connection: socket });
        break;
      }
      default:
        break;
    }
  }

  _onDisconnect(socket, reason) {
    if (socket !== this.socket) return;
    this.socket = null;
    socket.disconnect();
    if (this._closing || !this.isConnected) return;
    this.isConnected = false;
    this._forgetAll('relay connection lost');
    this.emitError('network', `Socket.IO relay connection lost: ${reason}`);
    this.reconnect(
      () => this._attachOnce(),
      () => this._closing,
    );
  }
}

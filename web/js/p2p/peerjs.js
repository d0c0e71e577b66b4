// The 'peerjs' adapter: signaling through a PeerJS server (npm `peer`, servers/peerjs.mjs) with
// the official PeerJS client (npm `peerjs`), frames over its data connections.
//
// Config (as in the README): `server: { host, port, path, key?, secure? }` (also accepted in
// p2pConfig.server; defaults: the page's host, port 9000, path '/', key 'peerjs', secure on
// https pages); p2pConfig.peers: ids to connect to; p2pConfig.discovery (default true) and
// p2pConfig.discoveryInterval (ms, default 5000): poll the server's peer list,
// GET <path><key>/peers, which a PeerJS server answers only when started with
// `allow_discovery: true` (servers/peerjs.mjs does); without it, pass the ids in
// p2pConfig.peers or call connectToPeer(id). rtcConfig as for 'webrtc'.
//
// What the client does: the server connection (with its heartbeats), the OFFER / ANSWER /
// CANDIDATE exchange, and one RTCPeerConnection per data connection. Each connection is opened
// with `reliable: true` (an ordered channel: the client's default is unordered) and
// `serialization: 'raw'` (bytes pass through untouched; the client's default, 'binary', is its
// own encoding with its own chunking), and carries this project's chunked frames (chunks.js),
// so the adapter shares a server with other PeerJS apps but exchanges data only with AuroraDB
// peers (the connection's metadata names the channel protocol).
//
// What stays ours, on top of the client: the mesh rules (rtc-mesh.js: who offers, glare,
// maxConnections, heartbeats over the channel, reconnecting a dropped link with backoff), the
// reconnect policy of a lost server connection (the base class's, as for every adapter: the
// client itself never retries), and the peer list. Peer.listAllPeers() is not used: on any
// failure (a server without discovery answers 401) it disconnects the Peer from the server, so
// the adapter fetches the same URL itself.

import * as peerjs from 'peerjs';
import { CHANNEL_PROTOCOL } from './chunks.js';
import { MeshAdapter } from './rtc-adapter.js';
import { RtcMesh, newConnectionId } from './rtc-mesh.js';
import { P2PError, isValidPeerId, jittered, sleep } from './util.js';

// The package is an ES module to bundlers (its "module" entry) and CommonJS to node, whose
// named-export detection misses its exports (node tests import this file): Peer from either.
const Peer = peerjs.Peer ?? peerjs.default.Peer;

/** Waits (ms) before attaching again while our own previous session still holds the id: the first, the longest. */
const ID_RETRY_DELAY = 25;
const ID_RETRY_MAX = 500;

/** Peer errors that mean the server connection attempt failed, and ours for them. */
const ATTACH_ERRORS = {
  'unavailable-id': 'unavailable-id',
  network: 'network',
  'socket-error': 'network',
  'socket-closed': 'network',
  'server-error': 'server-error',
  'invalid-key': 'server-error',
  'ssl-unavailable': 'server-error',
  'invalid-id': 'invalid-config',
  'browser-incompatible': 'invalid-config',
};

function normalizePath(path) {
  let p = String(path || '/');
  if (!p.startsWith('/')) p = `/${p}`;
  if (!p.endsWith('/')) p += '/';
  return p;
}

/**
 * A PeerJS DataConnection as the data channel the mesh drives (the RTCDataChannel properties
 * and handlers rtc-mesh.js uses), through the connection's own API: `send`, `close` and its
 * 'open', 'data', 'close' and 'error' events.
 */
class ConnectionChannel {
  constructor(conn) {
    this.conn = conn;
    this.onopen = null;
    this.onclose = null;
    this.onmessage = null;
    this.onbufferedamountlow = null;
    this.binaryType = 'arraybuffer'; // what raw connections deliver anyway
    this._threshold = 0;
    this._closed = false;
    conn.on('open', () => {
      const dc = conn.dataChannel;
      dc.bufferedAmountLowThreshold = this._threshold;
      dc.addEventListener('bufferedamountlow', () => this.onbufferedamountlow?.());
      this.onopen?.();
    });
    conn.on('data', (data) => this.onmessage?.({ data }));
    // A connection that fails before it opens emits 'error' and no 'close'.
    const gone = () => {
      if (this._closed) return;
      this._closed = true;
      this.onclose?.();
    };
    conn.on('close', gone);
    conn.on('error', gone);
  }

  get readyState() {
    if (this._closed) return 'closed';
    if (this.conn.open) return 'open';
    // The client closes a connection that never opened without an event (it does so for every
    // connection to a peer the server says LEAVE of); it drops its RTCPeerConnection then.
    return this.conn.peerConnection ? 'connecting' : 'closed';
  }

  get bufferedAmount() {
    return this.conn.dataChannel?.bufferedAmount ?? 0;
  }

  set bufferedAmountLowThreshold(bytes) {
    this._threshold = bytes;
    if (this.conn.dataChannel) this.conn.dataChannel.bufferedAmountLowThreshold = bytes;
  }

  get bufferedAmountLowThreshold() {
    return this._threshold;
  }

  /** The peer's id. */
  get peer() {
    return this.conn.peer;
  }

  send(bytes) {
    this.conn.send(bytes);
  }

  close() {
    this._closed = true;
    this.conn.close();
  }
}

/** The mesh with PeerJS data connections in place of hand-made offers and answers. */
class PeerJsMesh extends RtcMesh {
  constructor(adapter) {
    // Signals are the client's business: nothing goes through the mesh's signal function.
    super(adapter, () => false);
  }

  async _offer(peerId) {
    if (!this.adapter.hasRoom()) {
      this._rejectWaiters(
        peerId,
        new P2PError('max-connections', `maxConnections (${this.settings.maxConnections}) reached`, { peerId }),
      );
      return;
    }
    const cid = newConnectionId();
    const link = this._newLink(peerId, cid, true);
    const peer = this.adapter.peer;
    const conn =
      peer && !peer.disconnected && !peer.destroyed
        ? peer.connect(peerId, {
            connectionId: cid,
            label: cid,
            reliable: true,
            serialization: 'raw',
            metadata: { protocol: CHANNEL_PROTOCOL },
          })
        : null;
    if (!conn) {
      this._fail(link, 'signaling server not connected');
      return;
    }
    this._setupChannel(link, new ConnectionChannel(conn));
  }

  /** Also fails, at each heartbeat, the links whose connection the client closed before it opened. */
  _heartbeat() {
    for (const link of [...this.links.values(), ...this.successors.values()]) {
      if (link.state === 'connecting' && link.dc?.readyState === 'closed')
        this._fail(link, 'closed by the PeerJS client before it opened');
    }
    super._heartbeat();
  }

  /**
   * Also forgets that the server listed the peer, so a discovery poll that still lists it
   * later wants it again (from the first attempt): two peers that both stay on the server
   * never stop trying to link.
   */
  _giveUp(peerId, attempts) {
    super._giveUp(peerId, attempts);
    this.adapter._listed.delete(peerId);
  }

  /** A data connection a peer offered (the Peer's 'connection' event). */
  accept(conn) {
    const from = conn.peer;
    if (this.closed || from === this.adapter.id) {
      conn.close();
      return;
    }
    if (conn.metadata?.protocol !== CHANNEL_PROTOCOL || conn.serialization !== 'raw' || !conn.reliable) {
      this.adapter.emitError(
        'invalid-frame',
        `${from} offered a ${conn.serialization} connection of protocol '${conn.metadata?.protocol}', expected a reliable raw '${CHANNEL_PROTOCOL}' one`,
        {
          peerId: from,
        },
      );
      conn.close();
      return;
    }
    const verdict = this._admit(from, conn.connectionId, this.links.get(from));
    if (verdict !== 'accept' && verdict !== 'succeed') {
      // The offerer's link fails on its own (peerConnectionTimeout): PeerJS has no way to
      // refuse one connection without dropping every other one to that peer.
      conn.close();
      return;
    }
    const link = this._newLink(from, conn.connectionId, false, verdict === 'succeed');
    this._setupChannel(link, new ConnectionChannel(conn));
  }
}

export class PeerJsAdapter extends MeshAdapter {
  static adapterName = 'peerjs';

  constructor(config = {}, db = null) {
    super(config, db);
    const p2p = this.config.p2pConfig || {};
    const server = this.config.server || p2p.server || {};
    const loc = globalThis.location;
    this.server = {
      host: server.host ?? (loc?.hostname || 'localhost'),
      port: Number(server.port ?? 9000),
      path: normalizePath(server.path),
      key: server.key ?? 'peerjs',
      secure: Boolean(server.secure ?? loc?.protocol === 'https:'),
    };
    this.mesh = new PeerJsMesh(this);
    /** The PeerJS client (a Peer) while connected or reconnecting, else null. */
    this.peer = null;
    this.knownPeers = Array.isArray(p2p.peers) ? p2p.peers.filter((p) => isValidPeerId(p) && p !== this.id) : [];
    this.discovery = p2p.discovery !== false;
    this.discoveryInterval =
      Number.isFinite(p2p.discoveryInterval) && p2p.discoveryInterval > 0 ? p2p.discoveryInterval : 5000;
    this._listed = new Set();
    this._discoveryTimer = null;
    this._discoveryOff = false;
    /** The server session a discovery poll is running for (null: none running). */
    this._discovering = null;
    /** Counts the server sessions (each attach): a peer list fetched in an earlier one is stale. */
    this._session = 0;
    this._closing = false;
    this._attaching = null;
    /** True once this adapter has been attached with its id (its own session may linger). */
    this._heldId = false;
  }

  _origin(scheme) {
    const host = this.server.host.includes(':') ? `[${this.server.host}]` : this.server.host;
    return `${scheme}://${host}:${this.server.port}${this.server.path}`;
  }

  /** The URL of the server's peer list. */
  get peersUrl() {
    return `${this._origin(this.server.secure ? 'https' : 'http')}${encodeURIComponent(this.server.key)}/peers`;
  }

  /** A Peer for this adapter, its events wired; it starts connecting at once. */
  _newPeer() {
    const peer = new Peer(this.id, {
      host: this.server.host,
      port: this.server.port,
      path: this.server.path,
      key: this.server.key,
      secure: this.server.secure,
      config: this.settings.rtcConfig,
      debug: 0,
    });
    peer.on('connection', (conn) => {
      if (this.peer === peer) this.mesh.accept(conn);
      else conn.close();
    });
    peer.on('disconnected', () => {
      if (this.peer === peer) this._lost('PeerJS server connection lost');
    });
    peer.on('error', (err) => {
      if (this.peer !== peer) return;
      // The server could not deliver our offer (the peer is not on the server): fail that link
      // now rather than at peerConnectionTimeout. The client names the peer only in the text.
      const unreachable = err?.type === 'peer-unavailable' && /^Could not connect to peer (.+)$/.exec(err.message);
      if (unreachable) this.mesh.unreachable(unreachable[1], 'peer not on the PeerJS server');
    });
    return peer;
  }

  /**
   * Attaches to the server within connectionTimeout. When the server answers that our id is
   * taken and this adapter held that id before (a connect() right after disconnect()), the id
   * is still our previous session's until the server sees its socket close, a few milliseconds
   * on loopback: the attempt is made again after a short wait that doubles and is jittered,
   * until connectionTimeout has passed ('unavailable-id' then).
   */
  async _attach() {
    const deadline = Date.now() + this.settings.connectionTimeout;
    for (let attempt = 0; ; attempt++) {
      try {
        await this._attachTry(deadline - Date.now());
        this._heldId = true;
        return;
      } catch (err) {
        const wait = jittered(Math.min(ID_RETRY_DELAY * 2 ** attempt, ID_RETRY_MAX));
        if (err?.type !== 'unavailable-id' || !this._heldId || this._closing || Date.now() + wait >= deadline)
          throw err;
        await sleep(wait);
        if (this._closing) throw new P2PError('network', 'disconnected while attaching');
      }
    }
  }

  /**
   * One attempt to attach to the server, bounded by `timeout` ms: a new Peer the first time (or
   * after it was destroyed), else the same Peer reconnecting with its id and token.
   */
  _attachTry(timeout) {
    const where = `PeerJS server ${this._origin(this.server.secure ? 'wss' : 'ws')}`;
    return new Promise((resolve, reject) => {
      let peer = this.peer;
      let settled = false;
      const finish = (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        peer.off('open', onOpen);
        peer.off('error', onError);
        if (err) {
          // Stop this attempt's socket; a later attempt reconnects (or starts a new Peer).
          if (!peer.disconnected && !peer.destroyed) peer.disconnect();
          reject(err);
          return;
        }
        if (this._closing || this.peer !== peer) {
          reject(new P2PError('network', 'disconnected while attaching'));
          return;
        }
        this.isConnected = true;
        this._onAttached();
        this.emit('open', this.id);
        resolve();
      };
      const onOpen = () => finish(null);
      const onError = (err) => {
        const type = ATTACH_ERRORS[err?.type];
        if (type) finish(new P2PError(type, `${where}: ${err.message || err.type}`));
      };
      const timer = setTimeout(
        () => finish(new P2PError('timeout', `${where} did not answer within ${timeout} ms`)),
        timeout,
      );
      try {
        if (!peer || peer.destroyed) {
          peer = this._newPeer();
          this.peer = peer;
        } else {
          peer.reconnect();
        }
      } catch (err) {
        settled = true;
        clearTimeout(timer);
        reject(new P2PError('network', `${where}: ${err?.message ?? err}`));
        return;
      }
      peer.on('open', onOpen);
      peer.on('error', onError);
    });
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

  _onAttached() {
    this._onDetached();
    this._session += 1;
    for (const peerId of this.knownPeers) {
      this.peerFound(peerId);
      this.mesh.want(peerId, { explicit: true });
    }
    if (this.discovery && !this._discoveryOff) {
      this._discover(true);
      this._discoveryTimer = setInterval(() => this._discover(false), this.discoveryInterval);
    }
  }

  _onDetached() {
    clearInterval(this._discoveryTimer);
    this._discoveryTimer = null;
  }

  /**
   * Ids of the other peers on the server (its peer list), or, when discovery is off or
   * disabled on the server, the configured and connected ones.
   */
  async listPeers() {
    if (!this.discovery || this._discoveryOff) return [...new Set([...this.knownPeers, ...this.getPeers()])];
    const ids = await this._fetchPeers();
    return ids.filter((p) => p !== this.id);
  }

  async _fetchPeers() {
    let res;
    try {
      res = await fetch(this.peersUrl, { cache: 'no-store' });
    } catch (err) {
      throw new P2PError('network', `cannot list peers at ${this.peersUrl}: ${err?.message ?? err}`);
    }
    if (res.status === 401) {
      throw new P2PError(
        'server-error',
        'peer discovery is disabled on the PeerJS server: start it with allow_discovery: true, or pass p2pConfig.peers',
        {
          discoveryDisabled: true,
        },
      );
    }
    if (!res.ok) throw new P2PError('server-error', `peer list answered HTTP ${res.status}`);
    const list = await res.json().catch(() => null);
    if (!Array.isArray(list)) throw new P2PError('server-error', 'the peer list is not a JSON array');
    return list.filter(isValidPeerId);
  }

  /**
   * Polls the server's peer list and wants the peers new to it. A poll still running from an
   * earlier session (a disconnect() and connect() while the request was out) neither holds up
   * this session's first poll nor is used: its list may predate peers that came back since,
   * which would then wait for the next poll (discoveryInterval) to be found.
   */
  async _discover(initial) {
    const session = this._session;
    if (this._discovering === session) return;
    this._discovering = session;
    try {
      let ids;
      try {
        ids = await this._fetchPeers();
      } catch (err) {
        if (err.discoveryDisabled) {
          this._discoveryOff = true;
          clearInterval(this._discoveryTimer);
          this._discoveryTimer = null;
          this.emitError('server-error', err.message);
        }
        return;
      }
      if (!this.isConnected || session !== this._session) return;
      const now = new Set(ids.filter((p) => p !== this.id));
      for (const peerId of now) {
        if (this._listed.has(peerId)) continue;
        this.peerFound(peerId);
        this.mesh.want(peerId);
        // A newcomer offers to everyone already there, whatever the ids.
        if (initial && !this.mesh.initiates(peerId) && !this.mesh.links.has(peerId) && this.hasRoom()) {
          this.mesh.connect(peerId).catch(() => {});
        }
      }
      for (const peerId of this._listed) {
        if (now.has(peerId) || this.knownPeers.includes(peerId)) continue;
        this.peerGone(peerId);
        this.mesh.unwant(peerId);
      }
      this._listed = now;
    } finally {
      if (this._discovering === session) this._discovering = null;
    }
  }

  async disconnect() {
    this._closing = true;
    const was = this.isConnected || this.getConnectionCount() > 0;
    // Open links are told BYE over their channels and closed a moment later (rtc-mesh.js).
    this.mesh.stop('closed');
    this._onDetached();
    const peer = this.peer;
    this.peer = null;
    if (peer) {
      // No LEAVE to the server before the socket closes: the PeerJS server (npm `peer` 1.0.2)
      // forgets the id on a LEAVE, and forgets it again by id when it sees that socket close;
      // if a connect() right after this one has registered the id in between, the second
      // removal drops the new session from the server while its socket stays open, and no
      // peer can reach it again (see the README, Adapters). A connect() that comes too early
      // is answered "ID taken" and tried again (_attach).
      peer.disconnect();
      setTimeout(() => peer.destroy(), 100);
    }
    this.isConnected = false;
    this.allPeersDown('closed');
    this._seen.clear();
    this._listed.clear();
    if (was) this.emit('close');
  }
}

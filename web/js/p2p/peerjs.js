// The 'peerjs' adapter: signaling through a PeerJS server (npm `peer`, servers/peerjs.mjs),
// frames over WebRTC data channels. It speaks the PeerJS server protocol itself, so pages need
// no peerjs script.
//
// Config (as in the README): `server: { host, port, path, key?, secure? }` (also accepted in
// p2pConfig.server; defaults: the page's host, port 9000, path '/', key 'peerjs', secure on
// https pages); p2pConfig.peers: ids to connect to; p2pConfig.discovery (default true) and
// p2pConfig.discoveryInterval (ms, default 5000): poll the server's peer list,
// GET <path><key>/peers, which a PeerJS server answers only when started with
// `allow_discovery: true` (servers/peerjs.mjs does); without it, pass the ids in
// p2pConfig.peers or call connectToPeer(id). rtcConfig as for 'webrtc'.
//
// Server protocol used (JSON over ws(s)://host:port<path>peerjs?key=&id=&token=&version=):
//   ← OPEN | ID-TAKEN | ERROR                       → HEARTBEAT every 5 s
//   → OFFER / ANSWER / CANDIDATE { dst, payload }   ← the same with `src`, relayed by the server
//   → LEAVE { dst, payload: { connectionId } }      (our 'bye' for one connection)
//   ← EXPIRE { src }: an offer to `src` expired, that peer is not on the server
// Payloads follow PeerJS's: { sdp | candidate, type: 'data', connectionId, label, reliable,
// serialization: 'raw' }. The data channel carries this project's chunked frames (chunks.js),
// so the adapter shares the server with peerjs apps but exchanges data only with AuroraDB peers.

import { CHANNEL_PROTOCOL } from './chunks.js';
import { RtcSignalingAdapter } from './rtc-adapter.js';
import { P2PError, isValidPeerId, randomId } from './util.js';

const HEARTBEAT_MS = 5000;
/** A reconnect whose server still holds our session gets no OPEN: accept a quiet socket after this. */
const REBIND_GRACE_MS = 1500;
const CLIENT_VERSION = '1.5.5';

function normalizePath(path) {
  let p = String(path || '/');
  if (!p.startsWith('/')) p = `/${p}`;
  if (!p.endsWith('/')) p += '/';
  return p;
}

export class PeerJsAdapter extends RtcSignalingAdapter {
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
    this.token = randomId().slice(0, 16);
    this.knownPeers = Array.isArray(p2p.peers) ? p2p.peers.filter((p) => isValidPeerId(p) && p !== this.id) : [];
    this.discovery = p2p.discovery !== false;
    this.discoveryInterval = Number.isFinite(p2p.discoveryInterval) && p2p.discoveryInterval > 0 ? p2p.discoveryInterval : 5000;
    this._listed = new Set();
    this._discoveryTimer = null;
    this._heartbeatTimer = null;
    this._discoveryOff = false;
    this._discovering = false;
  }

  _origin(scheme) {
    const host = this.server.host.includes(':') ? `[${this.server.host}]` : this.server.host;
    return `${scheme}://${host}:${this.server.port}${this.server.path}`;
  }

  _serverUrl() {
    const query = new URLSearchParams({ key: this.server.key, id: this.id, token: this.token, version: CLIENT_VERSION });
    return `${this._origin(this.server.secure ? 'wss' : 'ws')}peerjs?${query}`;
  }

  /** The URL of the server's peer list. */
  get peersUrl() {
    return `${this._origin(this.server.secure ? 'https' : 'http')}${encodeURIComponent(this.server.key)}/peers`;
  }

  _socketOpened(ws, attach) {
    if (!this._attachedOnce) return;
    setTimeout(() => {
      if (this.ws === ws && !attach.settled) attach.ok();
    }, REBIND_GRACE_MS);
  }

  _serverMessage(msg, attach) {
    const src = typeof msg.src === 'string' ? msg.src : null;
    const payload = msg.payload && typeof msg.payload === 'object' ? msg.payload : {};
    const cid = typeof payload.connectionId === 'string' ? payload.connectionId : null;
    switch (msg.type) {
      case 'OPEN':
        attach.ok();
        break;
      case 'ID-TAKEN':
      case 'ERROR': {
        const type = msg.type === 'ID-TAKEN' ? 'unavailable-id' : 'server-error';
        const text = `PeerJS server: ${payload.msg ?? msg.type}`;
        if (!attach.settled) attach.fail(new P2PError(type, text));
        else this.emitError(type, text);
        break;
      }
      case 'OFFER':
        if (src && cid && payload.sdp) {
          this.peerFound(src);
          this.mesh.handleSignal(src, { kind: 'offer', cid, sdp: payload.sdp });
        }
        break;
      case 'ANSWER':
        if (src && cid && payload.sdp) this.mesh.handleSignal(src, { kind: 'answer', cid, sdp: payload.sdp });
        break;
      case 'CANDIDATE':
        if (src && cid && payload.candidate) this.mesh.handleSignal(src, { kind: 'candidate', cid, candidate: payload.candidate });
        break;
      case 'LEAVE': {
        if (!src) break;
        const target = cid ?? this.mesh.links.get(src)?.cid;
        if (target) this.mesh.handleSignal(src, { kind: 'bye', cid: target });
        if (!cid) this.mesh.unwant(src);
        break;
      }
      case 'EXPIRE':
        if (src) this.mesh.unreachable(src, 'peer not on the PeerJS server');
        break;
      default:
        break;
    }
  }

  _sendSignal(peerId, msg) {
    if (!this.isConnected) return false;
    switch (msg.kind) {
      case 'offer':
        return this._sendJson({
          type: 'OFFER',
          dst: peerId,
          payload: {
            sdp: msg.sdp,
            type: 'data',
            connectionId: msg.cid,
            label: msg.cid,
            reliable: true,
            serialization: 'raw',
            metadata: { protocol: CHANNEL_PROTOCOL },
          },
        });
      case 'answer':
        return this._sendJson({ type: 'ANSWER', dst: peerId, payload: { sdp: msg.sdp, type: 'data', connectionId: msg.cid } });
      case 'candidate':
        return this._sendJson({ type: 'CANDIDATE', dst: peerId, payload: { candidate: msg.candidate, type: 'data', connectionId: msg.cid } });
      case 'bye':
        return this._sendJson({ type: 'LEAVE', dst: peerId, payload: { connectionId: msg.cid } });
      default:
        return false;
    }
  }

  _onAttached() {
    this._onDetached();
    this._heartbeatTimer = setInterval(() => this._sendJson({ type: 'HEARTBEAT' }), HEARTBEAT_MS);
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
    clearInterval(this._heartbeatTimer);
    clearInterval(this._discoveryTimer);
    this._heartbeatTimer = null;
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
      throw new P2PError('server-error', 'peer discovery is disabled on the PeerJS server: start it with allow_discovery: true, or pass p2pConfig.peers', {
        discoveryDisabled: true,
      });
    }
    if (!res.ok) throw new P2PError('server-error', `peer list answered HTTP ${res.status}`);
    const list = await res.json().catch(() => null);
    if (!Array.isArray(list)) throw new P2PError('server-error', 'the peer list is not a JSON array');
    return list.filter(isValidPeerId);
  }

  async _discover(initial) {
    if (this._discovering) return;
    this._discovering = true;
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
      if (!this.isConnected) return;
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
      this._discovering = false;
    }
  }

  async disconnect() {
    await super.disconnect();
    this._listed.clear();
  }
}

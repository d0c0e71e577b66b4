// The 'webrtc' adapter: frames over WebRTC data channels, signaling through our own WebSocket
// server (servers/signaling.mjs).
//
// Config: p2pConfig.signalingServer (ws(s) URL, required), p2pConfig.room (default
// config.name), p2pConfig.rtcConfig or config.rtcConfig (given to RTCPeerConnection; default
// { iceServers: [] }: host candidates only, add STUN/TURN servers for peers behind NAT).
//
// Signaling protocol (JSON text messages):
//   → { type: 'join', room, id }        ← { type: 'joined', id, room, peers: [ids] }
//   → { type: 'signal', to, data }      ← { type: 'signal', from, data }
//   → { type: 'leave' }                 ← { type: 'peer-joined', id }  ← { type: 'peer-left', id }
//   ← { type: 'error', code, message, to? }   codes: 'id-taken', 'unknown-peer', 'bad-request'
// `data` is a mesh signal (offer, answer, candidate, bye; see rtc-mesh.js). Peers in the room
// connect to each other: the one with the smaller id offers.

import { RtcSignalingAdapter } from './rtc-adapter.js';
import { P2PError, toWebSocketUrl } from './util.js';

export class WebRtcAdapter extends RtcSignalingAdapter {
  static adapterName = 'webrtc';

  constructor(config = {}, db = null) {
    super(config, db);
    const p2p = this.config.p2pConfig || {};
    this.signalingServer = p2p.signalingServer ?? null;
    this.room = typeof p2p.room === 'string' && p2p.room ? p2p.room : this.settings.name;
    this.roster = new Set();
  }

  _serverUrl() {
    if (!this.signalingServer)
      throw new P2PError('invalid-config', "the 'webrtc' adapter needs p2pConfig.signalingServer");
    return toWebSocketUrl(this.signalingServer).toString();
  }

  /** Ids of the other peers in the room, as the signaling server last told. */
  async listPeers() {
    return [...this.roster];
  }

  _socketOpened() {
    this._sendJson({ type: 'join', room: this.room, id: this.id });
  }

  _serverMessage(msg, attach) {
    switch (msg.type) {
      case 'joined': {
        const peers = Array.isArray(msg.peers) ? msg.peers.filter((p) => typeof p === 'string' && p !== this.id) : [];
        for (const gone of this.roster) if (!peers.includes(gone)) this._left(gone);
        this.roster = new Set(peers);
        attach.ok();
        for (const peerId of peers) this._joined(peerId);
        break;
      }
      case 'peer-joined':
        if (typeof msg.id === 'string' && msg.id !== this.id) this._joined(msg.id);
        break;
      case 'peer-left':
        if (typeof msg.id === 'string') this._left(msg.id);
        break;
      case 'signal':
        if (typeof msg.from === 'string') this.mesh.handleSignal(msg.from, msg.data);
        break;
      case 'error':
        if (!attach.settled) {
          const type = msg.code === 'id-taken' ? 'unavailable-id' : 'server-error';
          attach.fail(new P2PError(type, `signaling server: ${msg.message ?? msg.code}`));
        } else if (msg.code === 'unknown-peer' && typeof msg.to === 'string') {
          this.mesh.unreachable(msg.to, 'peer not in the room');
        } else {
          this.emitError('server-error', `signaling server: ${msg.message ?? msg.code}`);
        }
        break;
      default:
        break;
    }
  }

  _joined(peerId) {
    this.roster.add(peerId);
    this.peerFound(peerId);
    this.mesh.want(peerId);
  }

  _left(peerId) {
    this.roster.delete(peerId);
    this.peerGone(peerId);
    this.mesh.unwant(peerId);
  }

  _sendSignal(peerId, data) {
    return this.isConnected && this._sendJson({ type: 'signal', to: peerId, data });
  }

  _beforeClose() {
    this._sendJson({ type: 'leave' });
  }

  async disconnect() {
    await super.disconnect();
    this.roster.clear();
  }
}

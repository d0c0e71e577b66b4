// WebRTC data channels to many peers, shared by the 'peerjs' and 'webrtc' adapters. The mesh
// does no signaling itself: it hands signals to the adapter's `signal(peerId, msg)` and takes
// the remote ones in `handleSignal(from, msg)`. (The 'peerjs' adapter replaces the connecting
// part, `_offer` and the answering side, with the official PeerJS client's data connections, and
// keeps the rest: see peerjs.js.) Signals:
//
//   { kind: 'offer',     cid, sdp: { type, sdp } }
//   { kind: 'answer',    cid, sdp: { type, sdp } }
//   { kind: 'candidate', cid, candidate: { candidate, sdpMid, sdpMLineIndex, usernameFragment } }
//   { kind: 'bye',       cid }                        optional: the sender closed that connection
//
// One link (RTCPeerConnection + one ordered, reliable data channel) per peer. Rules:
// - automatic connections (discovery, reconnects) are opened by the peer with the smaller id,
//   so two peers rarely offer at once; when they do (glare), the offer of the smaller id wins;
// - an offer from a peer that already has an open link is answered while that link stays up:
//   the new link replaces it once it opens (the peer restarted), and fails on its own if it
//   never does (an offer of a session of the peer that is gone, which a server delivered late,
//   or a forged one), leaving the open link as it was;
// - a link that does not open within peerConnectionTimeout fails; a link that stops hearing
//   from its peer for peerTimeout (PINGs go every heartbeatInterval) is dropped;
// - a dropped or failed link to a peer we want is opened again with backoff (reconnectDelay,
//   doubling, each wait jittered between half and all of it, at most maxReconnectAttempts),
//   then the peer is given up ('peer-unavailable').

import { CHANNEL_PROTOCOL, ChunkKind, Reassembler, controlChunk, encodeFrame } from './chunks.js';
import { P2PError, backoffDelay, jittered, randomId } from './util.js';

const HIGH_WATER = 4 << 20;
const LOW_WATER = 1 << 20;
const MAX_QUEUED = 64 << 20;

/** A connection id: 'dc_' and 16 hex digits. */
export function newConnectionId() {
  return `dc_${randomId().slice(0, 16)}`;
}

class Link {
  constructor(peerId, cid, initiator, reassemblerLimit) {
    this.peerId = peerId;
    this.cid = cid;
    this.initiator = initiator;
    this.pc = null;
    this.dc = null;
    this.state = 'connecting';
    this.remoteSet = false;
    this.pendingCandidates = [];
    this.reasm = new Reassembler(reassemblerLimit);
    this.lastSeen = Date.now();
    this.timer = null;
    this.queue = [];
    this.queuedBytes = 0;
  }
}

/** The WebRTC links of one adapter. */
export class RtcMesh {
  /**
   * @param adapter the owning P2PAdapter (settings, peer table, events)
   * @param signal `(peerId, msg) => boolean`: sends a signal through the server; false when
   *   the server connection is down
   */
  constructor(adapter, signal) {
    this.adapter = adapter;
    this.settings = adapter.settings;
    this.signal = signal;
    this.links = new Map();
    /** peerId → the link answering the peer's newer offer while the open link to it stays up. */
    this.successors = new Map();
    this.wanted = new Map();
    this.waiters = new Map();
    this.closed = true;
    this._tick = null;
    this._fill = null;
  }

  /** Starts the heartbeat timer. */
  start() {
    this.closed = false;
    if (this._tick === null) this._tick = setInterval(() => this._heartbeat(), this.settings.heartbeatInterval);
  }

  /** Closes every link (telling each peer BYE) and stops all timers. */
  stop(reason = 'closed') {
    this.closed = true;
    if (this._tick !== null) clearInterval(this._tick);
    this._tick = null;
    for (const entry of this.wanted.values()) clearTimeout(entry.timer);
    this.wanted.clear();
    for (const link of [...this.successors.values(), ...this.links.values()]) this._close(link, reason, true);
    this.links.clear();
    this.successors.clear();
  }

  /** True when this side opens automatic connections to `peerId`. */
  initiates(peerId) {
    return this.adapter.id < peerId;
  }

  /**
   * Marks `peerId` as a peer to stay connected to, and connects when this side initiates
   * (`explicit` connects whatever the ids: a peer named by the app or the config).
   */
  want(peerId, { explicit = false } = {}) {
    if (this.closed || peerId === this.adapter.id) return;
    let entry = this.wanted.get(peerId);
    if (!entry) {
      entry = { attempts: 0, timer: null, explicit };
      this.wanted.set(peerId, entry);
    }
    entry.explicit ||= explicit;
    if ((entry.explicit || this.initiates(peerId)) && !this.links.has(peerId) && entry.timer === null) {
      this.connect(peerId).catch(() => {});
    }
  }

  /** Stops reconnecting to `peerId` (an open link stays open). */
  unwant(peerId) {
    const entry = this.wanted.get(peerId);
    if (entry) clearTimeout(entry.timer);
    this.wanted.delete(peerId);
  }

  /** Resolves with the open data channel to `peerId`, connecting when needed. */
  connect(peerId) {
    if (this.closed) return Promise.reject(new P2PError('not-connected', 'the adapter is not connected'));
    const link = this.links.get(peerId);
    if (link?.state === 'open') return Promise.resolve(link.dc);
    const waiting = new Promise((resolve, reject) => {
      if (!this.waiters.has(peerId)) this.waiters.set(peerId, []);
      this.waiters.get(peerId).push({ resolve, reject });
    });
    if (!link) this._offer(peerId);
    return waiting;
  }

  /** The open data channel to `peerId`, or null. */
  channel(peerId) {
    const link = this.links.get(peerId);
    return link?.state === 'open' ? link.dc : null;
  }

  /**
   * Sends one frame to `peerId` (in chunks, queued behind the channel's buffer). Throws
   * P2PError('peer-unavailable') without an open link, P2PError('send-failed') when the
   * channel refuses the data.
   */
  send(peerId, frame) {
    const link = this.links.get(peerId);
    if (link?.state !== 'open') throw new P2PError('peer-unavailable', `no open channel to ${peerId}`, { peerId });
    if (link.queuedBytes + frame.length > MAX_QUEUED) {
      throw new P2PError('send-failed', `more than ${MAX_QUEUED} bytes queued for ${peerId}`, { peerId });
    }
    for (const chunk of encodeFrame(frame)) {
      link.queue.push(chunk);
      link.queuedBytes += chunk.length;
    }
    this._flush(link);
  }

  /** Closes the link to `peerId` telling it BYE; no reconnect. */
  close(peerId, reason = 'closed') {
    this.unwant(peerId);
    const link = this.links.get(peerId);
    if (link) this._close(link, reason, true);
  }

  /**
   * Drops the link to `peerId` as a network failure would (no BYE): both sides see the
   * channel close, and the initiating side reconnects. For tests and debugging.
   */
  drop(peerId) {
    const link = this.links.get(peerId);
    if (link) this._fail(link, 'dropped');
  }

  /** Handles a signal from `from` (see the top of this file). */
  handleSignal(from, msg) {
    if (this.closed || from === this.adapter.id || !msg || typeof msg.cid !== 'string') return;
    const link = this.links.get(from);
    const next = this.successors.get(from);
    switch (msg.kind) {
      case 'offer':
        this._onOffer(from, msg, link);
        break;
      case 'answer':
        if (link && link.cid === msg.cid && link.initiator && !link.remoteSet) this._applyAnswer(link, msg.sdp);
        break;
      case 'candidate':
        if (link && link.cid === msg.cid && msg.candidate) this._addCandidate(link, msg.candidate);
        else if (next && next.cid === msg.cid && msg.candidate) this._addCandidate(next, msg.candidate);
        break;
      case 'bye':
        if (link && link.cid === msg.cid) {
          this.unwant(from);
          this._close(link, 'bye', false);
        } else if (next && next.cid === msg.cid) {
          this._close(next, 'bye', false, { quiet: true, keepWaiters: true });
        }
        break;
      default:
        break;
    }
  }

  /** Fails a pending link to `peerId` whose offer cannot be delivered (the peer is not on the server). */
  unreachable(peerId, reason = 'peer not on the server') {
    const link = this.links.get(peerId);
    if (link && link.state === 'connecting') this._fail(link, reason);
  }

  // ---- connecting ----------------------------------------------------------------------------

  /**
   * A new link to `peerId`, in the table (or, as `successor`, next to the open link it is to
   * replace), that fails unless it opens within peerConnectionTimeout.
   */
  _newLink(peerId, cid, initiator, successor = false) {
    const link = new Link(peerId, cid, initiator, this.settings.maxFrameBytes);
    link.timer = setTimeout(
      () =>
        this._fail(link, `no data channel within ${this.settings.peerConnectionTimeout} ms (peerConnectionTimeout)`),
      this.settings.peerConnectionTimeout,
    );
    (successor ? this.successors : this.links).set(peerId, link);
    return link;
  }

  /** A new link with its RTCPeerConnection, whose candidates go out as signals. */
  _newRtcLink(peerId, cid, initiator, successor = false) {
    const link = this._newLink(peerId, cid, initiator, successor);
    const pc = new RTCPeerConnection(this.settings.rtcConfig);
    link.pc = pc;
    pc.onicecandidate = (e) => {
      if (e.candidate && link.state !== 'closed') {
        this.signal(peerId, { kind: 'candidate', cid, candidate: e.candidate.toJSON() });
      }
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'failed' || pc.connectionState === 'closed')
        this._fail(link, `connection ${pc.connectionState}`);
    };
    return link;
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
    const link = this._newRtcLink(peerId, cid, true);
    this._setupChannel(link, link.pc.createDataChannel(cid, { ordered: true, protocol: CHANNEL_PROTOCOL }));
    try {
      const offer = await link.pc.createOffer();
      await link.pc.setLocalDescription(offer);
      if (link.state === 'closed') return;
      const desc = link.pc.localDescription;
      if (!this.signal(peerId, { kind: 'offer', cid, sdp: { type: desc.type, sdp: desc.sdp } })) {
        this._fail(link, 'signaling server not connected');
      }
    } catch (err) {
      this._fail(link, `offer failed: ${err?.message ?? err}`);
    }
  }

  /**
   * Whether to answer an offer from `from` for connection `cid`, given our link to it (if any):
   * 'accept' (a connecting link it replaces is closed here), 'succeed' (our link to it is open:
   * the new one is its successor, which replaces it once it opens; an earlier successor is
   * closed here), 'ignore' (the same offer again, or glare that our own offer wins) or 'refuse'
   * (maxConnections; reported here).
   */
  _admit(from, cid, link) {
    const next = this.successors.get(from);
    if (link) {
      if (link.cid === cid || next?.cid === cid) return 'ignore';
      if (link.state === 'open') {
        if (next) this._close(next, 'superseded', false, { quiet: true, keepWaiters: true });
        return 'succeed';
      }
      // Glare: both offered; the smaller id's offer wins.
      if (link.initiator && this.adapter.id < from) return 'ignore';
      this._close(link, 'glare', false, { quiet: true, keepWaiters: true });
    } else if (!this.adapter.hasRoom()) {
      this.adapter.emitError(
        'max-connections',
        `refused ${from}: ${this.settings.maxConnections} peers connected (maxConnections)`,
        { peerId: from },
      );
      return 'refuse';
    }
    return 'accept';
  }

  _onOffer(from, msg, link) {
    const verdict = this._admit(from, msg.cid, link);
    if (verdict === 'refuse') this.signal(from, { kind: 'bye', cid: msg.cid });
    if (verdict !== 'accept' && verdict !== 'succeed') return;
    const answerLink = this._newRtcLink(from, msg.cid, false, verdict === 'succeed');
    answerLink.pc.ondatachannel = (e) => {
      if (e.channel.protocol !== CHANNEL_PROTOCOL) {
        this.adapter.emitError(
          'invalid-frame',
          `${from} opened a channel of protocol '${e.channel.protocol}', expected '${CHANNEL_PROTOCOL}'`,
          { peerId: from },
        );
        this._fail(answerLink, 'wrong channel protocol');
        return;
      }
      this._setupChannel(answerLink, e.channel);
    };
    this._answer(answerLink, msg.sdp);
  }

  async _answer(link, sdp) {
    try {
      await link.pc.setRemoteDescription(sdp);
      link.remoteSet = true;
      await this._flushCandidates(link);
      const answer = await link.pc.createAnswer();
      await link.pc.setLocalDescription(answer);
      if (link.state === 'closed') return;
      const desc = link.pc.localDescription;
      if (!this.signal(link.peerId, { kind: 'answer', cid: link.cid, sdp: { type: desc.type, sdp: desc.sdp } })) {
        this._fail(link, 'signaling server not connected');
      }
    } catch (err) {
      this._fail(link, `answer failed: ${err?.message ?? err}`);
    }
  }

  async _applyAnswer(link, sdp) {
    try {
      await link.pc.setRemoteDescription(sdp);
      link.remoteSet = true;
      await this._flushCandidates(link);
    } catch (err) {
      this._fail(link, `bad answer: ${err?.message ?? err}`);
    }
  }

  async _addCandidate(link, candidate) {
    if (!link.remoteSet) {
      link.pendingCandidates.push(candidate);
      return;
    }
    try {
      await link.pc.addIceCandidate(candidate);
    } catch (err) {
      if (link.state !== 'closed')
        this.adapter.emitError('network', `ICE candidate from ${link.peerId} refused: ${err?.message ?? err}`, {
          peerId: link.peerId,
        });
    }
  }

  async _flushCandidates(link) {
    const pending = link.pendingCandidates;
    link.pendingCandidates = [];
    for (const c of pending) await this._addCandidate(link, c);
  }

  // ---- the data channel ----------------------------------------------------------------------

  _setupChannel(link, dc) {
    link.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = LOW_WATER;
    dc.onopen = () => this._opened(link);
    dc.onclose = () => this._fail(link, 'channel closed');
    dc.onbufferedamountlow = () => {
      try {
        this._flush(link);
      } catch (err) {
        this.adapter.emitError('send-failed', err.message, { peerId: link.peerId });
        this._fail(link, 'channel refused data');
      }
    };
    dc.onmessage = (e) => this._onChannelMessage(link, e.data);
    if (dc.readyState === 'open') this._opened(link);
  }

  _opened(link) {
    if (link.state !== 'connecting') return;
    if (this.successors.get(link.peerId) === link) {
      // The peer's newer link is up: it takes the place of the open one (closing that one
      // promotes it, see _close).
      const old = this.links.get(link.peerId);
      if (old) this._close(old, 'replaced', false, { keepWaiters: true });
      else {
        this.successors.delete(link.peerId);
        this.links.set(link.peerId, link);
      }
    }
    if (this.links.get(link.peerId) !== link) {
      this._close(link, 'stale', true, { quiet: true });
      return;
    }
    clearTimeout(link.timer);
    link.timer = null;
    link.state = 'open';
    link.lastSeen = Date.now();
    let entry = this.wanted.get(link.peerId);
    if (!entry) {
      // A link the peer opened (it offered after a BYE made us forget it) is kept like one we
      // wanted: if it drops, the initiating side reconnects.
      entry = { attempts: 0, timer: null, explicit: false };
      this.wanted.set(link.peerId, entry);
    }
    entry.attempts = 0;
    clearTimeout(entry.timer);
    entry.timer = null;
    if (!this.adapter.peerUp(link.peerId, link.dc)) {
      this.unwant(link.peerId);
      this._close(link, 'max-connections', true, { quiet: true, keepWaiters: true });
      this._rejectWaiters(
        link.peerId,
        new P2PError('max-connections', `maxConnections (${this.settings.maxConnections}) reached`, {
          peerId: link.peerId,
        }),
      );
      return;
    }
    const waiters = this.waiters.get(link.peerId) || [];
    this.waiters.delete(link.peerId);
    for (const w of waiters) w.resolve(link.dc);
  }

  _onChannelMessage(link, raw) {
    if (link.state === 'closed') return;
    link.lastSeen = Date.now();
    if (typeof raw === 'string') {
      this.adapter.emitError('invalid-frame', `${link.peerId} sent text on the data channel`, { peerId: link.peerId });
      return;
    }
    let got;
    try {
      got = link.reasm.push(new Uint8Array(raw));
    } catch (err) {
      this.adapter.emitError('invalid-frame', `from ${link.peerId}: ${err.message}`, { peerId: link.peerId });
      return;
    }
    if (got?.kind === 'frame' && link.state === 'open') {
      this.adapter.emit('message', { from: link.peerId, data: got.data, connection: link.dc });
    } else if (got?.kind === 'bye') {
      this.unwant(link.peerId);
      this._close(link, 'bye', false);
    }
  }

  _flush(link) {
    const dc = link.dc;
    if (link.state !== 'open' || !dc || dc.readyState !== 'open') return;
    try {
      while (link.queue.length && dc.bufferedAmount < HIGH_WATER) {
        const chunk = link.queue.shift();
        link.queuedBytes -= chunk.length;
        dc.send(chunk);
      }
    } catch (err) {
      link.queue = [];
      link.queuedBytes = 0;
      throw new P2PError('send-failed', `channel to ${link.peerId} refused data: ${err?.message ?? err}`, {
        peerId: link.peerId,
      });
    }
  }

  _heartbeat() {
    const limit = Date.now() - this.settings.peerTimeout;
    for (const link of [...this.links.values()]) {
      if (link.state !== 'open') continue;
      if (link.lastSeen < limit) {
        this._fail(link, `nothing heard for ${this.settings.peerTimeout} ms (peerTimeout)`);
        continue;
      }
      if (link.queue.length === 0 && link.dc.bufferedAmount < LOW_WATER) {
        try {
          link.dc.send(controlChunk(ChunkKind.PING));
        } catch {
          this._fail(link, 'channel refused a ping');
        }
      }
    }
  }

  // ---- closing -------------------------------------------------------------------------------

  /** A link failed or dropped: close it, report, and reconnect when this side should. */
  _fail(link, reason) {
    if (link.state === 'closed') return;
    const wasOpen = link.state === 'open';
    this._close(link, reason, false, { quiet: true, keepWaiters: true });
    if (wasOpen) this.adapter.peerDown(link.peerId, reason);
    if (this.links.has(link.peerId)) return;
    this._rejectWaiters(
      link.peerId,
      new P2PError('peer-unavailable', `connection to ${link.peerId} failed: ${reason}`, { peerId: link.peerId }),
    );
    this._scheduleReconnect(link.peerId);
  }

  /**
   * Closes a link on purpose; `sendBye` tells the peer first. Emits 'disconnect' unless quiet;
   * rejects pending connect() calls unless another link to the peer remains or `keepWaiters`
   * (the link is being replaced).
   */
  _close(link, reason, sendBye, { quiet = false, keepWaiters = false } = {}) {
    if (link.state === 'closed') return;
    const wasOpen = link.state === 'open';
    link.state = 'closed';
    clearTimeout(link.timer);
    link.queue = [];
    link.queuedBytes = 0;
    if (sendBye) {
      try {
        if (link.dc?.readyState === 'open') link.dc.send(controlChunk(ChunkKind.BYE));
        else this.signal(link.peerId, { kind: 'bye', cid: link.cid });
      } catch {
        // The channel is going away anyway.
      }
    }
    if (link.dc) {
      link.dc.onopen = link.dc.onclose = link.dc.onmessage = link.dc.onbufferedamountlow = null;
      // Let a BYE already queued go out before the channel closes.
      const dc = link.dc;
      const pc = link.pc;
      setTimeout(
        () => {
          try {
            dc.close();
          } catch {
            // already closed
          }
          pc?.close();
        },
        sendBye ? 50 : 0,
      );
    } else {
      link.pc?.close();
    }
    if (link.pc) link.pc.onicecandidate = link.pc.onconnectionstatechange = link.pc.ondatachannel = null;
    if (this.successors.get(link.peerId) === link) this.successors.delete(link.peerId);
    if (this.links.get(link.peerId) === link) {
      this.links.delete(link.peerId);
      // A link answering the peer's newer offer takes its place, connecting or open.
      const next = this.successors.get(link.peerId);
      if (next) {
        this.successors.delete(link.peerId);
        this.links.set(link.peerId, next);
      }
    }
    if (wasOpen && !quiet) this.adapter.peerDown(link.peerId, reason);
    if (!keepWaiters && !this.links.has(link.peerId)) {
      this._rejectWaiters(
        link.peerId,
        new P2PError('peer-unavailable', `connection to ${link.peerId} closed: ${reason}`, { peerId: link.peerId }),
      );
    }
    if (wasOpen) this._scheduleFill();
  }

  /**
   * After a link closed, a place under maxConnections may be free: connect to wanted peers
   * that have no link and no pending reconnect (once the current event has run its course).
   */
  _scheduleFill() {
    if (this._fill) return;
    this._fill = setTimeout(() => {
      this._fill = null;
      if (this.closed) return;
      for (const [peerId, entry] of this.wanted) {
        if (!this.adapter.hasRoom()) break;
        if (entry.timer === null && !this.links.has(peerId) && (entry.explicit || this.initiates(peerId))) {
          this.connect(peerId).catch(() => {});
        }
      }
    }, 0);
  }

  _scheduleReconnect(peerId) {
    const entry = this.wanted.get(peerId);
    if (this.closed || !entry || entry.timer !== null || this.links.has(peerId)) return;
    if (!(entry.explicit || this.initiates(peerId))) return;
    if (entry.attempts >= this.settings.maxReconnectAttempts) {
      this._giveUp(peerId, entry.attempts);
      return;
    }
    // Jittered, so two peers that failed together do not try again in step.
    const delay = jittered(backoffDelay(this.settings, entry.attempts));
    entry.attempts += 1;
    entry.timer = setTimeout(() => {
      entry.timer = null;
      if (this.closed || this.wanted.get(peerId) !== entry || this.links.has(peerId)) return;
      this.connect(peerId).catch(() => {});
    }, delay);
  }

  /** Stops reconnecting to `peerId` after `attempts` failed attempts, and reports it. */
  _giveUp(peerId, attempts) {
    this.unwant(peerId);
    this.adapter.emitError('peer-unavailable', `gave up on ${peerId} after ${attempts} attempts`, { peerId });
  }

  _rejectWaiters(peerId, err) {
    const waiters = this.waiters.get(peerId) || [];
    this.waiters.delete(peerId);
    for (const w of waiters) w.reject(err);
  }
}

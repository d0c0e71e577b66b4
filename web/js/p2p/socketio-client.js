// A small Socket.IO client: Engine.IO protocol 4 over one WebSocket (no HTTP long-polling),
// Socket.IO protocol 5 on the default namespace: events, acknowledgements and binary
// attachments. Enough for the 'socketio' adapter; it runs against any Socket.IO 3/4 server.
//
// Engine.IO frames (text; binary frames are whole binary messages):
//   0{json}  open: sid, pingInterval, pingTimeout, maxPayload     1  close
//   2        ping (server → client), answered by 3 (pong)          4… message (a Socket.IO packet)
//   6        noop
// Socket.IO packets: <type>[<attachments>-][<nsp>,][<ack id>][json], types 0 CONNECT,
// 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK; binary values
// travel as `{ "_placeholder": true, "num": i }` followed by one binary frame each.

import { P2PError, toWebSocketUrl } from './util.js';

/** Socket.IO packet types. */
export const PacketType = Object.freeze({
  CONNECT: 0,
  DISCONNECT: 1,
  EVENT: 2,
  ACK: 3,
  CONNECT_ERROR: 4,
  BINARY_EVENT: 5,
  BINARY_ACK: 6,
});

const MAX_ATTACHMENTS = 16;

function isBinary(v) {
  return v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

function asBytes(v) {
  return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function deconstruct(value, buffers) {
  if (isBinary(value)) {
    buffers.push(asBytes(value));
    return { _placeholder: true, num: buffers.length - 1 };
  }
  if (Array.isArray(value)) return value.map((v) => deconstruct(v, buffers));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = deconstruct(v, buffers);
    return out;
  }
  return value;
}

/**
 * Encodes a Socket.IO packet `{ type, nsp?, id?, data? }` into Engine.IO message payloads: one
 * string (to send as '4' + string) followed by one Uint8Array per binary attachment. EVENT and
 * ACK packets holding binary values become BINARY_EVENT / BINARY_ACK.
 */
export function encodePacket({ type, nsp = '/', id, data }) {
  const buffers = [];
  const body = data === undefined ? undefined : deconstruct(data, buffers);
  let t = type;
  if (buffers.length && t === PacketType.EVENT) t = PacketType.BINARY_EVENT;
  if (buffers.length && t === PacketType.ACK) t = PacketType.BINARY_ACK;
  let str = String(t);
  if (t === PacketType.BINARY_EVENT || t === PacketType.BINARY_ACK) str += `${buffers.length}-`;
  if (nsp && nsp !== '/') str += `${nsp},`;
  if (id !== undefined && id !== null) str += String(id);
  if (body !== undefined) str += JSON.stringify(body);
  return [str, ...buffers];
}

/**
 * Decodes the text of a Socket.IO packet (without Engine.IO's leading '4'). Returns
 * `{ type, nsp, id, data, attachments }`; throws P2PError('invalid-frame') on malformed input.
 */
export function decodePacket(str) {
  const bad = (why) => new P2PError('invalid-frame', `malformed Socket.IO packet (${why}): ${str.slice(0, 60)}`);
  if (typeof str !== 'string' || str.length === 0) throw bad('empty');
  const type = Number(str[0]);
  if (!Number.isInteger(type) || type < 0 || type > 6) throw bad('type');
  let i = 1;
  let attachments = 0;
  if (type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK) {
    const dash = str.indexOf('-', i);
    if (dash < 0) throw bad('attachment count');
    const digits = str.slice(i, dash);
    if (!/^\d{1,3}$/.test(digits)) throw bad('attachment count');
    attachments = Number(digits);
    if (attachments > MAX_ATTACHMENTS) throw bad('too many attachments');
    i = dash + 1;
  }
  let nsp = '/';
  if (str[i] === '/') {
    const comma = str.indexOf(',', i);
    const end = comma < 0 ? str.length : comma;
    nsp = str.slice(i, end);
    i = comma < 0 ? str.length : comma + 1;
  }
  let id;
  const idMatch = /^\d{1,15}/.exec(str.slice(i));
  if (idMatch) {
    id = Number(idMatch[0]);
    i += idMatch[0].length;
  }
  let data;
  if (i < str.length) {
    try {
      data = JSON.parse(str.slice(i));
    } catch {
      throw bad('json');
    }
  }
  const eventLike = [PacketType.EVENT, PacketType.BINARY_EVENT, PacketType.ACK, PacketType.BINARY_ACK].includes(type);
  if (eventLike && !Array.isArray(data)) throw bad('arguments are not an array');
  if ((type === PacketType.EVENT || type === PacketType.BINARY_EVENT) && (data.length === 0 || typeof data[0] !== 'string')) {
    throw bad('event without a name');
  }
  return { type, nsp, id, data, attachments };
}

/** Replaces the placeholders in `data` with `buffers` (Uint8Array each). */
export function reconstruct(data, buffers) {
  if (Array.isArray(data)) return data.map((v) => reconstruct(v, buffers));
  if (data && typeof data === 'object') {
    if (data._placeholder === true && Number.isInteger(data.num)) {
      if (data.num < 0 || data.num >= buffers.length) throw new P2PError('invalid-frame', `placeholder ${data.num} has no attachment`);
      return buffers[data.num];
    }
    const out = {};
    for (const [k, v] of Object.entries(data)) out[k] = reconstruct(v, buffers);
    return out;
  }
  return data;
}

/**
 * One Socket.IO connection over a WebSocket.
 *
 * - `open()` resolves once the server accepted the namespace connection;
 * - `emit(event, args, { ack, timeout })` sends an event; with `ack` it resolves with the
 *   server's acknowledgement arguments (rejects with P2PError('timeout') after `timeout` ms);
 * - `onEvent(name, args)` is called for every server event; `onClose(reason)` once, when the
 *   connection is gone (closed by either side, or no ping within pingInterval + pingTimeout).
 */
export class SocketIoClient {
  constructor(serverUrl, { path = '/socket.io/', WebSocket: WS = globalThis.WebSocket, onEvent = () => {}, onClose = () => {} } = {}) {
    const url = toWebSocketUrl(serverUrl);
    url.pathname = path.endsWith('/') ? path : `${path}/`;
    url.searchParams.set('EIO', '4');
    url.searchParams.set('transport', 'websocket');
    this.url = url.toString();
    this.WebSocket = WS;
    this.onEvent = onEvent;
    this.onClose = onClose;
    this.ws = null;
    this.sid = null;
    this.maxPayload = Infinity;
    this._nextAck = 0;
    this._acks = new Map();
    this._pendingBinary = null;
    this._liveness = null;
    this._pingBudget = 0;
    this._closed = false;
  }

  /** Connects; resolves with the Socket.IO session id. */
  open() {
    if (typeof this.WebSocket !== 'function') {
      return Promise.reject(new P2PError('invalid-config', 'no WebSocket implementation available'));
    }
    return new Promise((resolve, reject) => {
      this._opening = { resolve, reject };
      let ws;
      try {
        ws = new this.WebSocket(this.url);
      } catch (err) {
        this._opening = null;
        reject(new P2PError('network', `cannot open ${this.url}: ${err?.message ?? err}`));
        return;
      }
      this.ws = ws;
      ws.binaryType = 'arraybuffer';
      ws.onmessage = (e) => this._onFrame(e.data);
      ws.onerror = () => {};
      ws.onclose = (e) => this._finish(`connection closed (${e.code}${e.reason ? ` ${e.reason}` : ''})`);
    });
  }

  /** True while the namespace connection is up. */
  get connected() {
    return this.sid !== null && !this._closed;
  }

  emit(event, args = [], { ack = false, timeout = 10_000 } = {}) {
    if (!this.connected) {
      const err = new P2PError('not-connected', 'the Socket.IO connection is not open');
      if (ack) return Promise.reject(err);
      throw err;
    }
    const packet = { type: PacketType.EVENT, data: [event, ...args] };
    let promise;
    if (ack) {
      const id = this._nextAck++;
      packet.id = id;
      promise = new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          this._acks.delete(id);
          reject(new P2PError('timeout', `no acknowledgement of '${event}' within ${timeout} ms`));
        }, timeout);
        this._acks.set(id, { resolve, reject, timer });
      });
    }
    const [text, ...buffers] = encodePacket(packet);
    const size = text.length + 1 + buffers.reduce((n, b) => n + b.length, 0);
    if (size > this.maxPayload) {
      const err = new P2PError('send-failed', `a '${event}' packet of ${size} bytes is over the server's maxPayload (${this.maxPayload})`);
      if (ack) {
        this._settleAck(packet.id, null, err);
        return promise;
      }
      throw err;
    }
    this.ws.send(`4${text}`);
    for (const b of buffers) this.ws.send(b);
    return promise;
  }

  /** Closes the connection (onClose is not called for a close asked for here). */
  close() {
    if (this._closed) return;
    const ws = this.ws;
    if (ws && ws.readyState === 1) {
      try {
        ws.send('41');
      } catch {
        // closing anyway
      }
    }
    this._finish('closed by the client', { notify: false });
  }

  _onFrame(raw) {
    if (this._closed) return;
    if (typeof raw !== 'string') {
      this._onAttachment(new Uint8Array(raw));
      return;
    }
    const kind = raw[0];
    switch (kind) {
      case '0': {
        let info;
        try {
          info = JSON.parse(raw.slice(1));
        } catch {
          this._finish('malformed Engine.IO open packet');
          return;
        }
        this.maxPayload = Number.isFinite(info.maxPayload) ? info.maxPayload : Infinity;
        this._pingBudget = (Number(info.pingInterval) || 25_000) + (Number(info.pingTimeout) || 20_000);
        this._armLiveness();
        this.ws.send('40');
        break;
      }
      case '1':
        this._finish('server closed the session');
        break;
      case '2':
        this._armLiveness();
        this.ws.send(`3${raw.slice(1)}`);
        break;
      case '4':
        this._onPacket(raw.slice(1));
        break;
      default:
        break;
    }
  }

  _onPacket(text) {
    let packet;
    try {
      packet = decodePacket(text);
    } catch (err) {
      this._finish(err.message);
      return;
    }
    if (packet.attachments > 0) {
      this._pendingBinary = { packet, buffers: [] };
      return;
    }
    this._deliver(packet);
  }

  _onAttachment(bytes) {
    const pending = this._pendingBinary;
    if (!pending) {
      this._finish('binary frame without a binary packet');
      return;
    }
    pending.buffers.push(bytes);
    if (pending.buffers.length < pending.packet.attachments) return;
    this._pendingBinary = null;
    try {
      pending.packet.data = reconstruct(pending.packet.data, pending.buffers);
    } catch (err) {
      this._finish(err.message);
      return;
    }
    this._deliver(pending.packet);
  }

  _deliver(packet) {
    if (packet.nsp !== '/') return;
    switch (packet.type) {
      case PacketType.CONNECT:
        this.sid = packet.data?.sid ?? '';
        if (this._opening) {
          this._opening.resolve(this.sid);
          this._opening = null;
        }
        break;
      case PacketType.CONNECT_ERROR:
        this._finish(`server refused the connection: ${packet.data?.message ?? 'no reason given'}`);
        break;
      case PacketType.DISCONNECT:
        this._finish('server disconnected the socket');
        break;
      case PacketType.EVENT:
      case PacketType.BINARY_EVENT: {
        const [name, ...args] = packet.data;
        if (packet.id !== undefined) {
          // This client offers no server-to-client acknowledgements: answer with nothing.
          const [text] = encodePacket({ type: PacketType.ACK, id: packet.id, data: [] });
          this.ws.send(`4${text}`);
        }
        try {
          this.onEvent(name, args);
        } catch (err) {
          console.error('Socket.IO event handler threw:', err);
        }
        break;
      }
      case PacketType.ACK:
      case PacketType.BINARY_ACK:
        this._settleAck(packet.id, packet.data, null);
        break;
      default:
        break;
    }
  }

  _settleAck(id, args, err) {
    const pending = this._acks.get(id);
    if (!pending) return;
    this._acks.delete(id);
    clearTimeout(pending.timer);
    if (err) pending.reject(err);
    else pending.resolve(args);
  }

  _armLiveness() {
    clearTimeout(this._liveness);
    this._liveness = setTimeout(() => this._finish(`no ping from the server within ${this._pingBudget} ms`), this._pingBudget);
  }

  _finish(reason, { notify = true } = {}) {
    if (this._closed) return;
    this._closed = true;
    clearTimeout(this._liveness);
    const ws = this.ws;
    if (ws) {
      ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close();
      } catch {
        // already closed
      }
    }
    const err = new P2PError('network', reason);
    for (const id of [...this._acks.keys()]) this._settleAck(id, null, err);
    if (this._opening) {
      this._opening.reject(err);
      this._opening = null;
      return;
    }
    if (notify && this.sid !== null) this.onClose(reason);
  }
}

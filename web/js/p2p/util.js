// Small helpers shared by the P2P adapters: the error type, byte conversion, ids, the
// connection settings read from an AuroraDB config, and the reconnect backoff.

/**
 * The classes every copy of this code on a page must agree on (P2PError here, P2PAdapter in
 * adapter.js), kept on the global object under a registered symbol: the first copy to run
 * defines them and later copies reuse them. The built adapters are separate bundles loaded
 * when a database picks one (each holds its own copy of this file), and the classic script and
 * the ES module are separate bundles too; without this, an adapter loaded by the classic
 * script would extend another P2PAdapter than `AuroraDB.P2PAdapter`, and `instanceof` would
 * fail across them. The number in the key changes whenever these classes change
 * incompatibly.
 */
export function shared() {
  const key = Symbol.for('auroradb.p2p/1');
  globalThis[key] ??= {};
  return globalThis[key];
}

/**
 * The one error type of the transport layer. `name` is always 'P2PError'; `type` says what
 * went wrong, so callers can branch on it:
 *
 * - 'unknown-adapter'   no adapter registered under that name
 * - 'invalid-adapter'   registerP2PAdapter was given something that is not a P2PAdapter class
 * - 'invalid-config'    a required setting is missing or malformed
 * - 'timeout'           the server did not answer within connectionTimeout
 * - 'network'           the server connection failed or was lost
 * - 'server-error'      the server refused or reported an error
 * - 'unavailable-id'    the peer id is taken on the server
 * - 'peer-unavailable'  a peer could not be reached (after the reconnect attempts)
 * - 'max-connections'   maxConnections peers are connected already
 * - 'send-failed'       a frame could not be delivered after retryAttempts resends
 * - 'invalid-frame'     a peer sent bytes that are not a well-formed transport frame
 * - 'not-connected'     the adapter is not connected
 * - 'not-implemented'   a P2PAdapter subclass lacks a method of the contract
 * - 'not-loaded'        createAdapter() on a built-in whose bundle is not loaded yet
 * - 'listener'          an event listener threw (reported as an 'error' event only)
 */
shared().P2PError ??= class P2PError extends Error {
  constructor(type, message, details = {}) {
    super(message);
    this.name = 'P2PError';
    this.type = type;
    Object.assign(this, details);
  }
};
export const P2PError = shared().P2PError;

const ID_ALPHABET = '0123456789abcdef';

/** A random peer id: 32 lowercase hex digits (valid for every server the adapters speak to). */
export function randomId() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const b of bytes) out += ID_ALPHABET[b >> 4] + ID_ALPHABET[b & 15];
  return out;
}

/** Peer ids the adapters accept: what the PeerJS server accepts, at most 128 characters. */
export const PEER_ID_RE = /^[A-Za-z0-9]+(?:[ _-][A-Za-z0-9]+)*$/;

/** True when `id` is a string usable as a peer id on every transport. */
export function isValidPeerId(id) {
  return typeof id === 'string' && id.length > 0 && id.length <= 128 && PEER_ID_RE.test(id);
}

/**
 * The bytes of a frame as a Uint8Array, whatever shape a transport handed it over in:
 * Uint8Array, ArrayBuffer, any other ArrayBuffer view, an array of byte values, or the object
 * `JSON.stringify` makes of a Uint8Array (`{"0":1,"1":2,...}`), which is what an adapter that
 * sends JSON (like the README's custom adapter) receives. Anything else yields null.
 */
export function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (Array.isArray(data)) return byteValues(data, data.length, (i) => data[i]);
  if (data !== null && typeof data === 'object') {
    const keys = Object.keys(data);
    const n = keys.length;
    // The indexed object of a JSON-encoded typed array has exactly the keys "0".."n-1".
    if (n === 0) return Object.getPrototypeOf(data) === Object.prototype ? new Uint8Array(0) : null;
    if (!(String(n - 1) in data) || keys[0] !== '0') return null;
    return byteValues(data, n, (i) => data[i]);
  }
  return null;
}

function byteValues(source, n, at) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = at(i);
    if (!Number.isInteger(v) || v < 0 || v > 255) return null;
    out[i] = v;
  }
  if (!Array.isArray(source) && Object.keys(source).length !== n) return null;
  return out;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Races `promise` against a timer: rejects with P2PError('timeout', message) after `ms`
 * (no timer when `ms` is not a positive number).
 */
export function withTimeout(promise, ms, message) {
  if (!(ms > 0) || !Number.isFinite(ms)) return promise;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new P2PError('timeout', message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function num(value, fallback, min = 0) {
  return typeof value === 'number' && Number.isFinite(value) && value >= min ? value : fallback;
}

/** The longest wait between two reconnect attempts, whatever reconnectDelay says. */
export const MAX_BACKOFF = 30_000;

/**
 * The connection settings of an AuroraDB config, with their defaults:
 *
 * | setting                 | from the config                                   | default  |
 * |-------------------------|---------------------------------------------------|----------|
 * | peerId                  | config.peerId                                     | random   |
 * | name                    | config.name                                       | 'auroradb' |
 * | maxConnections          | config.maxConnections                             | 50       |
 * | connectionTimeout (ms)  | config.connectionTimeout, else config.timeout     | 10000    |
 * | peerConnectionTimeout   | config.peerConnectionTimeout, else connectionTimeout | 15000 |
 * | maxReconnectAttempts    | config.maxReconnectAttempts                       | 5        |
 * | reconnectDelay (ms)     | config.reconnectDelay                             | 2000     |
 * | retryAttempts           | config.retryAttempts                              | 3        |
 * | retryDelay (ms)         | p2pConfig.retryDelay                              | 250      |
 * | heartbeatInterval (ms)  | p2pConfig.heartbeatInterval                       | 2000     |
 * | peerTimeout (ms)        | p2pConfig.peerTimeout                             | 3 heartbeats + 1000 |
 * | maxFrameBytes           | p2pConfig.maxFrameBytes                           | 16 MiB   |
 * | rtcConfig               | p2pConfig.rtcConfig, else config.rtcConfig        | { iceServers: [] } |
 * | debug                   | config.debug                                      | false    |
 */
export function resolveSettings(config = {}) {
  const p2p = config.p2pConfig || {};
  const connectionTimeout = num(config.connectionTimeout, num(config.timeout, 10_000, 1), 1);
  const heartbeatInterval = num(p2p.heartbeatInterval, 2000, 10);
  return {
    peerId: config.peerId ?? null,
    name: typeof config.name === 'string' && config.name ? config.name : 'auroradb',
    maxConnections: num(config.maxConnections, 50, 0),
    connectionTimeout,
    peerConnectionTimeout: num(
      config.peerConnectionTimeout,
      (config.connectionTimeout ?? config.timeout) != null ? connectionTimeout : 15_000,
      1,
    ),
    maxReconnectAttempts: num(config.maxReconnectAttempts, 5, 0),
    reconnectDelay: num(config.reconnectDelay, 2000, 0),
    retryAttempts: num(config.retryAttempts, 3, 0),
    retryDelay: num(p2p.retryDelay, 250, 0),
    heartbeatInterval,
    peerTimeout: num(p2p.peerTimeout, 3 * heartbeatInterval + 1000, 10),
    maxFrameBytes: num(p2p.maxFrameBytes, 16 << 20, 1),
    rtcConfig: p2p.rtcConfig || config.rtcConfig || { iceServers: [] },
    debug: Boolean(config.debug),
  };
}

/** The wait before reconnect attempt `attempt` (0-based): reconnectDelay doubled each time. */
export function backoffDelay(settings, attempt) {
  const base = settings.reconnectDelay;
  return Math.min(base * 2 ** attempt, Math.max(base, MAX_BACKOFF));
}

/** `ms` with jitter: a uniformly random wait between half of it and all of it. */
export function jittered(ms) {
  return ms / 2 + Math.random() * (ms / 2);
}

/**
 * Retries an async `attempt()` with backoff until it resolves, at most maxReconnectAttempts
 * times. `onWait(attempt, delay)` is told of each wait. Resolves to the attempt's value, or
 * rejects with the last error when every attempt failed or `isCancelled()` turned true.
 */
export async function retryWithBackoff(settings, attempt, { onWait = () => {}, isCancelled = () => false } = {}) {
  let lastError = new P2PError('network', 'no reconnect attempt allowed (maxReconnectAttempts is 0)');
  for (let i = 0; i < settings.maxReconnectAttempts; i++) {
    const delay = backoffDelay(settings, i);
    onWait(i + 1, delay);
    await sleep(delay);
    if (isCancelled()) throw new P2PError('network', 'reconnect cancelled');
    try {
      return await attempt(i + 1);
    } catch (err) {
      lastError = err;
      if (isCancelled()) throw err;
    }
  }
  throw lastError;
}

/** `ws:`/`wss:` URL of an `http:`/`https:`/`ws:`/`wss:` URL (a relative one resolves against the page). */
export function toWebSocketUrl(url) {
  const base = globalThis.location?.href;
  const u = base ? new URL(url, base) : new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new P2PError('invalid-config', `not a WebSocket or HTTP URL: ${url}`);
  }
  return u;
}

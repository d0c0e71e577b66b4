// Frames over a WebRTC data channel: each channel message starts with one kind byte.
//
//   0x00 WHOLE  frame bytes                    a frame that fits in one message
//   0x01 FIRST  u32 total length (BE), bytes   the first part of a larger frame
//   0x02 MORE   bytes                          the next part (the channel is ordered and reliable)
//   0x03 PING   -                              liveness, sent every heartbeatInterval
//   0x04 BYE    -                              the sender is closing the channel on purpose
//
// Messages are at most CHUNK_SIZE bytes (16 KiB, the size every browser's data channel takes),
// so frames up to maxFrameBytes pass whatever the channel's own message limit is. The
// protocol and its version travel in the channel label (see CHANNEL_PROTOCOL).

import { P2PError } from './util.js';

/** Label prefix of the data channels: protocol name and version. */
export const CHANNEL_PROTOCOL = 'auroradb-p2p/1';
/** Largest data channel message the adapters send. */
export const CHUNK_SIZE = 16 * 1024;

/** Kind bytes of data channel messages. */
export const ChunkKind = Object.freeze({ WHOLE: 0, FIRST: 1, MORE: 2, PING: 3, BYE: 4 });

const FIRST_HEADER = 5;

/** The channel messages that carry `frame`, each at most `chunkSize` bytes. */
export function encodeFrame(frame, chunkSize = CHUNK_SIZE) {
  if (chunkSize < FIRST_HEADER + 1) throw new RangeError(`chunk size ${chunkSize} is too small`);
  if (frame.length + 1 <= chunkSize) {
    const out = new Uint8Array(frame.length + 1);
    out[0] = ChunkKind.WHOLE;
    out.set(frame, 1);
    return [out];
  }
  const parts = [];
  const firstLen = chunkSize - FIRST_HEADER;
  const first = new Uint8Array(chunkSize);
  first[0] = ChunkKind.FIRST;
  new DataView(first.buffer).setUint32(1, frame.length, false);
  first.set(frame.subarray(0, firstLen), FIRST_HEADER);
  parts.push(first);
  for (let at = firstLen; at < frame.length; at += chunkSize - 1) {
    const piece = frame.subarray(at, Math.min(at + chunkSize - 1, frame.length));
    const out = new Uint8Array(piece.length + 1);
    out[0] = ChunkKind.MORE;
    out.set(piece, 1);
    parts.push(out);
  }
  return parts;
}

/** A one-byte control message (PING or BYE). */
export function controlChunk(kind) {
  return Uint8Array.of(kind);
}

/**
 * Joins channel messages back into frames. `push` returns `{ kind: 'frame', data }`,
 * `{ kind: 'ping' }`, `{ kind: 'bye' }`, or null while a frame is incomplete; it throws
 * P2PError('invalid-frame') on a malformed message or a frame over `maxBytes` (the partial
 * frame is dropped, so the next FIRST or WHOLE message starts clean).
 */
export class Reassembler {
  constructor(maxBytes) {
    this.maxBytes = maxBytes;
    this._buf = null;
    this._filled = 0;
  }

  /** True while a frame is partly received. */
  get pending() {
    return this._buf !== null;
  }

  push(message) {
    if (message.length === 0) throw this._fail('empty channel message');
    const kind = message[0];
    switch (kind) {
      case ChunkKind.WHOLE:
        this._buf = null;
        if (message.length - 1 > this.maxBytes)
          throw this._fail(`frame of ${message.length - 1} bytes is over the ${this.maxBytes}-byte limit`);
        return { kind: 'frame', data: message.slice(1) };
      case ChunkKind.FIRST: {
        this._buf = null;
        if (message.length < FIRST_HEADER + 1) throw this._fail('truncated FIRST chunk');
        const total = new DataView(message.buffer, message.byteOffset, message.byteLength).getUint32(1, false);
        if (total > this.maxBytes) throw this._fail(`frame of ${total} bytes is over the ${this.maxBytes}-byte limit`);
        const part = message.subarray(FIRST_HEADER);
        if (part.length >= total) throw this._fail('FIRST chunk holds the whole frame');
        this._buf = new Uint8Array(total);
        this._buf.set(part, 0);
        this._filled = part.length;
        return null;
      }
      case ChunkKind.MORE: {
        if (this._buf === null) throw this._fail('MORE chunk without a FIRST');
        const part = message.subarray(1);
        if (this._filled + part.length > this._buf.length)
          throw this._fail('chunks run past the announced frame length');
        this._buf.set(part, this._filled);
        this._filled += part.length;
        if (this._filled < this._buf.length) return null;
        const data = this._buf;
        this._buf = null;
        return { kind: 'frame', data };
      }
      case ChunkKind.PING:
        return { kind: 'ping' };
      case ChunkKind.BYE:
        return { kind: 'bye' };
      default:
        throw this._fail(`unknown chunk kind ${kind}`);
    }
  }

  _fail(message) {
    this._buf = null;
    return new P2PError('invalid-frame', message);
  }
}

// Golden fixtures of the P2P adapters' own formats (docs/formats.md, "P2P adapter formats"),
// byte for byte, in tests/fixtures/p2p/: the presence frames of the adapter base class, the data
// channel messages of the WebRTC adapters, and the messages of the 'broadcast' adapter as two
// adapters really exchange them. A format change fails here until the fixtures are regenerated
// on purpose:
//
//   AURORADB_BLESS=1 node --test tests/p2p/formats.test.mjs

import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  BroadcastAdapter,
  ControlKind,
  Reassembler,
  controlFrame,
  encodeFrame,
  parseControlFrame,
} from '../../web/js/p2p/index.js';
import { ChunkKind, controlChunk } from '../../web/js/p2p/chunks.js';

const DIR = fileURLToPath(new URL('../fixtures/p2p/', import.meta.url));
const BLESS = process.env.AURORADB_BLESS === '1';

/** Compares `bytes` with fixture `name` (writes it when blessing). */
function golden(name, bytes) {
  if (BLESS) {
    mkdirSync(DIR, { recursive: true });
    writeFileSync(DIR + name, bytes);
  }
  const onDisk = readFileSync(DIR + name);
  assert.deepEqual(
    new Uint8Array(onDisk),
    new Uint8Array(Buffer.from(bytes)),
    `${name} changed: if deliberate, regenerate with AURORADB_BLESS=1 and update docs/formats.md`,
  );
  return new Uint8Array(onDisk);
}

test('presence frames: AUp2, version 1, one kind byte', () => {
  for (const [name, kind] of [
    ['hello', ControlKind.HELLO],
    ['ping', ControlKind.PING],
    ['bye', ControlKind.BYE],
  ]) {
    const bytes = golden(`presence_${name}.bin`, controlFrame(kind));
    assert.deepEqual([...bytes], [0x41, 0x55, 0x70, 0x32, 1, kind]);
    assert.equal(parseControlFrame(bytes), kind);
  }
  // Anything else is data: another version, an unknown kind, another length.
  assert.equal(parseControlFrame(Uint8Array.of(0x41, 0x55, 0x70, 0x32, 2, 1)), 0);
  assert.equal(parseControlFrame(Uint8Array.of(0x41, 0x55, 0x70, 0x32, 1, 9)), 0);
  assert.equal(parseControlFrame(Uint8Array.of(0x41, 0x55, 0x70, 0x32, 1, 1, 0)), 0);
});

test('data channel messages: a kind byte, then the frame or its parts', () => {
  assert.deepEqual([...golden('channel_ping.bin', controlChunk(ChunkKind.PING))], [3]);
  assert.deepEqual([...golden('channel_bye.bin', controlChunk(ChunkKind.BYE))], [4]);
  const small = Uint8Array.of(1, 2, 3, 4, 5, 6);
  const [whole] = encodeFrame(small);
  assert.deepEqual([...golden('channel_whole.bin', whole)], [0, 1, 2, 3, 4, 5, 6]);

  // A 10-byte frame in messages of at most 8 bytes: FIRST (kind, u32 BE length, 3 bytes), MORE.
  const frame = Uint8Array.from({ length: 10 }, (_, i) => 0xa0 + i);
  const parts = encodeFrame(frame, 8);
  assert.equal(parts.length, 2);
  const first = golden('channel_first.bin', parts[0]);
  const more = golden('channel_more.bin', parts[1]);
  assert.deepEqual([...first.subarray(0, 5)], [1, 0, 0, 0, 10]);
  const r = new Reassembler(1 << 20);
  assert.equal(r.push(first), null);
  assert.deepEqual(r.push(more), { kind: 'frame', data: frame });
  assert.deepEqual(r.push(whole), { kind: 'frame', data: small });
  assert.deepEqual(r.push(golden('channel_ping.bin', controlChunk(ChunkKind.PING))), { kind: 'ping' });
});

/** The data of a 'msg' as JSON can hold it. */
function plain(message) {
  return message.data instanceof Uint8Array ? { ...message, data: [...message.data] } : message;
}

test('broadcast adapter messages, as two tabs exchange them', async (t) => {
  const channel = 'auroradb-formats-fixture';
  const seen = [];
  const observer = new BroadcastChannel(channel);
  observer.onmessage = (e) => seen.push(plain(e.data));
  const config = (peerId, heartbeatInterval) => ({
    name: 'formats',
    peerId,
    p2pConfig: { channel, heartbeatInterval },
  });
  // Only tab-a's heartbeat is quick, so the first 'hb' is always its.
  const a = new BroadcastAdapter(config('tab-a', 20));
  const b = new BroadcastAdapter(config('tab-b', 60_000));
  t.after(async () => {
    await a.disconnect();
    await b.disconnect();
    observer.close();
  });
  const until = async (what, check) => {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(check(), `timed out waiting for ${what}`);
  };
  const connected = (x, peer) => () => x.isPeerConnected(peer);

  await a.connect();
  await until('a hello', () => seen.length >= 1);
  await b.connect();
  await until('the tabs to meet', () => connected(a, 'tab-b')() && connected(b, 'tab-a')());
  a.broadcast(Uint8Array.of(1, 2));
  b.send('tab-a', Uint8Array.of(3));
  await until('a heartbeat', () => seen.some((m) => m.t === 'hb'));
  await until('both frames', () => seen.filter((m) => m.t === 'msg').length >= 2);
  await a.disconnect();
  await until('a bye', () => seen.some((m) => m.t === 'bye'));

  const firstOf = (t, pred = () => true) => seen.find((m) => m.t === t && pred(m));
  const messages = [
    firstOf('hello'),
    firstOf('here'),
    firstOf('hb'),
    firstOf('msg', (m) => m.to === undefined),
    firstOf('msg', (m) => m.to !== undefined),
    firstOf('bye'),
  ];
  const text = `${JSON.stringify(messages, null, 2)}\n`;
  const onDisk = new TextDecoder().decode(golden('broadcast_messages.json', new TextEncoder().encode(text)));
  assert.deepEqual(JSON.parse(onDisk), [
    { t: 'hello', from: 'tab-a' },
    { t: 'here', from: 'tab-a', to: 'tab-b' },
    { t: 'hb', from: 'tab-a' },
    { t: 'msg', from: 'tab-a', data: [1, 2] },
    { t: 'msg', from: 'tab-b', to: 'tab-a', data: [3] },
    { t: 'bye', from: 'tab-a' },
  ]);
});

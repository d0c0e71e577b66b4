// The frame exchange every adapter test runs: each side sends frames of several sizes
// (including one of 200 KiB) to the other and one broadcast, and each frame must arrive whole.

import assert from 'node:assert/strict';
import { call, waitForFrame } from './helpers.mjs';
import { digest, pattern } from './pages/bytes.js';

export const SIZES = [1, 1500, 200 * 1024];
const BROADCAST_SIZE = 4096;

/**
 * `a` and `b` are `{ page, label, id }`. Sends from a to b and from b to a, then waits for
 * every frame. `seed` makes the contents differ between rounds.
 */
export async function exchange(a, b, seed) {
  const expected = [];
  for (const [from, to, base] of [
    [a, b, seed],
    [b, a, seed + 100],
  ]) {
    for (const [i, size] of SIZES.entries()) {
      const s = base + i;
      const sent = await call(from.page, 'send', from.label, to.id, size, s);
      assert.equal(sent, true, `${from.label}.send(${to.label}, ${size} bytes) returned ${sent}`);
      expected.push([to, from.id, size, digest(pattern(size, s))]);
    }
    const s = base + 50;
    const n = await call(from.page, 'broadcast', from.label, BROADCAST_SIZE, s);
    assert.ok(n >= 1, `${from.label}.broadcast reached ${n} peers`);
    expected.push([to, from.id, BROADCAST_SIZE, digest(pattern(BROADCAST_SIZE, s))]);
  }
  for (const [to, fromId, size, d] of expected) await waitForFrame(to.page, to.label, fromId, size, d);
}

// Test frames: deterministic bytes of any size, and a digest to compare them by. Imported by
// the test pages and by the node tests alike.

/** `size` pseudo-random bytes from `seed` (xorshift32). */
export function pattern(size, seed) {
  const out = new Uint8Array(size);
  let x = Math.imul(seed + 1, 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** FNV-1a (32 bit) of the bytes, as 8 hex digits. */
export function digest(bytes) {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

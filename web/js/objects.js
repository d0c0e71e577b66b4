// The page's side of what crosses between it and the engine: objects the engine builds (records,
// values, events), the readable values of `state` records decoded from their encoding, the
// encoding of the values a write takes, and IndexedDB puts. Each is one call from the engine
// instead of one per field or item, and none goes through the glue's exception catcher, whose
// `arguments` handling cost more than a field set or a small put. A field set cannot throw: the
// objects are plain ones the engine just made, and a `__proto__` field is defined by the engine
// as an own property instead.

export function setField(object, name, value) {
  object[name] = value;
}

/** `store.put(value, key)`; what it threw, or undefined. Puts throw only for unusable input or a finished transaction. */
export function putRecord(store, value, key) {
  try {
    store.put(value, key);
    return undefined;
  } catch (e) {
    return e ?? new Error('put threw');
  }
}

/** A `state` store record of a deleted key (a tombstone the conflict strategy keeps). */
export function deletedRecord(key, record) {
  return { key, deleted: true, record };
}

/**
 * The time of `v` if it is a `Date`, of this realm or another (an iframe's): `Date.prototype.getTime`
 * called on it, or NaN where that throws (an object with only `Date`'s prototype). `undefined`
 * if `v` is no `Date`.
 */
export function dateTime(v) {
  if (v === null || typeof v !== 'object') return undefined;
  try {
    return Date.prototype.getTime.call(v);
  } catch {
    return v instanceof Date ? Number.NaN : undefined;
  }
}

const TYPED_PROTO = Object.getPrototypeOf(Uint8Array.prototype);
const TYPED_LENGTH = Object.getOwnPropertyDescriptor(TYPED_PROTO, 'length').get;
const TYPED_TAG = Object.getOwnPropertyDescriptor(TYPED_PROTO, Symbol.toStringTag).get;
const BUFFER_LENGTH = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength').get;

/** Whether `v` is a `Uint8Array` of any realm: the built-in tag getter reads its internal slot. */
const isTyped = (v) => TYPED_TAG.call(v) === 'Uint8Array';

/** Whether `v` is an `ArrayBuffer` of any realm: the built-in length getter accepts only those. */
function isBuffer(v) {
  try {
    BUFFER_LENGTH.call(v);
    return true;
  } catch {
    return false;
  }
}

const OBJECT_TO_STRING = Object.prototype.toString;

/** Whether `p` is a realm's `Object.prototype` (this page's, or an iframe's). */
function isObjectPrototype(p) {
  return (
    p === Object.prototype ||
    (Object.getPrototypeOf(p) === null &&
      Object.hasOwn(p, 'isPrototypeOf') &&
      Object.hasOwn(p, 'propertyIsEnumerable') &&
      Object.hasOwn(p, '__lookupGetter__'))
  );
}

/** Built-ins that neither a structured clone nor `Object.prototype.toString` names: each method throws for anything else. */
const BRANDS = [
  ['WeakMap', (v) => WeakMap.prototype.has.call(v, v)],
  ['WeakSet', (v) => WeakSet.prototype.has.call(v, v)],
  ['WeakRef', (v) => WeakRef.prototype.deref.call(v)],
];

/**
 * What kind of object `v` is (an object, not an array), judged by the built-ins' internal slots
 * rather than by its prototype, which a page can replace: `'plain'` for plain data's object
 * (its prototype `null` or a realm's `Object.prototype`, and no built-in's slots), `'bytes'`
 * for a `Uint8Array` or an `ArrayBuffer`, the built-in's name for another built-in (`'Date'`,
 * `'Map'`, `'Int8Array'`...), and `''` for an object of a class. A `Date` or a `Map` whose
 * prototype was set to `null` is a `Date` or a `Map`, never an empty object. May throw (a
 * proxy's trap).
 *
 * The common case costs two calls (an object with `Object.prototype` and fields); an object
 * without fields, or with a `null` prototype or another realm's, is also structured-cloned
 * (the clone is a `Map` for a `Map`, whatever its prototype was), and one that cannot be cloned
 * is tried against the weak collections' methods.
 */
export function objectKind(v) {
  if (isTyped(v)) return 'bytes';
  const proto = Object.getPrototypeOf(v);
  if (proto !== null && !isObjectPrototype(proto)) return isBuffer(v) ? 'bytes' : '';
  if (ArrayBuffer.isView(v)) return TYPED_TAG.call(v) ?? 'DataView';
  const tag = OBJECT_TO_STRING.call(v);
  if (tag !== '[object Object]') return tag.slice(8, -1);
  if (proto === Object.prototype && Object.keys(v).length > 0) return 'plain';
  let copy;
  try {
    copy = structuredClone(v);
  } catch {
    // Not cloneable: a weak collection, or a proxy or a field the value's walk refuses.
    for (const [name, has] of BRANDS) {
      try {
        has(v);
        return name;
      } catch {}
    }
    return 'plain';
  }
  const kind = OBJECT_TO_STRING.call(copy).slice(8, -1);
  return kind === 'Object' ? 'plain' : kind === 'ArrayBuffer' ? 'bytes' : kind;
}

/**
 * For the engine's value walk: a copy of the bytes of `v` if it is a `Uint8Array` or an
 * `ArrayBuffer` (of this realm or another), null if it is or claims to be one (`instanceof`) but
 * reading its bytes throws (a detached buffer, a proxy of one, an object with only their
 * prototype), and `undefined` if it is not bytes. The methods are the built-ins', called on `v`,
 * so nothing of `v` is trusted.
 */
export function copyBytes(v) {
  let typed;
  try {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    typed = isTyped(v);
    if (!typed && !isBuffer(v) && !(v instanceof Uint8Array) && !(v instanceof ArrayBuffer)) return undefined;
  } catch {
    // Not even its kind can be read (a revoked proxy, a proxy whose prototype trap throws): not
    // bytes; the engine's walk reads it next and says it threw.
    return undefined;
  }
  try {
    return typed ? Uint8Array.prototype.slice.call(v) : new Uint8Array(ArrayBuffer.prototype.slice.call(v, 0));
  } catch {
    return null;
  }
}

/**
 * A `state` store record whose value the engine gives as its encoding: `record` (a copy of the
 * encoded key record) holds the visible value's encoding from byte `at`. Decoding it here makes
 * the readable value in one call into JavaScript, instead of one per field and item.
 */
export function stateRecordAt(key, record, at) {
  const reader = { bytes: record, at, view: null };
  return { key, value: readValue(reader), record };
}

// The log's value encoding (docs/formats.md, "Op"): a varint tag, then the variant's data.
// Numbers, strings and nesting become what the engine's own conversion gives: an Int within
// ±(2^53 - 1) a number, beyond it a bigint; a field named `__proto__` an own field.
// `ignoreBOM`: a string's leading U+FEFF is a character of it, not a byte order mark to drop.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function readValue(r) {
  const tag = r.bytes[r.at++];
  switch (tag) {
    case 0:
      return null;
    case 1:
      return r.bytes[r.at++] === 1;
    case 2:
      return zigzag(readVarint(r));
    case 3: {
      r.view ??= new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
      const f = r.view.getFloat64(r.at, true);
      r.at += 8;
      return f;
    }
    case 4:
      return readString(r);
    case 5: {
      const len = readVarint(r);
      r.at += len;
      return r.bytes.slice(r.at - len, r.at);
    }
    case 6: {
      const n = readVarint(r);
      const items = [];
      for (let i = 0; i < n; i++) items.push(readValue(r));
      return items;
    }
    case 7: {
      const n = readVarint(r);
      const fields = {};
      for (let i = 0; i < n; i++) {
        const name = readString(r);
        const value = readValue(r);
        if (name === '__proto__') {
          Object.defineProperty(fields, name, { value, enumerable: true, writable: true, configurable: true });
        } else {
          fields[name] = value;
        }
      }
      return fields;
    }
    default:
      throw new Error(`not a value encoding (tag ${tag})`);
  }
}

/** An unsigned varint: a number up to 49 bits, a bigint beyond (up to 64). */
function readVarint(r) {
  const bytes = r.bytes;
  const start = r.at;
  let n = 0;
  let mul = 1;
  for (;;) {
    const b = bytes[r.at++];
    n += (b & 0x7f) * mul;
    if (b < 0x80) break;
    mul *= 128;
  }
  if (r.at - start <= 7) return n;
  let big = 0n;
  for (let i = r.at - 1; i >= start; i--) big = (big << 7n) | BigInt(bytes[i] & 0x7f);
  return big;
}

/** A zigzag-encoded i64: a number within ±(2^53 - 1), else a bigint. */
function zigzag(u) {
  if (typeof u === 'number') return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  const i = (u >> 1n) ^ -(u & 1n);
  return i >= -9007199254740991n && i <= 9007199254740991n ? Number(i) : i;
}

function readString(r) {
  const len = readVarint(r);
  const bytes = r.bytes;
  const start = r.at;
  r.at += len;
  if (len <= 32) {
    let s = '';
    for (let i = start; i < r.at; i++) {
      const b = bytes[i];
      if (b >= 0x80) return utf8.decode(bytes.subarray(start, r.at));
      s += String.fromCharCode(b);
    }
    return s;
  }
  return utf8.decode(bytes.subarray(start, r.at));
}

/**
 * The log's value encoding of `v` when it is plain data the engine takes as it is (objects,
 * arrays, strings, numbers, booleans, null, bigints in the 64-bit range, `Uint8Array` and
 * `ArrayBuffer`, at most 64 levels deep), encoded here in one call instead of one call into
 * JavaScript per field and item; `undefined` for anything else, which the engine then converts
 * itself and refuses with the reason and the path (a lone surrogate, `NaN`, a `Date`, a cycle, a
 * getter that throws...). The bytes are valid until the next call: the engine copies them at
 * once. Map fields come in `Object.keys` order; the engine orders them when it decodes. An
 * encoding that would pass `limit` bytes (a write's op would then pass the database's maximum op
 * size) stops there and gives no bytes (an empty array), so the engine refuses it without copying
 * it into its memory. The room reserved ahead (at most 11 bytes) counts: a value that close to the
 * limit makes an op over it anyway (an op adds its id, author and previous hash, 50 bytes and
 * more).
 */
export function encodeValue(v, limit) {
  // A getter of the value that writes to a database calls this again: that value is left to the
  // engine's walk, as this call's bytes are in the buffer.
  if (out.busy) return undefined;
  out.busy = true;
  out.at = 0;
  out.limit = limit;
  try {
    return writeValue(v, 0) ? out.bytes.subarray(0, out.at) : undefined;
  } catch (e) {
    return e === TOO_LARGE ? new Uint8Array(0) : undefined;
  } finally {
    out.busy = false;
    // A large value's buffer is not kept for the next small ones (the bytes returned keep it
    // until the engine has copied them).
    if (out.bytes.length > KEPT_BUFFER) {
      out.bytes = new Uint8Array(1024);
      out.view = null;
    }
  }
}

/**
 * A copy of `v` as the engine would store it, made through its encoding (so it takes exactly what
 * the engine takes as plain data, and reads each field once, now), or `undefined` when the
 * engine's own walk has to read `v` (it refuses it, with the reason and the path).
 */
export function plainCopy(v) {
  const bytes = encodeValue(v, Number.POSITIVE_INFINITY);
  if (bytes === undefined || bytes.length === 0) return undefined;
  return readValue({ bytes: bytes.slice(), at: 0, view: null });
}

/** Deepest nesting `encodeValue` takes (the engine's limit for a written value). */
const MAX_NESTING = 64;
const TWO_52 = 2 ** 52;
/** Largest encoding buffer kept between calls. */
const KEPT_BUFFER = 1 << 20;
const out = { bytes: new Uint8Array(1024), view: null, at: 0, busy: false, limit: Number.POSITIVE_INFINITY };
const utf8in = new TextEncoder();
/** Thrown when an encoding passes its limit (see `encodeValue`). */
const TOO_LARGE = new Error('the value passes the limit');

function room(n) {
  if (out.at + n > out.limit) throw TOO_LARGE;
  if (out.at + n <= out.bytes.length) return;
  let size = out.bytes.length * 2;
  while (size < out.at + n) size *= 2;
  const bigger = new Uint8Array(size);
  bigger.set(out.bytes.subarray(0, out.at));
  out.bytes = bigger;
  out.view = null;
}

/** An unsigned varint of a non-negative integer below 2^53. */
function writeVarint(u) {
  room(8);
  const bytes = out.bytes;
  while (u >= 128) {
    bytes[out.at++] = (u % 128) | 128;
    u = Math.floor(u / 128);
  }
  bytes[out.at++] = u;
}

/** The zigzag varint of an i64 given as a bigint; false outside the range. */
function writeBigInt(i) {
  if (i < -9223372036854775808n || i > 9223372036854775807n) return false;
  let u = i < 0n ? -2n * i - 1n : 2n * i;
  room(11);
  out.bytes[out.at++] = 2;
  while (u >= 128n) {
    out.bytes[out.at++] = Number(u & 127n) | 128;
    u >>= 7n;
  }
  out.bytes[out.at++] = Number(u);
  return true;
}

function writeString(s) {
  const n = s.length;
  // Each UTF-16 unit is a byte or more in UTF-8: known too large before it is encoded.
  if (n > out.limit) throw TOO_LARGE;
  if (n <= 64) {
    room(n + 1);
    const start = out.at;
    out.bytes[out.at++] = n;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128) {
        ascii = false;
        break;
      }
      out.bytes[out.at++] = c;
    }
    if (ascii) return true;
    out.at = start;
  }
  if (!s.isWellFormed()) return false;
  const encoded = utf8in.encode(s);
  writeVarint(encoded.length);
  room(encoded.length);
  out.bytes.set(encoded, out.at);
  out.at += encoded.length;
  return true;
}

/** The bytes of `b`, a `Uint8Array` of any realm; its length read by the built-in getter, as `set` copies. */
function writeBytes(b) {
  const n = TYPED_LENGTH.call(b);
  room(1);
  out.bytes[out.at++] = 5;
  writeVarint(n);
  room(n);
  out.bytes.set(b, out.at);
  out.at += n;
  return true;
}

function writeValue(v, depth) {
  switch (typeof v) {
    case 'string':
      room(1);
      out.bytes[out.at++] = 4;
      return writeString(v);
    case 'number':
      if (Number.isInteger(v) && Math.abs(v) < TWO_52) {
        room(1);
        out.bytes[out.at++] = 2;
        writeVarint(v < 0 ? -2 * v - 1 : v === 0 ? 0 : 2 * v);
        return true;
      }
      if (Number.isNaN(v) || Number.isSafeInteger(v)) return Number.isSafeInteger(v) && writeBigInt(BigInt(v));
      room(9);
      out.bytes[out.at++] = 3;
      out.view ??= new DataView(out.bytes.buffer);
      out.view.setFloat64(out.at, v, true);
      out.at += 8;
      return true;
    case 'boolean':
      room(2);
      out.bytes[out.at++] = 1;
      out.bytes[out.at++] = v ? 1 : 0;
      return true;
    case 'bigint':
      return writeBigInt(v);
    case 'object':
      break;
    default:
      return false;
  }
  if (v === null) {
    room(1);
    out.bytes[out.at++] = 0;
    return true;
  }
  // Lengths read through the built-ins' getters, which throw for a proxy or an object with only
  // the prototype (a proxy of a buffer would read as no bytes), and copying from a detached
  // buffer throws: the engine's walk then refuses them.
  if (v instanceof Uint8Array) return writeBytes(v);
  if (v instanceof ArrayBuffer) {
    BUFFER_LENGTH.call(v);
    return writeBytes(new Uint8Array(v));
  }
  if (depth >= MAX_NESTING) return false;
  if (Array.isArray(v)) {
    const n = v.length;
    room(1);
    out.bytes[out.at++] = 6;
    writeVarint(n);
    for (let i = 0; i < n; i++) {
      const item = v[i];
      if (item === undefined || !writeValue(item, depth + 1)) return false;
    }
    return true;
  }
  const common =
    Object.getPrototypeOf(v) === Object.prototype &&
    !ArrayBuffer.isView(v) &&
    OBJECT_TO_STRING.call(v) === '[object Object]';
  let names = common ? Object.keys(v) : undefined;
  if (!common || names.length === 0) {
    // Bytes of another realm (an iframe's) or whose prototype was replaced, a plain object of
    // another realm or without a prototype or without fields, or refused (see objectKind).
    const kind = objectKind(v);
    if (kind === 'bytes') return isTyped(v) ? writeBytes(v) : writeBytes(new Uint8Array(v));
    if (kind !== 'plain') return false;
    names ??= Object.keys(v);
  }
  if (Object.getOwnPropertySymbols(v).length > 0) return false;
  const values = [];
  for (const name of names) {
    // Every name is checked, also one whose value is `undefined` and left out.
    if (name === '__proto__' || !name.isWellFormed()) return false;
    values.push(v[name]);
  }
  let fields = 0;
  for (const value of values) if (value !== undefined) fields++;
  room(1);
  out.bytes[out.at++] = 7;
  writeVarint(fields);
  for (let i = 0; i < names.length; i++) {
    if (values[i] === undefined) continue;
    if (!writeString(names[i]) || !writeValue(values[i], depth + 1)) return false;
  }
  return true;
}

/** `navigator.storage.estimate()` as `[usage, quota]`, or null where it cannot be asked or fails. */
export async function storageEstimate() {
  try {
    const { usage, quota } = await navigator.storage.estimate();
    return typeof usage === 'number' && typeof quota === 'number' ? [usage, quota] : null;
  } catch {
    return null;
  }
}

// Reads of the `state` store's readable records (`{ key, value, record }`, and a deleted key's
// `{ key, deleted: true, record }`) that go through them once, in JavaScript: an iteration over
// more records than the engine's cache holds takes the values IndexedDB already made instead of
// decoding each record in the engine and converting its value back (`web/src/database/read.rs`).

/** The records of `records` that hold a value, or null if one is not a readable record. */
export function visibleRecords(records) {
  const out = [];
  for (const r of records) {
    if (r === null || typeof r !== 'object' || typeof r.key !== 'string') return null;
    if (r.deleted !== true) out.push(r);
  }
  return out;
}

/** The values of `records`. */
export function recordValues(records) {
  return records.map((r) => r.value);
}

/** The keys of `records`. */
export function recordKeys(records) {
  return records.map((r) => r.key);
}

/** The values of `records` for which `predicate(value, key)` is truthy; what it throws, thrown. */
export function filterRecords(records, predicate) {
  const out = [];
  for (const r of records) if (predicate(r.value, r.key)) out.push(r.value);
  return out;
}

/** Whether `predicate(value, key)` is truthy for every record (stops at the first falsy one). */
export function everyRecord(records, predicate) {
  for (const r of records) if (!predicate(r.value, r.key)) return false;
  return true;
}

/** Whether readable records `a` and `b` hold the same key, value and `deleted`, and nothing else. */
export function sameRecord(a, b) {
  if (b === null || typeof b !== 'object' || Object.keys(b).length !== Object.keys(a).length) return false;
  return a.key === b.key && a.deleted === b.deleted && sameValue(a.value, b.value);
}

/**
 * Whether a stored string `b` is the string `a` that its bytes say: the same, or, in a record an
 * earlier release wrote, without the leading U+FEFF its decoder dropped (taken for a byte order
 * mark). Such a record was written by AuroraDB, and is no damage.
 */
function sameText(a, b) {
  return a === b || (typeof b === 'string' && a.charCodeAt(0) === 0xfeff && a.slice(1) === b);
}

/** Deep equality of stored values: the same kinds (bytes, arrays, plain objects) and contents. */
function sameValue(a, b) {
  if (typeof a === 'string') return sameText(a, b);
  if (a === null || typeof a !== 'object') return Object.is(a, b);
  if (b === null || typeof b !== 'object') return false;
  if (a instanceof Uint8Array) {
    return b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
  }
  const proto = Object.getPrototypeOf(b);
  if (Array.isArray(b) || b instanceof Uint8Array || (proto !== null && proto !== Object.prototype)) return false;
  const names = Object.keys(a);
  const others = Object.keys(b);
  return (
    names.length === others.length &&
    names.every((name, i) => sameText(name, others[i]) && sameValue(a[name], b[others[i]]))
  );
}

/**
 * A `slice()` bound as `Array.prototype.slice` converts it (ToNumber: `valueOf`, strings),
 * `undefined` when left out; a symbol or a BigInt, which it refuses, throws (as a `valueOf`
 * that throws does).
 */
export function sliceBound(v) {
  if (typeof v === 'symbol' || typeof v === 'bigint') throw new TypeError(`not a number: ${typeof v}`);
  return v === undefined ? undefined : Number(v);
}

// Small helpers of the audit board: building DOM nodes, formatting op fields, colours.

/**
 * Bidirectional-text controls (embeddings, overrides, isolates, and the LRM/RLM/ALM marks):
 * shown as text they reorder what follows, so a stored "Refund \u202Edeifirev\u202C ok"
 * would read "Refund verified ok".
 */
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** `text` with every bidi control shown as `⟨U+202E⟩`, so what is displayed is what is stored. */
export function visible(text) {
  return String(text).replace(
    BIDI_CONTROLS,
    (c) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩`,
  );
}

/**
 * Any stored value as display text, never throwing (a value may be an object whose `toString`
 * is not a function): strings as they are, null/undefined as '', objects as JSON.
 */
export function asText(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  try {
    return JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? `${v}n` : v)) ?? '';
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Creates an element: `h('td', { class: 'x', dataset: { key } , onclick }, child, ...)`.
 * Children are nodes, strings (set as text, never parsed as HTML, with bidi controls shown
 * visibly: see `visible`), arrays, or null/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name === 'style' && typeof value === 'object') {
      for (const [prop, v] of Object.entries(value)) {
        if (prop.startsWith('--')) node.style.setProperty(prop, String(v));
        else node.style[prop] = v;
      }
    } else if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name in node && typeof value !== 'string') node[name] = value;
    else if (name === 'title' || name === 'aria-label') node.setAttribute(name, visible(value));
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : visible(asText(child)));
  }
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** The first `n` hex digits of a hash or id, with an ellipsis. */
export function short(hex, n = 8) {
  if (typeof hex !== 'string') return '';
  return hex.length > n ? `${hex.slice(0, n)}…` : hex;
}

/** True for the all-zero hash a chain starts from. */
export function isZeroHash(hex) {
  return typeof hex === 'string' && /^0+$/.test(hex);
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** `HH:MM:SS.mmm` of a time in ms, in local time. */
export function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** The readable HLC of an op: local wall time, then `+counter` when the counter is used. */
export function hlcLabel(op) {
  return op.counter ? `${clock(op.time)} +${op.counter}` : clock(op.time);
}

/** `YYYY-MM-DD HH:MM:SS.mmm` in local time. */
export function dateTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}

/** Well-separated hues. */
const PALETTE = [218, 150, 330, 32, 272, 186, 4, 96];

/**
 * The hue of an author, from its id alone: the same on every peer and from the first moment
 * (a hue given by the order of first writes changed once this tab wrote for the first time).
 */
export function authorHue(author) {
  let x = 0;
  for (let i = 0; i < (author?.length ?? 0); i++) x = (x * 31 + author.charCodeAt(i)) >>> 0;
  return PALETTE[x % PALETTE.length] + 9 * ((x >>> 8) % 3);
}

/**
 * A small coloured tag naming an author: its name when known, the start of its id, and a
 * `you` mark for this tab's own author (`compact`: a shorter id and no mark).
 */
export function authorTag(author, names, self, compact = false) {
  const name = names.get(author);
  const hue = authorHue(author);
  return h(
    'span',
    { class: 'author', title: `author ${author}`, style: { '--hue': hue } },
    h('span', { class: 'dot' }),
    name ? h('span', { class: 'author-name' }, name) : null,
    h('span', { class: 'mono dim' }, short(author, compact ? 4 : 6)),
    author === self && !compact ? h('span', { class: 'you' }, 'you') : null,
  );
}

/** A compact, readable text of a stored value (for log rows and history). */
export function describeValue(value) {
  if (value === undefined) return '';
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    if (value instanceof Uint8Array) return `bytes(${value.length})`;
    return typeof value === 'string' ? JSON.stringify(value) : value === null ? 'null' : asText(value);
  }
  const parts = [];
  if ('title' in value) parts.push(`“${asText(value.title)}”`);
  if ('status' in value) parts.push(asText(value.status));
  if ('owner' in value) parts.push(`@${asText(value.owner)}`);
  if ('severity' in value) parts.push(asText(value.severity));
  if ('version' in value) parts.push(`v${asText(value.version)}`);
  return parts.length ? parts.join(' · ') : asText(value);
}

/**
 * An incident of the board: a plain object whose string `id` is its record key (what the
 * board writes). Anything else (null, strings, numbers, arrays, objects without that `id`) a
 * log may hold is not shown as an incident.
 */
export function isIncident(value, key) {
  return (
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    typeof value.id === 'string' &&
    value.id === key
  );
}

/** A random id for a new record: `INC-` and four characters. */
export function newRecordId() {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  const alphabet = '23456789ABCDEFGHJKLMNPQRSTUVWXYZ';
  return `INC-${[...bytes].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

/** Offers `bytes` as a file download. */
export function download(bytes, filename, type = 'application/octet-stream') {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = h('a', { href: url, download: filename, style: { display: 'none' } });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * An error as a person reads it: its name and message, with a list of byte values (as an
 * engine message may quote a file's first bytes) shown as the text or hex it spells, never as
 * a raw `[65, 85, ...]`.
 */
export function errorText(err) {
  const name = err?.name || 'Error';
  const message = String(err?.message ?? err ?? '').replace(/\[(\d{1,3}(?:, ?\d{1,3})+)\]/g, (_, list) => {
    const bytes = list.split(/, ?/).map(Number);
    return bytes.every((b) => b >= 32 && b < 127)
      ? `"${String.fromCharCode(...bytes)}"`
      : `0x${bytes.map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  });
  return `${name}: ${message}`;
}

/** `n thing`/`n things`. */
export function plural(n, word, many = `${word}s`) {
  return `${n} ${n === 1 ? word : many}`;
}

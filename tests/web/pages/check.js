// In-page checks for the browser tests. Load it first, as a classic script, before auroradb.js:
// it records console output (so a check can ask what an example logged), turns uncaught errors
// into failed checks, and hands the results to the test runner through `window.__final`.
//
//   check(name, ok, detail)            one result
//   checkEqual(name, actual, expected) deep equality of plain data
//   await checkRejects(name, fn, want) fn() must reject; want: { name, message } (string or RegExp)
//   logged(text) / loggedCount(text)   did the page log a console message containing text?
//   done()                             report; later results are ignored
//
// A page that reports nothing within the runner's timeout fails with the results so far.
(() => {
  'use strict';
  const results = [];
  const logs = [];
  const assertFailures = [];
  let finished = false;

  window.__results = results;
  window.__logs = logs;
  window.__assertFailures = assertFailures;
  window.__final = null;

  const show = (value) => {
    if (value instanceof Error) return `${value.name}: ${value.message}`;
    if (typeof value === 'string') return value;
    try {
      return JSON.stringify(value, (_key, v) => (typeof v === 'bigint' ? `${v}n` : v));
    } catch {
      return String(value);
    }
  };

  for (const type of ['log', 'info', 'warn', 'error', 'debug']) {
    const original = console[type].bind(console);
    console[type] = (...args) => {
      logs.push({ type, text: args.map(show).join(' '), args });
      original(...args);
    };
  }
  const originalAssert = console.assert.bind(console);
  console.assert = (condition, ...args) => {
    if (!condition) assertFailures.push(args.map(show).join(' '));
    originalAssert(condition, ...args);
  };

  const canonical = (value) => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === 'object' && !(value instanceof Date)) {
      const out = {};
      for (const key of Object.keys(value).sort()) out[key] = canonical(value[key]);
      return out;
    }
    return value;
  };

  window.show = show;

  window.check = (name, ok, detail) => {
    if (finished) return;
    results.push({ name, ok: !!ok, detail: ok ? undefined : show(detail === undefined ? 'false' : detail) });
  };

  window.checkEqual = (name, actual, expected) => {
    const a = JSON.stringify(canonical(actual));
    const e = JSON.stringify(canonical(expected));
    window.check(name, a === e, `got ${a}, expected ${e}`);
  };

  const matches = (want, got) => (want instanceof RegExp ? want.test(got) : got === want);

  window.checkRejects = async (name, fn, want = {}) => {
    let error = null;
    try {
      await fn();
    } catch (e) {
      error = e || new Error(String(e));
    }
    if (!error) {
      window.check(name, false, 'did not throw');
      return null;
    }
    const problems = [];
    if (want.name !== undefined && !matches(want.name, error.name)) problems.push(`name ${show(error.name)}`);
    if (want.message !== undefined && !matches(want.message, String(error.message))) {
      problems.push(`message ${show(error.message)}`);
    }
    window.check(
      name,
      problems.length === 0,
      `${problems.join(', ')} (wanted ${show({ name: String(want.name), message: String(want.message) })})`,
    );
    return error;
  };

  window.logged = (text) => logs.some((l) => l.text.includes(text));
  window.loggedCount = (text) => logs.filter((l) => l.text.includes(text)).length;

  window.done = () => {
    if (finished) return;
    for (const failure of assertFailures) {
      results.push({ name: 'console.assert', ok: false, detail: failure });
    }
    if (results.length === 0) results.push({ name: 'page made checks', ok: false, detail: 'no checks ran' });
    finished = true;
    window.__final = results.slice();
  };

  const fail = (what) => {
    if (finished) return;
    results.push({ name: 'no uncaught error', ok: false, detail: what });
    window.done();
  };
  window.addEventListener(
    'error',
    (event) => {
      // Resource load errors (a missing script) have no `error`; name the element instead.
      if (event.error || event.message) {
        fail(event.error ? `${show(event.error)}\n${event.error.stack || ''}` : event.message);
      } else {
        fail(`failed to load ${event.target && (event.target.src || event.target.href)}`);
      }
    },
    true,
  );
  window.addEventListener('unhandledrejection', (event) => {
    fail(`unhandled rejection: ${show(event.reason)}\n${event.reason?.stack || ''}`);
  });
})();

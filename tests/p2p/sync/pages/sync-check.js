// For the README example pages that run on two peers at once (seed-examples.test.mjs). Load it
// after check.js (tests/web/pages/check.js, served beside these pages) and auroradb.js.
//
//   role / other                  'a' or 'b' (the page's ?role=), and the other one
//   await eventually(name, fn, ms) polls async fn() until it returns truthy; records a check
//   expose(name, db)              lets the test compare this database with the other page's
//   window.__flags                what the pages' stand-in functions were called with
(() => {
  'use strict';
  const params = new URLSearchParams(location.search);
  window.role = params.get('role') || 'a';
  window.other = window.role === 'a' ? 'b' : 'a';
  window.__dbs = {};
  window.__flags = {};

  window.expose = (name, db) => {
    window.__dbs[name] = db;
  };

  /** Records that a stand-in function ran (with its arguments, as plain data). */
  window.flag = (name, ...args) => {
    window.__flags[name] ??= [];
    window.__flags[name].push(JSON.parse(JSON.stringify(args, (_k, v) => (v === undefined ? null : v))));
  };

  window.eventually = async (name, fn, ms = 30_000) => {
    const deadline = Date.now() + ms;
    let last;
    for (;;) {
      try {
        last = await fn();
        if (last) {
          window.check(name, true);
          return last;
        }
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) {
        window.check(name, false, `not within ${ms} ms (last: ${window.show(last)})`);
        return null;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
})();

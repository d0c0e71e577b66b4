// What the server scripts share: the command line, the READY line, and shutdown on SIGTERM.
//
// Every server listens on 127.0.0.1 only. The port comes from `--port N`, else from the
// environment variable the script names, else the script's default; 0 picks a free port. Once
// listening, a server prints one line to stdout:
//
//   READY <name> port=<port> url=<url>
//
// and on SIGTERM or SIGINT it closes its connections and exits with status 0.

/** The only address the servers listen on. */
export const HOST = '127.0.0.1';

/**
 * Reads `--name value` / `--name=value` options. `spec` maps option names to
 * `{ env, default }`; returns the values as strings (numbers for `port`).
 */
export function parseOptions(argv, spec) {
  const given = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      const names = Object.entries(spec).map(
        ([k, v]) => `--${k} <value>${v.env ? ` (env ${v.env})` : ''}, default ${JSON.stringify(v.default)}`,
      );
      console.log(`options:\n  ${names.join('\n  ')}`);
      process.exit(0);
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m || !(m[1] in spec)) fail(`unknown argument '${arg}' (try --help)`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) fail(`--${m[1]} needs a value`);
    given[m[1]] = value;
  }
  const out = {};
  for (const [name, { env, default: fallback }] of Object.entries(spec)) {
    out[name] = given[name] ?? (env ? process.env[env] : undefined) ?? fallback;
  }
  if ('port' in out) {
    const port = Number(out.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad port '${out.port}'`);
    out.port = port;
  }
  return out;
}

/** Prints an error and exits with status 2. */
export function fail(message) {
  console.error(`error: ${message}`);
  process.exit(2);
}

/** Prints the READY line. */
export function ready(name, port, url) {
  console.log(`READY ${name} port=${port} url=${url}`);
}

/**
 * Runs `close()` (bounded to 3 s) on SIGTERM or SIGINT, then exits with status 0. A listen
 * error (port in use) exits with status 1 and a one-line message.
 */
export function handleShutdown(name, close) {
  let closing = false;
  const stop = async (signal) => {
    if (closing) return;
    closing = true;
    const timer = setTimeout(() => process.exit(0), 3000);
    try {
      await close();
    } catch (err) {
      console.error(`${name}: error while closing: ${err?.message ?? err}`);
    }
    clearTimeout(timer);
    console.log(`${name}: stopped (${signal})`);
    process.exit(0);
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('uncaughtException', (err) => {
    console.error(`${name}: ${err?.code === 'EADDRINUSE' ? `port in use (${err.message})` : (err?.stack ?? err)}`);
    process.exit(1);
  });
}

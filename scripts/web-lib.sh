# shellcheck shell=bash
# Installs shared by scripts/web-test.sh and scripts/bench-web.sh (source it after lib.sh).
# Each one does nothing when what it installs is present.

# node and npm; playwright-core needs node 20 or newer.
ensure_node() {
    if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
        say "node $(node --version), npm $(npm --version): present"
    else
        apt_install nodejs npm
    fi
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 20 ] || die "node $(node --version) is too old: playwright-core needs node 20 or newer"
}

# The npm dev dependencies (package.json). npm records what it installed in
# node_modules/.package-lock.json: missing, or older than the package files, means stale.
# Never downloads a browser: Chromium is Debian's.
ensure_npm_deps() {
    local stamp="$ROOT/node_modules/.package-lock.json"
    if [ -f "$stamp" ] && [ ! "$ROOT/package.json" -nt "$stamp" ] &&
        { [ ! -f "$ROOT/package-lock.json" ] || [ ! "$ROOT/package-lock.json" -nt "$stamp" ]; }; then
        say "npm dependencies: present"
        return
    fi
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    if [ -f "$ROOT/package-lock.json" ]; then
        say "npm ci"
        (cd "$ROOT" && npm ci --no-audit --no-fund)
    else
        say "npm install"
        (cd "$ROOT" && npm install --no-audit --no-fund)
    fi
}

ensure_chromium_binary() {
    if [ -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
        say "chromium: present"
    else
        apt_install chromium
    fi
}

# Builds the JavaScript API into pkg/ (scripts/build-web.sh), then checks the loader is there.
build_pkg() {
    [ -x "$ROOT/scripts/build-web.sh" ] || die "scripts/build-web.sh is missing: cannot build pkg/"
    say "scripts/build-web.sh"
    "$ROOT/scripts/build-web.sh"
}

require_pkg() {
    local pkg="${AURORADB_PKG:-$ROOT/pkg}"
    [ -f "$pkg/auroradb.js" ] || die "$pkg/auroradb.js is missing: build it with scripts/build-web.sh"
}

# prepare_node_suite [--no-build]: what a browser test suite needs before `node --test`: node,
# the npm packages, Chromium, and pkg/ (built unless --no-build).
prepare_node_suite() {
    local build=1 arg
    for arg in "$@"; do
        case "$arg" in
            --no-build) build=0 ;;
            *) die "unknown argument '$arg' (usage: $0 [--no-build])" ;;
        esac
    done
    ensure_node
    ensure_npm_deps
    ensure_chromium_binary
    [ "$build" -eq 0 ] || build_pkg
    require_pkg
}

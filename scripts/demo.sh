#!/usr/bin/env bash
# The demo, from any working directory: an audit board in the browser where several tabs or
# browsers edit shared incidents and sync peer to peer.
#
#   ./scripts/demo.sh              install what is missing, build, serve http://127.0.0.1:8080/
#   ./scripts/demo.sh --port N     serve on port N (0: any free port)
#   ./scripts/demo.sh --check      start everything, fetch the page and each server once, exit 0
#   ./scripts/demo.sh --no-build   use the pkg/ that is there
#
# Installs only what is missing: Rust and a C linker, the wasm32-unknown-unknown target,
# wasm-bindgen-cli at the Cargo.lock version and Debian's binaryen (all through
# scripts/build-web.sh), node and npm (apt), and the npm packages (`npm ci`: socket.io and peer
# for the servers). Then builds the JavaScript API into pkg/ (scripts/build-web.sh) and runs
# demo/serve.mjs: the Socket.IO relay, the PeerJS server and the WebRTC signaling server on
# free loopback ports, and the board (demo/web/ and pkg/) on http://127.0.0.1:PORT/. It prints
# the URL and stays up until Ctrl-C, which stops every server it started.

set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/web-lib.sh
. "$ROOT/scripts/web-lib.sh"
cd "$ROOT"

usage() {
    printf 'usage: %s [--port N] [--check] [--no-build]\n' "$0"
}

# node and npm from apt when missing. The servers need node 18 or newer (the tests, which use
# playwright-core, check for 20 themselves).
ensure_demo_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
    local major
    major="$(node -p 'process.versions.node.split(".")[0]')"
    [ "$major" -ge 18 ] || die "node $(node --version) is too old: the demo's servers need node 18 or newer"
    say "node $(node --version): present"
}

# A port is decimal digits, 0 to 65535 (0: any free port): not ' 0x50', '' or '1e4'.
check_port() {
    if ! [[ "$1" =~ ^[0-9]{1,5}$ ]] || [ "$((10#$1))" -gt 65535 ]; then
        die "bad port '$1': give a decimal number from 0 to 65535 (0: any free port)"
    fi
}

main() {
    local build=1 args=()
    while [ "$#" -gt 0 ]; do
        case "$1" in
            --no-build) build=0 ;;
            --check) args+=(--check) ;;
            --port)
                [ "$#" -ge 2 ] || die "--port needs a value ($(usage))"
                check_port "$2"
                args+=(--port "$2")
                shift
                ;;
            --port=*)
                check_port "${1#--port=}"
                args+=("$1")
                ;;
            -h | --help)
                usage
                return 0
                ;;
            *) die "unknown argument '$1' ($(usage))" ;;
        esac
        shift
    done

    ensure_demo_node
    ensure_npm_deps
    if [ "$build" -eq 1 ]; then
        ensure_rust
        build_pkg
    fi
    require_pkg

    say "node demo/serve.mjs ${args[*]}"
    exec node demo/serve.mjs "${args[@]}"
}

main "$@"

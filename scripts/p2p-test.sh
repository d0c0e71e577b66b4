#!/usr/bin/env bash
# The P2P transports (web/js/p2p/) and their servers (servers/), from any working directory:
#
#   ./scripts/p2p-test.sh              every test in tests/p2p/
#   ./scripts/p2p-test.sh FILE...      only these test files (e.g. tests/p2p/webrtc.test.mjs)
#
# Installs what is missing (node/npm, the npm dev dependencies, Debian's Chromium, iproute2),
# then runs `node --test` inside a network namespace that has only the loopback interface
# (`unshare -n`, needs root), so WebRTC finds loopback candidates only and nothing leaves the
# machine. The tests start every server they need themselves on 127.0.0.1 with free ports:
# servers/signaling.mjs, servers/peerjs.mjs, servers/socketio-relay.mjs and
# tests/p2p/json-relay.mjs, and restart them on the same port to test reconnects. Chromium runs
# headless with --allow-loopback-in-peer-connection --use-fake-ui-for-media-stream. The adapter
# pages get the adapters as esbuild bundles, made by scripts/bundle.mjs when each test file
# starts; the distributed database tests (tests/p2p/sync/) load pkg/ (scripts/build-web.sh).
# The output ends with node's test summary; the exit status is non-zero when anything failed.

set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/web-lib.sh
. "$ROOT/scripts/web-lib.sh"
cd "$ROOT"

# Bounds the whole run (seconds); every test and wait has its own, shorter timeout.
P2P_TEST_TIMEOUT="${P2P_TEST_TIMEOUT:-900}"

main() {
    local files=("$@")
    [ "${#files[@]}" -gt 0 ] || files=(tests/p2p/)

    ensure_node
    ensure_npm_deps
    ensure_chromium_binary
    command -v ip >/dev/null 2>&1 || apt_install iproute2

    local -a run=(node --test --test-concurrency=1 "${files[@]}")
    if unshare -n true 2>/dev/null; then
        say "node --test ${files[*]} (in a loopback-only network namespace)"
        timeout --kill-after=30 "$P2P_TEST_TIMEOUT" \
            unshare -n sh -c 'ip link set lo up && exec "$@"' sh "${run[@]}"
    else
        say "warning: cannot create a network namespace (not root?): running on the host network"
        timeout --kill-after=30 "$P2P_TEST_TIMEOUT" "${run[@]}"
    fi
}

main "$@"

#!/usr/bin/env bash
# The browser benchmark, from any working directory:
#
#   ./scripts/bench-web.sh [--no-build] [--runs N] [--open-ops N] [--open-keys N] [--engines raw,dexie,aurora] [--json FILE]
#                          [--cases bulk,single,reads,open] [--durability strict|relaxed]
#
# Builds pkg/ (scripts/build-web.sh; skipped with --no-build), then runs benches/web/run.mjs:
# AuroraDB vs raw IndexedDB vs Dexie in the same headless Chromium, a table of milliseconds per
# case with AuroraDB's ratios, and the gzipped size of the .wasm + JS. Other arguments go to
# run.mjs: --cases runs only those cases, --durability sets the durability of every engine's
# writing transactions (default: each engine's own). Not a test: `scripts/test.sh` does not run it.

set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/web-lib.sh
. "$ROOT/scripts/web-lib.sh"
cd "$ROOT"

main() {
    local build=1 args=() arg
    for arg in "$@"; do
        if [ "$arg" = "--no-build" ]; then build=0; else args+=("$arg"); fi
    done

    ensure_node
    ensure_npm_deps
    ensure_chromium_binary
    [ "$build" -eq 0 ] || build_pkg
    require_pkg

    say "node benches/web/run.mjs ${args[*]}"
    node benches/web/run.mjs "${args[@]}"
}

main "$@"

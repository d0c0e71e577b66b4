#!/usr/bin/env bash
# Builds the JavaScript API into pkg/, from any working directory:
#
#   ./scripts/build-web.sh           release build (what pages and benchmarks use)
#   ./scripts/build-web.sh --debug   debug build (faster to build, much larger)
#
# Installs what is missing first (the wasm32 target, the dated nightly toolchain with rust-src for
# a release build, wasm-bindgen-cli at the version in Cargo.lock, binaryen's wasm-opt, node, the
# npm packages of package.json), then:
#   1. cargo build -p auroradb-web --target wasm32-unknown-unknown (--release, at opt-level "z",
#      on the dated nightly with the standard library rebuilt for size: see WASM_NIGHTLY),
#      twice: the engine with peer-to-peer sync (feature `sync`, on by default) and the local-only
#      engine (--no-default-features)
#   2. wasm-opt -Oz, twice, on each .wasm (release only; --low-memory-unused: see main)
#   3. wasm-bindgen --target web on each (without the name and producers sections): pkg/auroradb_core.js + pkg/auroradb_core_bg.wasm (the
#      local-only engine), pkg/auroradb_sync.js + pkg/auroradb_sync_bg.wasm (with sync, loaded
#      only by a distributed database), and snippets/
#   4. esbuild (scripts/bundle.mjs): each engine's glue minified with its snippets bundled in
#      (snippets/ removed); the AuroraDB class (web/js/auroradb.js) as the ES module
#      pkg/auroradb.mjs and as the classic script pkg/auroradb.js that defines the global
#      AuroraDB, and each built-in P2P adapter as a bundle of its own in pkg/p2p/ (with the npm
#      client it uses), loaded only when a database picks it; all minified, with source maps;
#      their types; pkg/package.json
# and prints the size of what a page loads, raw and gzipped: the .wasm, the glue and
# auroradb.js for a local-only page, and separately what a distributed page loads instead of the
# local-only engine, and each adapter bundle.
#
# AURORADB_PKG=DIR builds into DIR instead of pkg/ (the tests read the same variable).
#
# pkg/ is self-contained: serve it over HTTP and load either
#   <script src="auroradb.js"></script>                 (global AuroraDB, as in the README)
#   import { AuroraDB } from './auroradb.mjs';           (ES module)

set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/web-lib.sh
. "$ROOT/scripts/web-lib.sh"
cd "$ROOT"

TARGET=wasm32-unknown-unknown
PKG="${AURORADB_PKG:-$ROOT/pkg}"
JS_SRC="$ROOT/web/js"

# The toolchain of the release .wasm: a dated nightly, which rebuilds the standard library for
# size with panics that abort at once (`-Z build-std`, `panic = "immediate-abort"`): about 20 KB
# gzipped less per engine (the README has the figures). Dated, so that its flags do not move under
# the build. AURORADB_WASM_STABLE=1 builds with the stable toolchain instead, as a --debug build
# always does.
WASM_NIGHTLY=nightly-2026-05-19

# The version of package `$1` in Cargo.lock.
locked_version() {
    awk -v name="$1" '
        $0 == "name = \"" name "\"" { found = 1; next }
        found && /^version = / { gsub(/^version = "|"$/, ""); print; exit }
    ' Cargo.lock
}

ensure_target() {
    if ! rustup target list --installed | grep -qx "$TARGET"; then
        say "rustup target add $TARGET"
        rustup target add "$TARGET"
    fi
}

ensure_wasm_bindgen() {
    local want have
    want="$(locked_version wasm-bindgen)"
    [ -n "$want" ] || die "wasm-bindgen is not in Cargo.lock"
    have="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)"
    if [ "$have" != "$want" ]; then
        say "cargo install wasm-bindgen-cli --version $want (found: ${have:-none})"
        cargo install wasm-bindgen-cli --version "$want"
    fi
}

ensure_wasm_nightly() {
    if rustup component list --toolchain "$WASM_NIGHTLY" --installed 2>/dev/null | grep -q '^rust-src'; then
        return
    fi
    say "rustup toolchain install $WASM_NIGHTLY --profile minimal --component rust-src"
    rustup toolchain install "$WASM_NIGHTLY" --profile minimal --component rust-src
}

ensure_wasm_opt() {
    if ! command -v wasm-opt >/dev/null 2>&1; then
        apt_install binaryen
    fi
}

# Types for the classic script: the global AuroraDB.
classic_types() {
    cat <<'EOF'
// The global `AuroraDB` defined by the classic script auroradb.js.
import type { AuroraDB as AuroraDBClass } from './auroradb.mjs';

declare global {
    var AuroraDB: typeof AuroraDBClass;
    type AuroraDB = AuroraDBClass;
}

export {};
EOF
}

package_json() {
    local version
    version="$(awk -F'"' '/^\[workspace.package\]/ { w = 1 } w && /^version = / { print $2; exit }' Cargo.toml)"
    cat <<EOF
{
  "name": "auroradb",
  "version": "$version",
  "description": "A browser database whose engine is an event-sourced, hash-chained operation log.",
  "license": "MIT",
  "type": "module",
  "module": "./auroradb.mjs",
  "types": "./auroradb.d.mts",
  "exports": {
    ".": { "types": "./auroradb.d.mts", "import": "./auroradb.mjs" },
    "./auroradb.js": "./auroradb.js",
    "./p2p/*": "./p2p/*",
    "./auroradb_core_bg.wasm": "./auroradb_core_bg.wasm",
    "./auroradb_sync_bg.wasm": "./auroradb_sync_bg.wasm"
  },
  "sideEffects": ["./auroradb.js"]
}
EOF
}

# Prints "<raw bytes> <gzipped bytes> <file>" for each file (no total: see `sizes`).
size_lines() {
    local f
    for f in "$@"; do
        printf '  %9d B  %8d B gzipped  %s\n' "$(wc -c <"$f")" "$(gzip -9 -c "$f" | wc -c)" "${f#"$ROOT"/}"
    done
}

# Prints size_lines for each file, then the total of them.
sizes() {
    local total_raw=0 total_gz=0 f
    for f in "$@"; do
        total_raw=$((total_raw + $(wc -c <"$f")))
        total_gz=$((total_gz + $(gzip -9 -c "$f" | wc -c)))
    done
    size_lines "$@"
    printf '  %9d B  %8d B gzipped  total (.wasm + JS)\n' "$total_raw" "$total_gz"
}

main() {
    # The release build of the wasm is optimized for size (opt-level "z": about a tenth smaller
    # gzipped than "s", which is about a tenth smaller than 3; the README has the figures and the
    # speed cost); the native release profile is left as it is.
    local profile=release cargo_flags=(--release) size_flags=(--config 'profile.release.opt-level="z"')
    case "${1:-}" in
        "") ;;
        --debug) profile=debug cargo_flags=() size_flags=() ;;
        *) die "unknown argument '$1' (usage: $0 [--debug])" ;;
    esac

    # The standard library rebuilt for size, on the dated nightly (see WASM_NIGHTLY).
    local toolchain=() std_flags=()
    if [ "$profile" = release ] && [ "${AURORADB_WASM_STABLE:-0}" != 1 ]; then
        toolchain=("+$WASM_NIGHTLY")
        # -Zlocation-detail=none: no file, line or column for panics, which no one reads (1.4 KB gzipped).
        std_flags=(-Z build-std=std,panic_abort -Z build-std-features=optimize_for_size -Z panic-immediate-abort
            --config 'profile.release.panic="immediate-abort"'
            --config 'target.wasm32-unknown-unknown.rustflags=["-Zlocation-detail=none"]')
    fi

    ensure_rust
    ensure_target
    [ ${#toolchain[@]} -eq 0 ] || ensure_wasm_nightly
    ensure_wasm_bindgen
    ensure_wasm_opt
    ensure_node
    ensure_npm_deps

    # Each engine build is kept as <name>.wasm (made ready for wasm-bindgen: wasm-opt'd in a
    # release build) before the next cargo build overwrites auroradb_web.wasm.
    local wasm="${CARGO_TARGET_DIR:-$ROOT/target}/$TARGET/$profile/auroradb_web.wasm" name features
    for name in auroradb_sync auroradb_core; do
        features=()
        [ "$name" = auroradb_core ] && features=(--no-default-features)
        say "cargo ${toolchain[*]} build ${cargo_flags[*]} -p auroradb-web --target $TARGET ${features[*]} ${std_flags[*]}"
        cargo "${toolchain[@]}" build "${cargo_flags[@]}" -p auroradb-web --target "$TARGET" --lib "${features[@]}" \
            "${size_flags[@]}" "${std_flags[@]}"
        [ -f "$wasm" ] || die "$wasm was not built"
        # wasm-opt runs before wasm-bindgen: binaryen releases before 116 (Debian 12 has 108)
        # write the externref table wasm-bindgen adds in a form browsers refuse, and the module
        # cargo makes has no such table yet.
        # -Oz twice: the second run of the pipeline finds more to fold once the first has inlined
        # and merged (about 1 KB gzipped; a third finds next to nothing, --converge 0.2 KB more
        # for twice the time).
        # --low-memory-unused: addresses under 1 KB are taken as unused, so a constant added to
        # an address can be folded into the load's or store's offset (the two differ only when
        # the addition wraps past 4 GiB). Rust's wasm32 layout puts the 1 MB stack first: that KB
        # is the stack's far end, reached only through the stack pointer, whose additions do not
        # wrap. About 2 KB gzipped.
        if [ "$profile" = release ]; then
            say "wasm-opt -Oz -Oz --low-memory-unused"
            wasm-opt -Oz -Oz --low-memory-unused --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
                --enable-mutable-globals --enable-reference-types --enable-multivalue "$wasm" \
                -o "$(dirname "$wasm")/$name.wasm"
        else
            cp "$wasm" "$(dirname "$wasm")/$name.wasm"
        fi
    done

    rm -rf "$PKG"
    mkdir -p "$PKG"
    for name in auroradb_sync auroradb_core; do
        say "wasm-bindgen --target web --out-name $name"
        wasm-bindgen --target web --remove-name-section --remove-producers-section --out-dir "$PKG" \
            --out-name "$name" "$(dirname "$wasm")/$name.wasm"
    done

    say "esbuild: scripts/bundle.mjs $PKG"
    node "$ROOT/scripts/bundle.mjs" "$PKG"
    cp "$JS_SRC/auroradb.d.ts" "$PKG/auroradb.d.mts"
    classic_types >"$PKG/auroradb.d.ts"
    package_json >"$PKG/package.json"
    rm -f "$PKG/.gitignore"

    # The classic script must parse as a script and define AuroraDB with the adapter names, the
    # base class and the registry at once (the adapters themselves are not loaded); the module
    # must load; each adapter bundle must parse as a module; both engines must instantiate, the
    # local-only one without the sync methods and the log's tools (the `travel` feature).
    say "checking pkg/ with node"
    node --check "$PKG/auroradb.js"
    node -e "
        const g = { location: { href: 'http://127.0.0.1/' } };
        new Function('globalThis', 'self', require('node:fs').readFileSync('$PKG/auroradb.js', 'utf8'))(g, g);
        const names = g.AuroraDB.listP2PAdapters().join(',');
        if (names !== 'peerjs,webrtc,socketio,broadcast') throw new Error('adapters of the classic script: ' + names);
        if (typeof g.AuroraDB.P2PAdapter !== 'function') throw new Error('AuroraDB.P2PAdapter is missing');
        if (typeof g.AuroraDB.registerP2PAdapter !== 'function') throw new Error('AuroraDB.registerP2PAdapter is missing');
    "
    for f in "$PKG"/p2p/*.js; do node --check "$f"; done
    (cd "$PKG" && node --input-type=module -e "
        import { readFileSync } from 'node:fs';
        import { AuroraDB } from './auroradb.mjs';
        import { initSync, AuroraCore } from './auroradb_core.js';
        initSync({ module: readFileSync('auroradb_core_bg.wasm') });
        if (typeof AuroraCore.open !== 'function') throw new Error('AuroraCore.open is missing');
        if ('attach' in AuroraCore.prototype) throw new Error('the local-only engine has sync methods');
        for (const m of ['history', 'at', 'diff', 'log', 'verify', 'exportLog', 'importLog']) {
            if (m in AuroraCore.prototype) throw new Error('the local-only engine has ' + m + ' (the travel feature)');
        }
        const full = await import('./auroradb_sync.js');
        full.initSync({ module: readFileSync('auroradb_sync_bg.wasm') });
        if (typeof full.AuroraCore.prototype.attach !== 'function') throw new Error('the engine with sync has no attach');
        if (typeof full.AuroraCore.prototype.exportLog !== 'function') throw new Error('the engine with sync has no exportLog');
        if (AuroraDB.listP2PAdapters().join(',') !== 'peerjs,webrtc,socketio,broadcast') throw new Error('adapters of the module');
    ")

    say "pkg/ ($profile):"
    (cd "$PKG" && find . -type f | sort | sed 's/^\.\//  /')
    say "sizes: what a local-only page loads (the .wasm, auroradb_core.js, auroradb.js):"
    local loaded=("$PKG/auroradb_core_bg.wasm" "$PKG/auroradb_core.js" "$PKG/auroradb.js")
    sizes "${loaded[@]}"
    say "the ES module instead of auroradb.js:"
    size_lines "$PKG/auroradb.mjs"
    say "a distributed page loads the engine with sync instead of the local-only .wasm (and glue):"
    sizes "$PKG/auroradb_sync_bg.wasm" "$PKG/auroradb_sync.js"
    say "and its adapter's bundle, one of:"
    size_lines "$PKG"/p2p/{peerjs,webrtc,socketio,broadcast}.js
}

main "$@"

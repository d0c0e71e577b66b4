#!/usr/bin/env bash
# Runs every check of the project, from any working directory:
#
#   ./scripts/test.sh            all steps
#   ./scripts/test.sh fmt clippy only the named steps (see `./scripts/test.sh --list`)
#
# First installs what is missing, skipping what is present: Rust (rustup) and a C linker, the
# rustfmt and clippy components, the wasm32-unknown-unknown target, wasm-bindgen-cli at exactly
# the version in Cargo.lock, and Chromium with its WebDriver (apt). Then runs each step with a
# banner, keeps going when one fails, prints every test runner's summary, and ends with the line
# `N passed, N failed` over all test runs. Exits non-zero if any step failed.
#
# To add a step: write a function `step_<name>` below and list it with `register_step`.

set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

WASM_TARGET=wasm32-unknown-unknown
LOG_DIR="$ROOT/target/test-logs"

# The browser tests: wasm-bindgen-test-runner drives headless Chromium through chromedriver and
# reads extra Chrome flags from webdriver.json at the crate root (web/webdriver.json).
export CHROMEDRIVER=/usr/bin/chromedriver
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-120}"
export WASM_BINDGEN_TEST_DRIVER_TIMEOUT="${WASM_BINDGEN_TEST_DRIVER_TIMEOUT:-30}"

# ---------------------------------------------------------------------------------------------
# Installs: each one is skipped when already present.
# ---------------------------------------------------------------------------------------------

ensure_rust_components() {
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        say "rustup component add rustfmt clippy"
        rustup component add rustfmt clippy
    fi
}

ensure_wasm_target() {
    if rustup target list --installed | grep -qx "$WASM_TARGET"; then
        say "Rust target $WASM_TARGET: present"
    else
        say "rustup target add $WASM_TARGET"
        rustup target add "$WASM_TARGET"
    fi
}

# The version of package `$1` in Cargo.lock.
locked_version() {
    awk -v name="$1" '
        $0 == "name = \"" name "\"" { found = 1; next }
        found && /^version = / { gsub(/^version = "|"$/, ""); print; exit }
    ' Cargo.lock
}

ensure_wasm_bindgen() {
    local want have runner
    want="$(locked_version wasm-bindgen)"
    [ -n "$want" ] || die "wasm-bindgen is not in Cargo.lock"
    have="$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)"
    runner="$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{ print $2 }' || true)"
    if [ "$have" = "$want" ] && [ "$runner" = "$want" ]; then
        say "wasm-bindgen-cli $want: present"
    else
        say "cargo install wasm-bindgen-cli --version $want (found: ${have:-none})"
        cargo install wasm-bindgen-cli --version "$want"
    fi
}

ensure_chromium() {
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
        say "chromium and chromedriver: present"
    else
        apt_install chromium chromium-driver
    fi
}

# ---------------------------------------------------------------------------------------------
# Steps.
# ---------------------------------------------------------------------------------------------

STEP_NAMES=()
STEP_TITLES=()

# register_step NAME TITLE: runs `step_NAME` as one step, in registration order.
register_step() {
    STEP_NAMES+=("$1")
    STEP_TITLES+=("$2")
}

step_fmt() {
    cargo fmt --all --check
}

step_clippy() {
    cargo clippy --workspace --exclude auroradb-web --all-targets -- -D warnings
    # The browser crate (IndexedDB storage, bindings, browser tests) exists for wasm32 only.
    cargo clippy -p auroradb-web --target "$WASM_TARGET" --lib --tests -- -D warnings
    # ...and its local-only build (without the `sync` feature), the engine of non-distributed pages.
    cargo clippy -p auroradb-web --target "$WASM_TARGET" --lib --tests --no-default-features -- -D warnings
}

# Runs one check of the `js` step: `$1` names it, the rest is the command. Counts it in
# JS_PASSED or JS_FAILED.
run_js_check() {
    local name="$1"
    shift
    printf -- '--- %s: %s\n' "$name" "$*"
    if "$@"; then
        printf -- '--- %s: ok\n' "$name"
        JS_PASSED=$((JS_PASSED + 1))
    else
        printf -- '--- %s: FAILED\n' "$name"
        JS_FAILED=$((JS_FAILED + 1))
    fi
}

# Whether the global declaration scripts/build-web.sh writes (pkg/auroradb.d.ts) is the one
# tests/types/ type-checks (tests/types/pkg/auroradb.d.ts).
global_types_match() {
    awk '/^classic_types\(\) \{/ { f = 1; next } f && /^EOF$/ { exit } f && p { print } f && /<<.EOF.$/ { p = 1 }' \
        "$ROOT/scripts/build-web.sh" | diff -u - "$ROOT/tests/types/pkg/auroradb.d.ts"
}

step_js() {
    # The JavaScript and TypeScript (installing node and the npm packages when missing): biome's
    # linter and formatter without writes (biome.jsonc; `npx biome check --write` fixes what it
    # can), and tsc over tests/types/, which uses the declarations of the JavaScript API as
    # callers do (tsconfig.json; tests/types/readme/: the seed README's examples as JavaScript).
    # shellcheck source=scripts/web-lib.sh
    . "$ROOT/scripts/web-lib.sh"
    ensure_node
    ensure_npm_deps
    JS_PASSED=0
    JS_FAILED=0
    run_js_check "biome (lint and format)" npx --no-install biome ci --colors=off --error-on-warnings
    run_js_check "tsc (the module and the global)" npx --no-install tsc --noEmit -p tsconfig.json
    run_js_check "tsc (the README's examples)" npx --no-install tsc --noEmit -p tests/types/readme
    run_js_check "the global declaration of build-web.sh is the one checked" global_types_match
    printf '     Running %s\n' "biome ci, tsc --noEmit (JavaScript and types)"
    printf 'test result: %s. %d passed; %d failed; 0 ignored\n' \
        "$([ "$JS_FAILED" -eq 0 ] && echo ok || echo FAILED)" "$JS_PASSED" "$JS_FAILED"
    [ "$JS_FAILED" -eq 0 ]
}

step_native() {
    cargo test --workspace --exclude auroradb-web --no-fail-fast
}

step_wasm_build() {
    # The portable crates must build for the browser as they are.
    cargo build -p auroradb-log -p auroradb-snapshot -p auroradb-net -p auroradb --target "$WASM_TARGET"
    # ...and the engine without its `sync` feature, as the local-only browser build uses it.
    cargo build -p auroradb --no-default-features --target "$WASM_TARGET"
}

step_browser() {
    # Unit and integration tests of the `auroradb-web` package, compiled to wasm32 and run in
    # headless Chromium by wasm-bindgen-test-runner (the runner set in .cargo/config.toml).
    cargo test -p auroradb-web --target "$WASM_TARGET" --lib --tests --no-fail-fast
    # ...and again on the local-only build (without the `sync` feature), the engine of the pages
    # whose databases do not sync.
    cargo test -p auroradb-web --target "$WASM_TARGET" --lib --tests --no-fail-fast --no-default-features
}

# Runs a node test script (`$1`, then its arguments), then prints a cargo-style summary line of
# node's counts ("# pass N", "# fail N") labelled `$LABEL`, so the runner counts those tests too.
run_node_tests() {
    local label="$1" out status
    shift
    out="$(mktemp)"
    set +e
    "$@" 2>&1 | tee "$out"
    status=${PIPESTATUS[0]}
    set -e
    printf '     Running %s\n' "$label"
    awk '
        /^# pass / { p = $3 }
        /^# fail / { f = $3 }
        END { printf "test result: %s. %d passed; %d failed; 0 ignored\n", (f + 0 > 0 ? "FAILED" : "ok"), p, f }
    ' "$out"
    rm -f "$out"
    return "$status"
}

# Whether pkg/ was built after every source it is made of.
pkg_is_fresh() {
    local stamp="$ROOT/pkg/auroradb.js"
    [ -f "$stamp" ] || return 1
    [ -z "$(find "$ROOT/src" "$ROOT/web/src" "$ROOT/web/js" "$ROOT/log/src" "$ROOT/snapshot/src" "$ROOT/net/src" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" \
        "$ROOT/scripts/build-web.sh" "$ROOT/scripts/bundle.mjs" "$ROOT/package-lock.json" -newer "$stamp" -type f -print -quit)" ]
}

step_web() {
    # The JavaScript API in headless Chromium (builds pkg/): the README's local examples and the
    # API checks (tests/web/).
    run_node_tests "node --test tests/web/ (JavaScript API)" "$ROOT/scripts/web-test.sh"
}

step_p2p() {
    # The P2P adapters and servers, and the distributed database over them (tests/p2p/, with
    # tests/p2p/sync/: convergence through every adapter, the README's distributed examples), in
    # a loopback-only network namespace. Builds pkg/ first when it is older than its sources.
    pkg_is_fresh || "$ROOT/scripts/build-web.sh"
    run_node_tests "node --test tests/p2p/ (P2P transports and distributed sync)" "$ROOT/scripts/p2p-test.sh"
}

step_sim() {
    # The seeded multi-peer sync simulation in release mode: the fixed seeds 0 to 2999, then a
    # fresh random range of 1,000 seeds, printed (a failing seed reproduces with
    # AURORADB_SIM_SEED=<n>).
    AURORADB_SIM_SEEDS=3000 cargo test -p auroradb-net --release --test sim
    local from=$(((RANDOM << 30 | RANDOM << 15 | RANDOM) + 3000))
    say "sim: fresh seeds $from to $((from + 999)) (replay one with AURORADB_SIM_SEED=<n>)"
    AURORADB_SIM_FROM="$from" AURORADB_SIM_SEEDS=1000 cargo test -p auroradb-net --release --test sim
}

# The nightly toolchain (minimal profile) and cargo-fuzz, for the fuzz step; stable stays the
# default toolchain.
ensure_fuzz_tools() {
    if rustup toolchain list | grep -q '^nightly'; then
        say "Rust nightly: present"
    else
        say "rustup toolchain install nightly --profile minimal"
        rustup toolchain install nightly --profile minimal
    fi
    if cargo fuzz --version >/dev/null 2>&1; then
        say "cargo-fuzz: present"
    else
        say "cargo install cargo-fuzz"
        cargo install cargo-fuzz
    fi
}

step_fuzz() {
    # A short run of each fuzz target (fuzz/, cargo-fuzz on nightly), starting from the inputs
    # kept in tests/fixtures/fuzz/<target>/ (the native step replays them all). A crash fails the
    # step and leaves its input under fuzz/artifacts/<target>/: once fixed, keep it as a fixture.
    ensure_fuzz_tools
    local target corpus
    for target in decoders receive; do
        corpus="$ROOT/target/fuzz-corpus/$target"
        mkdir -p "$corpus"
        say "cargo +nightly fuzz run $target (${AURORADB_FUZZ_SECONDS:-20} s)"
        cargo +nightly fuzz run "$target" "$corpus" "$ROOT/tests/fixtures/fuzz/$target" -- \
            -max_total_time="${AURORADB_FUZZ_SECONDS:-20}" -rss_limit_mb=2048
    done
}

step_demo() {
    # The demo's end-to-end test: scripts/demo.sh, two browser contexts syncing through it.
    run_node_tests "node --test tests/demo/ (the demo, end to end)" "$ROOT/scripts/demo-test.sh"
}

step_bench_build() {
    cargo bench --workspace --exclude auroradb-web --no-run
}

register_step fmt "formatting: cargo fmt --all --check"
register_step clippy "lints: cargo clippy --all-targets -- -D warnings (native and wasm32)"
register_step js "JavaScript: biome ci (lint, format) and tsc --noEmit (the API's declarations)"
register_step native "native tests: cargo test --workspace"
register_step wasm_build "wasm32 build of the portable crates (log, snapshot, net, auroradb)"
register_step browser "browser tests: wasm-bindgen-test in headless Chromium"
register_step web "JavaScript API tests: scripts/web-test.sh (headless Chromium)"
register_step p2p "P2P and distributed sync tests: scripts/p2p-test.sh (headless Chromium, real servers)"
register_step sim "sync simulation: AURORADB_SIM_SEEDS=3000 cargo test -p auroradb-net --release --test sim"
register_step fuzz "fuzzing: cargo +nightly fuzz run, each target for 20 s (decoders, receive)"
register_step demo "demo end-to-end: scripts/demo-test.sh (two browsers on the audit board)"
register_step bench_build "benchmarks build: cargo bench --workspace --exclude auroradb-web --no-run"

# ---------------------------------------------------------------------------------------------
# Runner.
# ---------------------------------------------------------------------------------------------

TOTAL_PASSED=0
TOTAL_FAILED=0
REPORT=()
FAILED_STEPS=()

banner() {
    local line
    line="$(printf '=%.0s' {1..96})"
    printf '\n%s\n== %s\n%s\n' "$line" "$*" "$line"
}

# Prints each test runner's summary line found in log `$1`, named after the runner.
print_test_summaries() {
    awk '
        # Cargo runs a package'"'"'s unit tests first, then its integration tests: label the latter
        # with the crate of the unit tests before them.
        /^ +Running unittests / {
            crate = $0; sub(/.*\/deps\//, "", crate); sub(/-[0-9a-f]+(\.wasm)?\)$/, "", crate)
            name = $0; sub(/^ +Running unittests /, "", name); sub(/ \(.*\)$/, "", name)
            name = crate " " name
        }
        /^ +Running / && !/^ +Running unittests / {
            name = $0; sub(/^ +Running /, "", name); sub(/ \(.*\)$/, "", name)
            name = crate " " name
        }
        /^ +Doc-tests / { name = $0; sub(/^ +Doc-tests /, "", name); name = name " doc-tests" }
        /^test result:/ { printf "  %-44s %s\n", name, $0 }
    ' "$1"
}

# Prints "PASSED FAILED": the sums over the "test result:" lines of log `$1`.
count_tests() {
    awk '
        /^test result:/ {
            for (i = 2; i <= NF; i++) {
                if ($i ~ /^passed;?$/) p += $(i - 1)
                if ($i ~ /^failed;?$/) f += $(i - 1)
            }
        }
        END { print p + 0, f + 0 }
    ' "$1"
}

# Prints what failed in log `$1`, at most 16 lines: node's failed tests ("not ok") with the first
# line of their error, cargo's failed tests with the place and message of their panic, and
# compiler and lint errors with their place. The
# summary shows them, so that a run whose log is gone (CI keeps only the end of the output) still
# says which test failed and why.
print_failures() {
    awk '
        function out(line) { sub(/^[ \t]+/, "", line); if (n++ < 16) print "    " substr(line, 1, 200) }
        /^[ \t]*not ok / { out($0); want = 1; next }
        want && /^[ \t]*error: *[|>]-?$/ { want = 0; block = 1; next }
        block { out("error: " $0); block = 0; next }
        want && /^[ \t]*error: / { out($0); want = 0; next }
        want && /^[ \t]*\.\.\.$/ { want = 0 }
        /^test .* \.\.\. FAILED$/ { out($0); next }
        /panicked at / { out($0); msg = 1; next }
        msg { out($0); msg = 0 }
        /^error(\[[A-Z0-9]+\])?: / && !/could not compile|test failed|aborting due|build failed/ { out($0); loc = 1; next }
        loc && /-->/ { out($0); loc = 0 }
    ' "$1"
}

# run_step INDEX: runs one registered step, logging its output to $LOG_DIR/NAME.log.
run_step() {
    local i="$1" name="${STEP_NAMES[$1]}" title="${STEP_TITLES[$1]}"
    local log="$LOG_DIR/$name.log" status start passed failed note=""
    banner "[$((i + 1))/${#STEP_NAMES[@]}] $title"
    start=$SECONDS
    set +e
    (
        set -e
        "step_$name"
    ) 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    set -e
    read -r passed failed < <(count_tests "$log")
    if grep -q '^test result:' "$log"; then
        printf '\n-- %s: test summaries\n' "$name"
        print_test_summaries "$log"
        note=" ($passed passed, $failed failed)"
        TOTAL_PASSED=$((TOTAL_PASSED + passed))
        TOTAL_FAILED=$((TOTAL_FAILED + failed))
    fi
    if [ "$status" -eq 0 ]; then
        REPORT+=("$(printf '  ok      %-12s %4ss%s' "$name" $((SECONDS - start)) "$note")")
    else
        REPORT+=("$(printf '  FAILED  %-12s %4ss%s, exit %s, log %s' "$name" $((SECONDS - start)) "$note" "$status" "${log#"$ROOT"/}")")
        FAILED_STEPS+=("$name")
    fi
}

main() {
    local selected=() i name known
    if [ "${1:-}" = "--list" ]; then
        for i in "${!STEP_NAMES[@]}"; do printf '%-12s %s\n' "${STEP_NAMES[$i]}" "${STEP_TITLES[$i]}"; done
        return 0
    fi
    for name in "$@"; do
        known=""
        for i in "${!STEP_NAMES[@]}"; do [ "${STEP_NAMES[$i]}" = "$name" ] && known="$i"; done
        [ -n "$known" ] || die "unknown step '$name' (see --list)"
        selected+=("$known")
    done
    [ "${#selected[@]}" -gt 0 ] || selected=("${!STEP_NAMES[@]}")

    banner "installing what is missing"
    ensure_rust
    ensure_rust_components
    ensure_wasm_target
    ensure_wasm_bindgen
    ensure_chromium

    mkdir -p "$LOG_DIR"
    for i in "${selected[@]}"; do
        run_step "$i"
    done

    banner "summary"
    printf '%s\n' "${REPORT[@]}"
    if [ "${#FAILED_STEPS[@]}" -gt 0 ]; then
        for name in "${FAILED_STEPS[@]}"; do
            printf 'what failed in %s (target/test-logs/%s.log):\n' "$name" "$name"
            print_failures "$LOG_DIR/$name.log"
        done
        printf 'failed steps: %s\n' "${FAILED_STEPS[*]}"
    fi
    printf '%s passed, %s failed\n' "$TOTAL_PASSED" "$TOTAL_FAILED"
    [ "${#FAILED_STEPS[@]}" -eq 0 ] && [ "$TOTAL_FAILED" -eq 0 ]
}

main "$@"

#!/usr/bin/env bash
# The demo's end-to-end test, from any working directory:
#
#   ./scripts/demo-test.sh             install what is missing, build pkg/, run the test
#   ./scripts/demo-test.sh --no-build  use the pkg/ that is there
#
# Installs node/npm (apt), the npm dev dependencies (`npm ci`, never a browser download) and
# Debian's Chromium when missing, builds the JavaScript API into pkg/ (scripts/build-web.sh),
# then runs `node --test tests/demo/*.test.mjs`: scripts/demo.sh on a free port, the audit
# board in two headless Chromium contexts synced through the demo's Socket.IO relay, and a
# screenshot saved to artifacts/demo.png. The output ends with node's test summary; the exit
# status is non-zero when anything failed.

set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/web-lib.sh
. "$ROOT/scripts/web-lib.sh"
cd "$ROOT"

# Bounds the whole run (seconds); every wait in the test has its own, shorter timeout.
DEMO_TEST_TIMEOUT="${DEMO_TEST_TIMEOUT:-600}"

main() {
    prepare_node_suite "$@"

    say "node --test tests/demo/*.test.mjs"
    timeout --kill-after=30 "$DEMO_TEST_TIMEOUT" node --test --test-concurrency=1 tests/demo/*.test.mjs
}

main "$@"

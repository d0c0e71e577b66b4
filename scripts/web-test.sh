#!/usr/bin/env bash
# The JavaScript API in headless Chromium, from any working directory:
#
#   ./scripts/web-test.sh             install what is missing, build pkg/, run the tests
#   ./scripts/web-test.sh --no-build  use the pkg/ that is there
#
# Installs node/npm (apt) and the npm dev dependencies when node_modules is missing or older
# than the package files (`npm ci`; never a browser download: Chromium is Debian's), builds the
# JavaScript API into pkg/ with scripts/build-web.sh, then runs
# `node --test tests/web/*.test.mjs`: the README's examples and the API checks as pages driven
# by playwright-core. The output ends with node's test summary (`# tests N`, `# pass N`,
# `# fail N`); the exit status is non-zero when anything failed.

set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/web-lib.sh
. "$ROOT/scripts/web-lib.sh"
cd "$ROOT"

# Bounds the whole test run (seconds); each page and test has its own, shorter timeout.
WEB_TEST_TIMEOUT="${WEB_TEST_TIMEOUT:-900}"

main() {
    prepare_node_suite "$@"

    say "node --test tests/web/*.test.mjs"
    timeout --kill-after=30 "$WEB_TEST_TIMEOUT" node --test tests/web/*.test.mjs
}

main "$@"

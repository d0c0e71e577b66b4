#!/usr/bin/env bash
# Runs the demo from any working directory: two peers each write to their own operation log,
# exchange their ops, and end with the same log; it prints that log (HLC id, author, seq, hash),
# verifies it, then shows a tampered copy failing verification.
#
# Installs Rust (rustup) and a C linker only if they are missing; nothing else.

set -euo pipefail

# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_rust
exec cargo run -q -p auroradb-log --example two_peers

#!/usr/bin/env bash
# Build moat and serve the default model.
#
#   ./scripts/run.sh [moat serve flags...]     e.g. --listen 0.0.0.0:8080
#
# Installs the Debian packages the build needs (only the missing ones),
# fetches SmolLM2-135M-Instruct into models/, builds the release binary and
# runs `moat serve` (127.0.0.1:8080 by default).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOAT_ROOT"

heading "system packages"
install_system_deps

heading "default model"
./scripts/fetch-model.sh

heading "cargo build --release"
cargo build --release

heading "moat serve $*"
exec target/release/moat serve "$@"

#!/usr/bin/env bash
# Build the web UI (ui/) into ui/dist, which `cargo build` embeds into the
# binary: run it before building moat.
#
#   ./scripts/build-ui.sh
#
# Installs Node.js and npm from Debian when npm is missing, runs `npm ci`
# when ui/node_modules is missing or older than ui/package-lock.json, then
# `node build.mjs`.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$MOAT_ROOT/ui"

command -v npm >/dev/null 2>&1 || apt_install nodejs npm
command -v npm >/dev/null 2>&1 || die "npm not found (install Node.js 18 or later)"

# npm ci writes node_modules/.package-lock.json: stale when the lock file
# is newer.
installed=node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ package-lock.json -nt "$installed" ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
node build.mjs

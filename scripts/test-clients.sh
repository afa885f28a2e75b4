#!/usr/bin/env bash
# The real OAuth-MCP clients against the real binary: builds mcp-oauth-sim, installs the pinned
# TypeScript SDK (tests/clients/typescript, `npm ci` from its lock file when node_modules is
# missing or older than the lock), and runs its scenario suite over HTTP and over HTTPS.
# Each passing scenario leaves a result in $CLIENT_MATRIX_DIR (default target/client-matrix)
# for tests/clients/matrix.mjs. The rmcp suite runs under `cargo test` (see scripts/test.sh).
#
# Usage: scripts/test-clients.sh [http] [https]     (both by default)
# Env:   MCP_OAUTH_SIM_BIN  a binary to test instead of building target/debug/mcp-oauth-sim
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TS=$ROOT/tests/clients/typescript
export CLIENT_MATRIX_DIR=${CLIENT_MATRIX_DIR:-$ROOT/target/client-matrix}

die() { printf 'test-clients: %s\n' "$*" >&2; exit 1; }

for tool in node npm; do
    command -v "$tool" >/dev/null || die "$tool is required (Node 20 or newer with npm)"
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "Node 20 or newer is required, this is $(node --version)"

if [[ -z ${MCP_OAUTH_SIM_BIN:-} ]]; then
    echo "== cargo build --locked -p mcp-oauth-sim"
    cargo build --locked --manifest-path "$ROOT/Cargo.toml" -p mcp-oauth-sim
    export MCP_OAUTH_SIM_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/mcp-oauth-sim
fi
[[ -x $MCP_OAUTH_SIM_BIN ]] || die "no executable at $MCP_OAUTH_SIM_BIN"

# node_modules is current when it was installed from this very lock file (stamp written below).
STAMP=$TS/node_modules/.installed-from-package-lock.json
if ! cmp -s "$TS/package-lock.json" "$STAMP"; then
    echo "== npm ci (tests/clients/typescript)"
    (cd "$TS" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) ||
        die "npm ci failed in $TS"
    cp "$TS/package-lock.json" "$STAMP"
fi

echo "== TypeScript SDK scenarios (results in $CLIENT_MATRIX_DIR/typescript)"
node "$TS/run.mjs" "$@" || die "the TypeScript SDK suite failed (its output is above)"

#!/usr/bin/env bash
# The README's test command: everything, in the order a failure is cheapest to read.
#
#   1. cargo test --workspace --locked   the Rust crates, including the rmcp client suite
#                                        (crates/mcp-oauth-sim/tests/rmcp_client)
#   2. at once, against the built binary:
#      scripts/test-clients.sh           the Node client suites side by side: the v1 and v2
#                                        TypeScript SDKs, the MCP Inspector CLI and mcp-remote,
#                                        each over HTTP and HTTPS
#      scripts/conformance-server.sh     the official MCP conformance suite's authorization-server
#                                        scenarios against the rig's AS (Node 22 from its package)
#   3. scripts/test-browser.sh           the consent page and the dashboard in headless Chromium
#                                        (Debian's chromium package) with the v1 TypeScript SDK
#   4. tests/clients/matrix.mjs --check  README "Tested clients" and docs/conformance.md's table
#                                        must match what 1 and 2 produced
#
# The client suites write their results into $CLIENT_MATRIX_DIR (default target/client-matrix),
# which is emptied first so that only this run counts, and their logs into target/client-logs.
# Needs cargo, Node 20+, npm, curl and chromium (the npm registry the first time). Runs
# unattended (CI=true, no stdin).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CLIENT_MATRIX_DIR=${CLIENT_MATRIX_DIR:-$ROOT/target/client-matrix}

step() { printf '\n== %s\n' "$*"; }
fail() { printf '\ntest.sh: %s\n' "$*" >&2; exit 1; }

[[ -n $CLIENT_MATRIX_DIR && $CLIENT_MATRIX_DIR != / ]] || fail "CLIENT_MATRIX_DIR is empty or /"
rm -rf "$CLIENT_MATRIX_DIR"
mkdir -p "$CLIENT_MATRIX_DIR"

step "cargo test --workspace --locked"
cargo test --workspace --locked || fail "cargo test failed"

step "cargo build --locked -p mcp-oauth-sim"
cargo build --locked -p mcp-oauth-sim || fail "cargo build failed"
export MCP_OAUTH_SIM_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/mcp-oauth-sim

# The conformance suite's AS checks need nothing the client suites use, so they run meanwhile;
# their output is shown once the client suites are done.
LOG_DIR=${CLIENT_LOG_DIR:-$ROOT/target/client-logs}
mkdir -p "$LOG_DIR"
step "scripts/conformance-server.sh (in the background, log: $LOG_DIR/conformance-server.log)"
scripts/conformance-server.sh >"$LOG_DIR/conformance-server.log" 2>&1 </dev/null &
conformance_pid=$!
trap 'kill "$conformance_pid" 2>/dev/null || true' EXIT

step "scripts/test-clients.sh"
clients=0
scripts/test-clients.sh || clients=$?

step "scripts/conformance-server.sh"
conformance=0
wait "$conformance_pid" || conformance=$?
cat "$LOG_DIR/conformance-server.log"
((clients == 0)) || fail "the client suites failed"
((conformance == 0)) || fail "the conformance suite's authorization-server checks failed"

step "scripts/test-browser.sh"
scripts/test-browser.sh </dev/null || fail "the browser tests failed"

step "node tests/clients/matrix.mjs --check README.md docs/conformance.md"
node tests/clients/matrix.mjs --check README.md docs/conformance.md ||
    fail "README.md's tested-clients or docs/conformance.md's table does not match this run"

printf '\ntest.sh: all passed\n'

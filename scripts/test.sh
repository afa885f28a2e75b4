#!/usr/bin/env bash
# The README's test command: everything, in the order a failure is cheapest to read.
#
#   1. cargo test --workspace --locked   the Rust crates, including the rmcp client suite
#                                        (crates/mcp-oauth-sim/tests/rmcp_client)
#   2. scripts/test-clients.sh           the TypeScript SDK client suite, HTTP and HTTPS, and its
#                                        conformance situations over HTTP
#   3. scripts/conformance-server.sh     the official MCP conformance suite's authorization-server
#                                        scenarios against the rig's AS (Node 22 from its package)
#   4. tests/clients/matrix.mjs --check  README "Tested clients" and "Conformance situations"
#                                        must match what 1 and 2 produced
#
# Both client suites write their results into $CLIENT_MATRIX_DIR (default target/client-matrix),
# which is emptied first so that only this run counts. Needs cargo, Node 20+, npm and curl (the
# npm registry the first time). Runs unattended (CI=true, no stdin).
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

step "scripts/test-clients.sh"
scripts/test-clients.sh || fail "the client suites failed"

step "scripts/conformance-server.sh"
scripts/conformance-server.sh || fail "the conformance suite's authorization-server checks failed"

step "node tests/clients/matrix.mjs --check README.md"
node tests/clients/matrix.mjs --check README.md ||
    fail "README.md's tested-clients or conformance table does not match this run"

printf '\ntest.sh: all passed\n'

#!/usr/bin/env bash
# The real Node OAuth-MCP clients against the real binary, suite by suite, side by side:
#
#   typescript     @modelcontextprotocol/sdk, the v1 TypeScript SDK   tests/clients/typescript
#   typescript-v2  @modelcontextprotocol/client, the v2 SDK           tests/clients/typescript-v2
#   inspector      the MCP Inspector's --cli mode (Node 22)           tests/clients/inspector
#   mcp-remote     the mcp-remote stdio proxy                         tests/clients/mcp-remote
#
# Builds mcp-oauth-sim (unless MCP_OAUTH_SIM_BIN names one), installs each suite's pinned
# packages from its lock file (scripts/npm-ci.sh: only when node_modules is missing or older
# than the lock), then runs the suites at once: each starts rigs of its own on ephemeral ports,
# so they do not meet. Every suite runs over HTTP and HTTPS (tests/clients/<suite>/run.mjs) and
# leaves a result per passing scenario in $CLIENT_MATRIX_DIR/<suite> (default
# target/client-matrix) for tests/clients/matrix.mjs. The rmcp suite runs under `cargo test`.
#
# A suite's whole output goes to $CLIENT_LOG_DIR/<suite>.log (default target/client-logs); this
# script prints the summary of a suite that passed and the whole log of one that failed, as each
# finishes, with its duration.
#
# Usage: scripts/test-clients.sh [SUITE...] [http] [https]     (all suites, both schemes)
# Env:   MCP_OAUTH_SIM_BIN  a binary to test instead of building target/debug/mcp-oauth-sim
#        CLIENT_JOBS        how many suites run at once (default: all of them)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ALL_SUITES=(typescript typescript-v2 inspector mcp-remote)
export CLIENT_MATRIX_DIR=${CLIENT_MATRIX_DIR:-$ROOT/target/client-matrix}
LOG_DIR=${CLIENT_LOG_DIR:-$ROOT/target/client-logs}
# Bound on one suite, both schemes: a hung suite fails the run instead of stalling CI.
SUITE_TIMEOUT=900

die() { printf 'test-clients: %s\n' "$*" >&2; exit 1; }

suites=() schemes=()
for arg in "$@"; do
    case $arg in
    http | https) schemes+=("$arg") ;;
    typescript | typescript-v2 | inspector | mcp-remote) suites+=("$arg") ;;
    *) die "unknown argument '$arg' (usage: scripts/test-clients.sh [${ALL_SUITES[*]}] [http] [https])" ;;
    esac
done
((${#suites[@]})) || suites=("${ALL_SUITES[@]}")
jobs=${CLIENT_JOBS:-${#suites[@]}}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "CLIENT_JOBS must be a positive number, not '$jobs'"

for tool in node npm timeout; do
    command -v "$tool" >/dev/null || die "$tool is required (Node 20 or newer with npm; coreutils)"
done
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "Node 20 or newer is required, this is $(node --version)"

if [[ -z ${MCP_OAUTH_SIM_BIN:-} ]]; then
    echo "== cargo build --locked -p mcp-oauth-sim"
    cargo build --locked --manifest-path "$ROOT/Cargo.toml" -p mcp-oauth-sim
    export MCP_OAUTH_SIM_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/mcp-oauth-sim
fi
[[ -x $MCP_OAUTH_SIM_BIN ]] || die "no executable at $MCP_OAUTH_SIM_BIN"
export MCP_OAUTH_SIM_BIN

# One at a time: npm ci runs share npm's cache, and a failure here is clearer before anything runs.
for suite in "${suites[@]}"; do
    "$ROOT/scripts/npm-ci.sh" "$ROOT/tests/clients/$suite"
done

mkdir -p "$LOG_DIR"
declare -A started=() pids=()
failed=()

# Waits for any running suite, reports it, and forgets it.
reap() {
    local pid status=0 suite
    wait -n -p pid "${pids[@]}" || status=$?
    suite=${pids_by[$pid]}
    unset "pids[$suite]"
    local took=$((SECONDS - started[$suite]))
    if ((status == 0)); then
        printf '\n== %s passed in %d s (log: %s)\n' "$suite" "$took" "$LOG_DIR/$suite.log"
        grep -E '^(== |ℹ (tests|pass|fail) )' "$LOG_DIR/$suite.log" || true
    else
        printf '\n== %s FAILED (exit %d) after %d s; its log:\n' "$suite" "$status" "$took"
        cat "$LOG_DIR/$suite.log"
        failed+=("$suite")
    fi
}

declare -A pids_by=()
for suite in "${suites[@]}"; do
    while ((${#pids[@]} >= jobs)); do reap; done
    echo "== starting the $suite suite"
    started[$suite]=$SECONDS
    timeout --kill-after=10 "$SUITE_TIMEOUT" node "$ROOT/tests/clients/$suite/run.mjs" "${schemes[@]}" \
        >"$LOG_DIR/$suite.log" 2>&1 </dev/null &
    pids[$suite]=$!
    pids_by[$!]=$suite
done
while ((${#pids[@]})); do reap; done

((${#failed[@]} == 0)) || die "failed: ${failed[*]} (logs in $LOG_DIR)"
echo "test-clients: all passed (${suites[*]})"

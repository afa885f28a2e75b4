#!/usr/bin/env bash
# The consent page and the dashboard in a real browser (tests/browser): headless Chromium from
# Debian's package (/usr/bin/chromium, or CHROMIUM), driven by playwright-core, which downloads
# no browser; the client is the v1 TypeScript SDK. Each test starts a rig of its own on
# ephemeral ports.
#
# Builds mcp-oauth-sim (unless MCP_OAUTH_SIM_BIN names one), installs tests/browser's pinned
# packages (scripts/npm-ci.sh), then runs tests/browser/run.mjs bounded by BROWSER_TIMEOUT,
# its whole output in $CLIENT_LOG_DIR/browser.log (default target/client-logs): the summary is
# printed when it passes, the whole log when it fails. Screenshots go to
# target/browser-screenshots (SCREENSHOTS=1: also docs/images).
#
# Usage: scripts/test-browser.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOG_DIR=${CLIENT_LOG_DIR:-$ROOT/target/client-logs}
# Bound on the whole suite: a hung browser fails the run instead of stalling CI.
BROWSER_TIMEOUT=300
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

die() { printf 'test-browser: %s\n' "$*" >&2; exit 1; }

for tool in node npm timeout; do
    command -v "$tool" >/dev/null || die "$tool is required (Node 20 or newer with npm; coreutils)"
done
[[ -x $CHROMIUM ]] || die "no Chromium at $CHROMIUM: apt-get install chromium (.ci/run does), or set CHROMIUM"
export CHROMIUM

if [[ -z ${MCP_OAUTH_SIM_BIN:-} ]]; then
    echo "== cargo build --locked -p mcp-oauth-sim"
    cargo build --locked --manifest-path "$ROOT/Cargo.toml" -p mcp-oauth-sim
    export MCP_OAUTH_SIM_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/mcp-oauth-sim
fi
[[ -x $MCP_OAUTH_SIM_BIN ]] || die "no executable at $MCP_OAUTH_SIM_BIN"
# Absolute: each rig is started from a temporary directory of its own.
MCP_OAUTH_SIM_BIN=$(realpath "$MCP_OAUTH_SIM_BIN")
export MCP_OAUTH_SIM_BIN

"$ROOT/scripts/npm-ci.sh" "$ROOT/tests/browser"

mkdir -p "$LOG_DIR"
log=$LOG_DIR/browser.log
started=$SECONDS
status=0
timeout --kill-after=10 "$BROWSER_TIMEOUT" node "$ROOT/tests/browser/run.mjs" >"$log" 2>&1 </dev/null || status=$?
if ((status == 0)); then
    printf '== browser tests passed in %d s (log: %s)\n' "$((SECONDS - started))" "$log"
    grep -E '^(== |ℹ (tests|pass|fail) )' "$log" || true
else
    printf '== browser tests FAILED (exit %d) after %d s; the log:\n' "$status" "$((SECONDS - started))"
    cat "$log"
    die "failed (log: $log)"
fi

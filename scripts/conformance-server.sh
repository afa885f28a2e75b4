#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, pinned with Node 22 in
# tests/conformance-server) judging the rig's authorization server: its two authorization-server
# scenarios, `authorization-server-metadata-endpoint` and `authorization-code-grant`, against the
# real binary on free loopback ports, headlessly. Passes only when every check the suite reports
# is SUCCESS: a WARNING (a SHOULD the rig misses), a SKIPPED or a FAILURE fails the run, which the
# suite's own exit status does not do (it only counts FAILURE).
#
# The code-grant scenario is interactive: it prints an authorization URL for a person to open in
# a browser and waits up to five minutes on a loopback callback (`--port`). Since the rig approves
# consent by itself, a browser is two requests: GET the URL without following the redirect, then
# GET its Location, which is the suite's callback. This script does that with curl.
#
# Usage: scripts/conformance-server.sh
# Env:   MCP_OAUTH_SIM_BIN  a binary to test instead of building target/debug/mcp-oauth-sim
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKG=$ROOT/tests/conformance-server
SUITE=$PKG/node_modules/@modelcontextprotocol/conformance/dist/index.js
NODE=$PKG/node_modules/node/bin/node

# The suite authorizes as this pre-registered public client; any loopback redirect URI, so any
# free --port below works.
CLIENT_ID=conformance-client
RIG_CLIENTS='[{"client_id":"conformance-client","auth_method":"none","redirect_uris":"any-loopback"}]'
# The rig is judged as it starts by default (empty: no profile), so that a default which stopped
# offering client ID metadata documents fails `authorization-server-metadata-cimd` here. To judge
# another profile: RIG_AS_PROFILE='{"client_id_metadata_document_supported":false}' (a WARNING).
RIG_AS_PROFILE=${RIG_AS_PROFILE:-}

# Bounds on every wait, in seconds: a hung rig or suite fails the run instead of stalling CI.
READY_TIMEOUT=10  # the rig's ready line
URL_TIMEOUT=30    # the suite's start-up, metadata scenario and authorization URL
HTTP_TIMEOUT=10   # each of the two browser requests
EXIT_TIMEOUT=30   # the suite's token request, checks.json and exit after the callback

die() { printf 'conformance-server: %s\n' "$*" >&2; exit 1; }

for tool in npm curl; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

if [[ -z ${MCP_OAUTH_SIM_BIN:-} ]]; then
    echo "== cargo build --locked -p mcp-oauth-sim"
    cargo build --locked --manifest-path "$ROOT/Cargo.toml" -p mcp-oauth-sim
    MCP_OAUTH_SIM_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/mcp-oauth-sim
fi
[[ -x $MCP_OAUTH_SIM_BIN ]] || die "no executable at $MCP_OAUTH_SIM_BIN"
# Absolute: the rig runs in a directory of its own.
MCP_OAUTH_SIM_BIN=$(cd "$(dirname "$MCP_OAUTH_SIM_BIN")" && pwd)/$(basename "$MCP_OAUTH_SIM_BIN")

# Node 22 comes with the suite, from the npm registry (scripts/npm-ci.sh runs its install step).
"$ROOT/scripts/npm-ci.sh" "$PKG"
[[ -x $NODE && -f $SUITE ]] || die "no $NODE or $SUITE after npm ci"
node_version=$("$NODE" -p process.versions.node)
[[ $node_version == 22.* ]] || die "the suite needs Node 22, $NODE is $node_version"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/conformance-server.XXXXXX")
rig_pid='' suite_pid=''
# Stops what this script started (TERM, then KILL after 5 s) and removes its files, on any exit.
stop() {
    local pid
    for pid in $suite_pid $rig_pid; do
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in {1..50}; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Polls until the command succeeds, for at most $1 seconds; fails when $2 (a pid) dies first.
wait_for() {
    local seconds=$1 pid=$2 deadline
    shift 2
    deadline=$((SECONDS + seconds))
    until "$@"; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}
show() { printf '\n-- %s:\n' "$1" >&2; cat "$2" >&2; }
# die, after what the suite and the rig printed: what a failed run needs to be read.
die_logs() { show "suite output" "$WORK/suite.log"; show "rig output" "$WORK/rig.log"; die "$@"; }

# From an empty directory and an empty environment: no .env, certs/ or variable of the caller's
# (TLS_CERT_FILE, OAUTH_BASE_URL, CONTROL_TOKEN, …) changes what is judged. Port 0: free ports,
# which the ready line names.
mkdir "$WORK/rig"
: >"$WORK/rig.log"
: >"$WORK/suite.log" # both exist before the polls below read them
(cd "$WORK/rig" && exec env -i PATH="$PATH" OAUTH_PORT=0 MCP_PORT=0 DASHBOARD_PORT=0 LOG=info \
    CLIENTS="$RIG_CLIENTS" AS_PROFILE="$RIG_AS_PROFILE" \
    "$MCP_OAUTH_SIM_BIN" serve) </dev/null >"$WORK/rig.log" 2>&1 &
rig_pid=$!
ready() { grep -q '^\[oauth\] pre-registered client_id=' "$WORK/rig.log"; }
wait_for "$READY_TIMEOUT" "$rig_pid" ready || {
    show "rig output" "$WORK/rig.log"
    kill -0 "$rig_pid" 2>/dev/null || die "the rig exited before it was ready"
    die "the rig was not ready within ${READY_TIMEOUT}s"
}
# `[oauth] authorization server http://localhost:PORT (http)`: the URL is the issuer, which the
# metadata check compares with --url character for character.
issuer=$(sed -n 's/^\[oauth\] authorization server \(http[^ ]*\) (http)$/\1/p' "$WORK/rig.log")
[[ -n $issuer ]] || { show "rig output" "$WORK/rig.log"; die "no issuer in the rig's ready line"; }

# A free port for the suite's callback server: the kernel picks one, which is closed again
# before the suite binds it (a race only with another process taking the same port meanwhile).
callback_port=$("$NODE" -e '
    const s = require("net").createServer().listen(0, "127.0.0.1", () => {
        console.log(s.address().port);
        s.close();
    });')

# No --scenario: the suite then runs both scenarios in one process, in order, and the code grant
# takes its endpoints from the metadata scenario's result (alone it fails, having no metadata).
echo "== conformance authorization --url $issuer --client-id $CLIENT_ID --port $callback_port"
"$NODE" "$SUITE" authorization --url "$issuer" --client-id "$CLIENT_ID" \
    --port "$callback_port" --output-dir "$WORK/results" </dev/null >"$WORK/suite.log" 2>&1 &
suite_pid=$!

# The suite prints the URL on the line after this one, and listens once it says so.
url_printed() {
    grep -q '^Callback server started:' "$WORK/suite.log" &&
        grep -A1 '^Access the following URL' "$WORK/suite.log" | sed -n 2p | grep -q .
}
if wait_for "$URL_TIMEOUT" "$suite_pid" url_printed; then
    authorization_url=$(grep -A1 '^Access the following URL' "$WORK/suite.log" | sed -n 2p)
    # The browser: the authorization endpoint redirects at once (consent is automatic) ...
    answer=$(curl -sS --max-time "$HTTP_TIMEOUT" -o /dev/null -w '%{http_code} %{redirect_url}' \
        "$authorization_url") || die_logs "GET of the authorization URL failed: $authorization_url"
    status=${answer%% *} location=${answer#* }
    [[ $status == 30[237] && -n $location ]] ||
        die_logs "the authorization URL answered $status, not a redirect: $authorization_url"
    # ... to the suite's callback, which takes the code to the token endpoint.
    curl -sS --max-time "$HTTP_TIMEOUT" -o /dev/null "$location" ||
        die_logs "GET of the callback failed: $location"
else
    # Not fatal by itself: the suite may have finished without a URL (a failed metadata scenario
    # leaves the code grant without endpoints); its checks say why.
    kill -0 "$suite_pid" 2>/dev/null && echo "conformance-server: no authorization URL within ${URL_TIMEOUT}s" >&2
fi

exited() { ! kill -0 "$suite_pid" 2>/dev/null; }
# Bounded by this script's own pid ($$), which lives on: only the deadline ends the wait.
wait_for "$EXIT_TIMEOUT" "$$" exited || die_logs "the suite did not finish within ${EXIT_TIMEOUT}s"
suite_status=0
wait "$suite_pid" || suite_status=$?
suite_pid=''

# --output-dir gets one authorization-server-<scenario>-<time>/checks.json per scenario: every
# check with its id and status. A scenario that threw has none; that counts as a failure too.
if ! "$NODE" - "$WORK/results" authorization-server-metadata-endpoint authorization-code-grant <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [dir, ...scenarios] = process.argv.slice(2);
const entries = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
let ok = true;
for (const scenario of scenarios) {
  const found = entries.filter((e) => e.startsWith(`authorization-server-${scenario}-`));
  if (found.length !== 1) {
    console.log(`${scenario}: no checks.json (${found.length} result directories)`);
    ok = false;
    continue;
  }
  const checks = JSON.parse(fs.readFileSync(path.join(dir, found[0], 'checks.json'), 'utf8'));
  if (checks.length === 0) ok = false;
  console.log(`${scenario}:${checks.length === 0 ? ' no checks' : ''}`);
  for (const check of checks) {
    if (check.status !== 'SUCCESS') ok = false;
    const why = check.status === 'SUCCESS' || !check.errorMessage ? '' : `  ${check.errorMessage}`;
    console.log(`  ${check.status.padEnd(8)} ${check.id}${why}`);
  }
}
process.exit(ok ? 0 : 1);
EOF
then
    die_logs "not every check is SUCCESS (suite exit status $suite_status)"
fi
((suite_status == 0)) || die_logs "the suite exited $suite_status"
echo "conformance-server: all checks SUCCESS"

#!/usr/bin/env bash
# Our rig side by side with the peer users would otherwise pick — the TypeScript SDK's OAuth demo
# (`simpleStreamableHttp.js --oauth`: MCP on one port, the authorization server on another, token
# checks by introspection over HTTP, the same shape as ours) — and with the machine's ceiling, a
# bare hyper endpoint. One run, one table: tools/call req/s at c=1 and c=16 with latencies,
# complete flows/s, startup-to-ready, idle RSS and RSS after load, and the ratios.
#
# Loopback only. Each server runs alone while it is measured; every load run is bounded in time
# (sim-bench also caps the requests per worker). Everything started here is stopped on exit.
#
# Usage: scripts/bench-peer.sh            (from anywhere; builds the release binaries first)
# Env:   BENCH_DURATION=5s BENCH_WARMUP=2s BENCH_SKIP_BUILD=1
#        PEER_MCP_PORT=3000 PEER_AUTH_PORT=3001 OURS_OAUTH_PORT=19100 OURS_MCP_PORT=19101
#        CEILING_PORT=19102
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SDK_VERSION=1.32.2
CACHE=$ROOT/target/bench-peer
DURATION=${BENCH_DURATION:-5s}
WARMUP=${BENCH_WARMUP:-2s}
PEER_MCP_PORT=${PEER_MCP_PORT:-3000}
PEER_AUTH_PORT=${PEER_AUTH_PORT:-3001}
OURS_OAUTH_PORT=${OURS_OAUTH_PORT:-19100}
OURS_MCP_PORT=${OURS_MCP_PORT:-19101}
CEILING_PORT=${CEILING_PORT:-19102}
BENCH=$ROOT/target/release/sim-bench
OURS=$ROOT/target/release/mcp-oauth-sim

STARTED=()
RUN=$(mktemp -d "${TMPDIR:-/tmp}/bench-peer.XXXXXX")
cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "$*" >&2; }
die() { say "bench-peer: $*"; exit 1; }

for tool in node npm cargo; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$PEER_MCP_PORT" "$PEER_AUTH_PORT" "$OURS_OAUTH_PORT" "$OURS_MCP_PORT" "$CEILING_PORT"; do
    port_free "$port" || die "port $port is in use; set the *_PORT variables"
done

if [[ -z ${BENCH_SKIP_BUILD:-} ]]; then
    say "building release binaries…"
    cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" -p mcp-oauth-sim -p sim-bench
fi
[[ -x $BENCH && -x $OURS ]] || die "missing $BENCH or $OURS: build them first"

# The peer, pinned (the lock fixes every transitive version) and installed once into the cache.
mkdir -p "$CACHE"
if ! cmp -s "$ROOT/scripts/bench-peer/package-lock.json" "$CACHE/package-lock.json" ||
    [[ ! -f $CACHE/node_modules/@modelcontextprotocol/sdk/package.json ]]; then
    say "installing @modelcontextprotocol/sdk@$SDK_VERSION into $CACHE…"
    cp "$ROOT/scripts/bench-peer/package.json" "$ROOT/scripts/bench-peer/package-lock.json" "$CACHE/"
    (cd "$CACHE" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
fi
PEER_JS=$CACHE/node_modules/@modelcontextprotocol/sdk/dist/esm/examples/server/simpleStreamableHttp.js
[[ -f $PEER_JS ]] || die "the SDK has no $PEER_JS"

busy=$(pgrep -c rustc || true)
[[ $busy == 0 ]] || say "warning: $busy rustc processes are running; figures will be low"

# The resident set of a process and its descendants, in MB.
rss_mb() {
    local pids=("$1") kb=0 i=0 child value
    while ((i < ${#pids[@]})); do
        for child in $(pgrep -P "${pids[$i]}" || true); do pids+=("$child"); done
        i=$((i + 1))
    done
    for child in "${pids[@]}"; do
        value=$(awk '/^VmRSS:/ { print $2 }' "/proc/$child/status" 2>/dev/null || echo 0)
        kb=$((kb + ${value:-0}))
    done
    awk -v kb="$kb" 'BEGIN { printf "%.1f", kb / 1024 }'
}

# `sim-bench launch` prints `pid=… ready_ms=…`; sets PID and READY_MS.
launch() {
    local log=$1
    shift
    local line
    line=$("$BENCH" launch --log "$log" "$@") || die "could not start: $*"$'\n'"$(tail -5 "$log")"
    PID=$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$line")
    READY_MS=$(sed -n 's/.*ready_ms=\([0-9.]*\).*/\1/p' <<<"$line")
    STARTED+=("$PID")
}

stop() {
    kill "$1" 2>/dev/null || true
    local waited=0
    while kill -0 "$1" 2>/dev/null && ((waited < 50)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -9 "$1" 2>/dev/null || true
}

# Reads one `key=value …` line of sim-bench into variables prefixed with $1.
declare -A R
record() {
    local prefix=$1 line=$2 pair
    for pair in $line; do
        R[$prefix.${pair%%=*}]=${pair#*=}
    done
    [[ ${R[$prefix.errors]} == 0 ]] || say "warning: $prefix had errors: ${R[$prefix.errors_by_kind]}"
}

load() { "$BENCH" "$@" --duration "$DURATION" --warmup "$WARMUP" --format kv; }

# ---- the peer -------------------------------------------------------------------------------
say "peer: TypeScript SDK $SDK_VERSION demo (MCP :$PEER_MCP_PORT, auth :$PEER_AUTH_PORT)…"
launch "$RUN/peer.log" \
    --ready "http://127.0.0.1:$PEER_MCP_PORT/mcp" \
    --ready "http://127.0.0.1:$PEER_AUTH_PORT/.well-known/oauth-authorization-server" \
    -- env MCP_PORT="$PEER_MCP_PORT" MCP_AUTH_PORT="$PEER_AUTH_PORT" node "$PEER_JS" --oauth
R[peer.ready_ms]=$READY_MS
sleep 1
R[peer.idle_mb]=$(rss_mb "$PID")
PEER_URL=http://localhost:$PEER_MCP_PORT/mcp
# One registration for both runs: the SDK allows 20 per hour.
token=$("$BENCH" token "$PEER_URL")
peer_tool=(--tool greet --arguments '{"name":"bench"}' --token="$token")
record peer.c1 "$(load calls "$PEER_URL" "${peer_tool[@]}" -c 1)"
record peer.c16 "$(load calls "$PEER_URL" "${peer_tool[@]}" -c 16)"
R[peer.loaded_mb]=$(rss_mb "$PID")
stop "$PID"

# ---- ours -----------------------------------------------------------------------------------
# From an empty working directory: the binary reads .env and certs/ from where it runs.
say "ours: mcp-oauth-sim (MCP :$OURS_MCP_PORT, auth :$OURS_OAUTH_PORT)…"
mkdir "$RUN/ours"
cd "$RUN/ours"
launch "$RUN/ours.log" \
    --ready "http://127.0.0.1:$OURS_MCP_PORT/mcp" \
    --ready "http://127.0.0.1:$OURS_OAUTH_PORT/.well-known/oauth-authorization-server" \
    -- "$OURS" serve --oauth-port "$OURS_OAUTH_PORT" --mcp-port "$OURS_MCP_PORT"
cd "$ROOT"
R[ours.ready_ms]=$READY_MS
sleep 1
R[ours.idle_mb]=$(rss_mb "$PID")
OURS_URL=http://localhost:$OURS_MCP_PORT/mcp
token=$("$BENCH" token "$OURS_URL")
record ours.c1 "$(load calls "$OURS_URL" --token="$token" -c 1)"
record ours.c16 "$(load calls "$OURS_URL" --token="$token" -c 16)"
record ours.flows "$(load flows "$OURS_URL" -c 16)"
R[ours.loaded_mb]=$(rss_mb "$PID")
stop "$PID"
log_lines=$(wc -l <"$RUN/ours.log")

# ---- the ceiling ----------------------------------------------------------------------------
say "ceiling: bare hyper endpoint (:$CEILING_PORT)…"
launch "$RUN/ceiling.log" --ready "http://127.0.0.1:$CEILING_PORT/" \
    -- "$BENCH" ceiling --listen "127.0.0.1:$CEILING_PORT"
CEILING_URL=http://127.0.0.1:$CEILING_PORT/mcp
record ceiling.c1 "$(load calls "$CEILING_URL" --token none -c 1)"
record ceiling.c16 "$(load calls "$CEILING_URL" --token none -c 16)"
stop "$PID"

# ---- the table ------------------------------------------------------------------------------
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN { printf "%\047.*f", d, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f×", a / b; else print "–" }'; }
percent() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f %%", 100 * a / b; else print "–" }'; }
ms() { fmt "$1" 3; }
row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$@"; }

printf '\n'
printf '| metric | peer (SDK %s) | ours | ceiling | ours/peer | ours/ceiling |\n' "$SDK_VERSION"
printf '|---|---:|---:|---:|---:|---:|\n'
row "tools/call req/s, c=16" "$(fmt "${R[peer.c16.rate]}")" "$(fmt "${R[ours.c16.rate]}")" \
    "$(fmt "${R[ceiling.c16.rate]}")" "$(ratio "${R[ours.c16.rate]}" "${R[peer.c16.rate]}")" \
    "$(percent "${R[ours.c16.rate]}" "${R[ceiling.c16.rate]}")"
row "tools/call req/s, c=1" "$(fmt "${R[peer.c1.rate]}")" "$(fmt "${R[ours.c1.rate]}")" \
    "$(fmt "${R[ceiling.c1.rate]}")" "$(ratio "${R[ours.c1.rate]}" "${R[peer.c1.rate]}")" \
    "$(percent "${R[ours.c1.rate]}" "${R[ceiling.c1.rate]}")"
for c in c1 c16; do
    for stat in mean p50 p99; do
        row "latency ms, $c, $stat" "$(ms "${R[peer.$c.${stat}_ms]}")" "$(ms "${R[ours.$c.${stat}_ms]}")" \
            "$(ms "${R[ceiling.$c.${stat}_ms]}")" \
            "$(ratio "${R[peer.$c.${stat}_ms]}" "${R[ours.$c.${stat}_ms]}") faster" "–"
    done
done
row "full flows/s, c=16 (authorize + token + tools/call)" "not run (rate-limited)" \
    "$(fmt "${R[ours.flows.rate]}")" "–" "–" "–"
row "flow latency ms, c=16, p50 / p99" "–" \
    "$(ms "${R[ours.flows.p50_ms]}") / $(ms "${R[ours.flows.p99_ms]}")" "–" "–" "–"
row "startup-to-ready ms (both ports answer)" "$(fmt "${R[peer.ready_ms]}" 1)" \
    "$(fmt "${R[ours.ready_ms]}" 1)" "–" "$(ratio "${R[peer.ready_ms]}" "${R[ours.ready_ms]}") faster" "–"
row "idle RSS MB" "$(fmt "${R[peer.idle_mb]}" 1)" "$(fmt "${R[ours.idle_mb]}" 1)" "–" \
    "$(ratio "${R[peer.idle_mb]}" "${R[ours.idle_mb]}") smaller" "–"
row "RSS after load MB" "$(fmt "${R[peer.loaded_mb]}" 1)" "$(fmt "${R[ours.loaded_mb]}" 1)" "–" \
    "$(ratio "${R[peer.loaded_mb]}" "${R[ours.loaded_mb]}") smaller" "–"
row "errors (all runs)" \
    "$((R[peer.c1.errors] + R[peer.c16.errors]))" \
    "$((R[ours.c1.errors] + R[ours.c16.errors] + R[ours.flows.errors]))" \
    "$((R[ceiling.c1.errors] + R[ceiling.c16.errors]))" "–" "–"
printf '\n'
printf 'Each load run: %s measured after %s of warm-up, one keep-alive connection per worker.\n' \
    "$DURATION" "$WARMUP"
printf 'Our request log stayed on (INFO): %s lines written during the run.\n' "$log_lines"
printf 'Machine: %s cores, %s; %s; rustc %s; node %s.\n' "$(nproc)" \
    "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" "$(uname -sr)" \
    "$(rustc --version | cut -d' ' -f2)" "$(node --version)"

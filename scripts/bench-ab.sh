#!/usr/bin/env bash
# Two builds of the rig, side by side in one run: did a change make `tools/call` (or, with
# MODE=flows, whole authorization flows) slower?
#
#   scripts/bench-ab.sh BEFORE_BINARY AFTER_BINARY
#
# e.g. build the commit before a change into its own worktree and compare it with this tree:
#
#   git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --release -p mcp-oauth-sim)
#   cargo build --release -p mcp-oauth-sim -p sim-bench
#   scripts/bench-ab.sh /tmp/before/target/release/mcp-oauth-sim target/release/mcp-oauth-sim
#
# Each build serves in turn, ROUNDS times, alternating A B A B …, so that a noisy moment of the
# machine falls on both; each turn is a fresh rig, a token obtained headlessly by this tree's
# `sim-bench`, then `calls` at concurrency 1 and CONCURRENCY, each bounded (DURATION measured after
# WARMUP, and sim-bench's cap on requests per worker). Prints each turn's req/s and p50, then the
# median of each build and the ratio after/before. Everything it started is stopped on exit.
#
# MODE=flows measures `sim-bench flows` instead (/authorize, /token and one tools/call per
# flow): the path a change to the authorization server's grant handling is on.
#
# Variables: MODE=calls ROUNDS=3 DURATION=4s WARMUP=1s CONCURRENCY=16 OAUTH_PORT=19300 MCP_PORT=19301
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${MODE:-calls}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-4s}
WARMUP=${WARMUP:-1s}
CONCURRENCY=${CONCURRENCY:-16}
OAUTH_PORT=${OAUTH_PORT:-19300}
MCP_PORT=${MCP_PORT:-19301}
BENCH=$ROOT/target/release/sim-bench

say() { printf '%s\n' "$*" >&2; }
die() { say "bench-ab.sh: $*"; exit 1; }

[[ $# == 2 ]] || die "usage: scripts/bench-ab.sh BEFORE_BINARY AFTER_BINARY"
[[ $MODE == calls || $MODE == flows ]] || die "MODE must be calls or flows, not '$MODE'"
BINARIES=("$(realpath "$1")" "$(realpath "$2")")
for binary in "${BINARIES[@]}" "$BENCH"; do
    [[ -x $binary ]] || die "$binary is not an executable: build it first"
done
busy=$(pgrep -c rustc || true)
[[ $busy == 0 ]] || say "warning: $busy rustc processes are running; figures will be low"

RUN=$(mktemp -d)
PID=
cleanup() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null || true
    rm -rf "$RUN"
}
trap cleanup EXIT

# One `key=value …` line of sim-bench: the value of $2.
field() { sed -n "s/.*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$1"; }

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A RESULTS
for round in $(seq 1 "$ROUNDS"); do
    for side in 0 1; do
        name=$([[ $side == 0 ]] && echo before || echo after)
        # From an empty directory: the binary reads .env and certs/ from where it runs.
        mkdir -p "$RUN/$name"
        line=$(cd "$RUN/$name" && "$BENCH" launch --log "$RUN/$name.log" \
            --ready "http://127.0.0.1:$MCP_PORT/.well-known/oauth-protected-resource/mcp" \
            -- env -i PATH="$PATH" OAUTH_PORT="$OAUTH_PORT" MCP_PORT="$MCP_PORT" LOG=warn \
            "${BINARIES[$side]}") || die "$name did not start: $(tail -3 "$RUN/$name.log")"
        PID=$(field "$line" pid)
        url=http://localhost:$MCP_PORT/mcp
        [[ $MODE == flows ]] || token=$("$BENCH" token "$url")
        for c in 1 "$CONCURRENCY"; do
            if [[ $MODE == flows ]]; then
                out=$("$BENCH" flows "$url" -c "$c" --duration "$DURATION" --warmup "$WARMUP" --format kv)
            else
                out=$("$BENCH" calls "$url" --token="$token" -c "$c" --duration "$DURATION" \
                    --warmup "$WARMUP" --format kv)
            fi
            [[ $(field "$out" errors) == 0 ]] || say "warning: $name c=$c had errors: $out"
            rps=$(field "$out" rate)
            p50=$(field "$out" p50_ms)
            RESULTS[$name.c$c]+="$rps "
            RESULTS[$name.p50.c$c]+="$p50 "
            printf 'round %s  %-6s  c=%-3s  %9s /s  p50 %s ms\n' "$round" "$name" "$c" "$rps" "$p50"
        done
        kill "$PID" 2>/dev/null || true
        while kill -0 "$PID" 2>/dev/null; do sleep 0.05; done
        PID=
    done
done

printf '\n| metric | before | after | after/before |\n|---|---:|---:|---:|\n'
for c in 1 "$CONCURRENCY"; do
    for metric in "c$c" "p50.c$c"; do
        before=$(tr ' ' '\n' <<<"${RESULTS[before.$metric]}" | grep . | median)
        after=$(tr ' ' '\n' <<<"${RESULTS[after.$metric]}" | grep . | median)
        unit=$([[ $MODE == flows ]] && echo "flows/s" || echo "tools/call req/s")
        label=$([[ $metric == p50.* ]] && echo "p50 ms, c=$c" || echo "$unit, c=$c")
        ratio=$(awk -v a="$after" -v b="$before" 'BEGIN { printf "%.3f", a / b }')
        printf '| %s (median of %s) | %s | %s | %s |\n' "$label" "$ROUNDS" "$before" "$after" "$ratio"
    done
done

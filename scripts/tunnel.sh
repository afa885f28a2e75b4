#!/usr/bin/env bash
# Puts the running rig behind two public HTTPS URLs without restarting it: one cloudflared quick
# tunnel per server (no account needed), then `mcp-oauth-sim scenario tunnel OAUTH_URL MCP_URL`
# re-points the rig at them live (issuer, metadata, challenges, the MCP server's host check).
# Prints both URLs, the control token when the rig made one, and the URL to give the client;
# runs until Ctrl-C, then stops both tunnels and points the rig back at loopback.
#
#   scripts/tunnel.sh [--keep] [--reject-old-audience]
#
#   --keep                 on exit, leave the rig pointed at the (then dead) tunnel URLs
#   --reject-old-audience  tokens issued for the rig's former URLs stop working at the MCP server
#
# Env: OAUTH_PORT=9100 MCP_PORT=9101   the rig's ports (also read from ./.env, as the rig does)
#      CLOUDFLARED=cloudflared         the cloudflared binary
#      MCP_OAUTH_SIM="cargo run --quiet --release -p mcp-oauth-sim --"
#                                      the rig's binary (a path, or a command of several words)
#      TUNNEL_WAIT=30                  seconds to wait for the tunnels' URLs
#      CONTROL_TOKEN                   when the rig already requires one
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

say() { printf '%s\n' "$*" >&2; }
die() { say "tunnel.sh: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2; }

keep='' reject=''
while (($# > 0)); do
    case $1 in
        --keep) keep=1 ;;
        --reject-old-audience) reject='reject-old-audience' ;;
        -h | --help) usage; exit 0 ;;
        *) usage; die "unknown argument '$1'" ;;
    esac
    shift
done

if [[ -f .env ]]; then
    # Only the variables this script uses, and only where the environment has none: the rig
    # gives real environment variables precedence over .env too.
    while IFS='=' read -r name value; do
        case $name in
            OAUTH_PORT | MCP_PORT | CERTS_DIR | TLS_CERT_FILE)
                if [[ -z ${!name:-} ]]; then
                    value=${value%\"}
                    export "$name=${value#\"}"
                fi
                ;;
        esac
    done < <(grep -E '^[A-Z_]+=' .env || true)
fi
export OAUTH_PORT=${OAUTH_PORT:-9100} MCP_PORT=${MCP_PORT:-9101}
CLOUDFLARED=${CLOUDFLARED:-cloudflared}
TUNNEL_WAIT=${TUNNEL_WAIT:-30}
[[ $TUNNEL_WAIT =~ ^[0-9]+$ ]] || die "TUNNEL_WAIT must be a number of seconds, not '$TUNNEL_WAIT'"
if [[ -z ${MCP_OAUTH_SIM:-} ]]; then
    SIM=(cargo run --quiet --release --manifest-path "$ROOT/Cargo.toml" -p mcp-oauth-sim --)
elif [[ -x $MCP_OAUTH_SIM ]]; then
    SIM=("$MCP_OAUTH_SIM")
else
    read -ra SIM <<<"$MCP_OAUTH_SIM"
fi

command -v "$CLOUDFLARED" >/dev/null ||
    die "no cloudflared ('$CLOUDFLARED'): install it (brew install cloudflared, or a package from https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/downloads/) or set CLOUDFLARED to its path"

# Before any tunnel: a rig that is not running (or wants a control token) is the likely mistake.
"${SIM[@]}" scenario state >/dev/null ||
    die "the rig does not answer on ports $OAUTH_PORT and $MCP_PORT (see above): start it first (cargo run --release), or set OAUTH_PORT, MCP_PORT or CONTROL_TOKEN"

# A rig serving HTTPS (as it does when certs/ has a certificate) is reached over HTTPS with its
# own certificate, which cloudflared cannot verify; the tunnel's public side is HTTPS either way.
scheme=http no_tls_verify=''
certs=${CERTS_DIR:-certs}
if [[ -n ${TLS_CERT_FILE:-} || (-f $certs/localhost.pem && -f $certs/localhost-key.pem) ]]; then
    scheme=https no_tls_verify=--no-tls-verify
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tunnel.XXXXXX")
# No associative arrays, no `wait -n`: macOS's bash 3.2 runs this too.
oauth_pid='' mcp_pid='' repointed=''
# On any exit: stop both tunnels (TERM, then KILL after 5 s), then point the rig back at loopback
# unless --keep. A second Ctrl-C does not cut this short: it is bounded.
# shellcheck disable=SC2317 # reached through the trap, which shellcheck 0.9 does not follow
cleanup() {
    local status=$? pid
    trap '' INT TERM
    for pid in $oauth_pid $mcp_pid; do
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in {1..50}; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n $repointed && -z $keep ]]; then
        if "${SIM[@]}" scenario tunnel local >/dev/null 2>"$WORK/local.err"; then
            say "[tunnel] tunnels stopped; the rig is back on loopback"
        else
            cat "$WORK/local.err" >&2
            say "tunnel.sh: tunnels stopped, but the rig still names their URLs: run \`mcp-oauth-sim scenario tunnel local\`"
            status=1
        fi
    elif [[ -n $repointed ]]; then
        say "[tunnel] tunnels stopped; the rig still names their URLs (--keep): \`mcp-oauth-sim scenario tunnel local\` points it back"
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
# Ctrl-C is how this script is meant to end: a clean stop, exit status 0.
trap 'exit 0' INT TERM

# shellcheck disable=SC2086 # $no_tls_verify: one flag or none
"$CLOUDFLARED" tunnel --no-autoupdate $no_tls_verify --url "$scheme://127.0.0.1:$OAUTH_PORT" \
    </dev/null >"$WORK/oauth.log" 2>&1 &
oauth_pid=$!
# shellcheck disable=SC2086
"$CLOUDFLARED" tunnel --no-autoupdate $no_tls_verify --url "$scheme://127.0.0.1:$MCP_PORT" \
    </dev/null >"$WORK/mcp.log" 2>&1 &
mcp_pid=$!

# The URL a tunnel's log announces: on the line after cloudflared's banner (any http(s) URL
# there, which lets a stand-in announce a loopback proxy), else any quick-tunnel host (never
# api.trycloudflare.com, which its errors name). Whole lines only: a line being written could
# hold half a URL.
tunnel_url() {
    local complete url
    complete=$(head -n "$(($(wc -l <"$1")))" "$1")
    url=$(grep -A1 -F 'Your quick Tunnel has been created' <<<"$complete" | sed -n 2p |
        grep -Eo 'https?://[^][:space:]|<>"]+' | head -n 1 || true)
    if [[ -z $url ]]; then
        url=$(grep -Eo 'https://[a-z0-9-]+\.trycloudflare\.com' <<<"$complete" |
            grep -v '^https://api\.' | head -n 1 || true)
    fi
    printf '%s' "${url%/}"
}

# The last lines of a tunnel's log, then the error: why cloudflared failed is usually there.
die_with_log() {
    say "-- cloudflared for the $1 server said:"
    tail -n 5 "$WORK/$1.log" | sed 's/^/   /' >&2
    die "$2"
}

# Waits for the URL of tunnel $1 (oauth or mcp, process $2) until $deadline, and prints it.
await_url() {
    local url
    until url=$(tunnel_url "$WORK/$1.log") && [[ -n $url ]]; do
        kill -0 "$2" 2>/dev/null ||
            die_with_log "$1" "cloudflared for the $1 server exited before printing its URL"
        ((SECONDS < deadline)) ||
            die_with_log "$1" "no tunnel URL for the $1 server within ${TUNNEL_WAIT}s (TUNNEL_WAIT)"
        sleep 0.1
    done
    printf '%s' "$url"
}
# SECONDS counts whole seconds: one more, so that the wait is never shorter than TUNNEL_WAIT.
deadline=$((SECONDS + TUNNEL_WAIT + 1))
oauth_url=$(await_url oauth "$oauth_pid")
mcp_url=$(await_url mcp "$mcp_pid")

# Its stderr is shown on failure; on success it repeats the token, which this script prints
# below, and a note on what becomes of the clients' tokens, which it passes on.
# shellcheck disable=SC2086 # $reject: one word or none
if ! answer=$("${SIM[@]}" scenario tunnel "$oauth_url" "$mcp_url" $reject 2>"$WORK/tunnel.err"); then
    cat "$WORK/tunnel.err" >&2
    die "the rig was not re-pointed at the tunnels (scenario tunnel failed, see above)"
fi
repointed=1
token=$(sed -n 's/^control token: //p' <<<"$answer" | head -n 1)

printf '[tunnel] oauth %s -> %s://127.0.0.1:%s\n' "$oauth_url" "$scheme" "$OAUTH_PORT"
printf '[tunnel] mcp %s -> %s://127.0.0.1:%s\n' "$mcp_url" "$scheme" "$MCP_PORT"
if [[ -n $token ]]; then
    # The scenario calls on exit need it as much as the person's do.
    export CONTROL_TOKEN=$token
    printf '[tunnel] control token: %s\n' "$token"
    printf '[tunnel] for scenario commands: export CONTROL_TOKEN=%s\n' "$token"
fi
printf '[tunnel] give your client %s/mcp\n' "$mcp_url"
sed -n 's/^note: /[tunnel] note: /p' "$WORK/tunnel.err"
printf '[tunnel] ready; Ctrl-C stops both tunnels%s\n' \
    "$([[ -n $keep ]] && echo '' || echo ' and points the rig back at loopback')"

# Until Ctrl-C or a tunnel ending by itself. `wait` on a short sleep, not the sleep itself: a
# trapped signal ends a `wait` at once but waits for a foreground command to finish.
while kill -0 "$oauth_pid" 2>/dev/null && kill -0 "$mcp_pid" 2>/dev/null; do
    sleep 0.5 &
    wait $! || true
done
kill -0 "$oauth_pid" 2>/dev/null || die_with_log oauth "the tunnel of the oauth server ended"
die_with_log mcp "the tunnel of the mcp server ended"

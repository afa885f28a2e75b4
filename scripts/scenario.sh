#!/usr/bin/env bash
# Flips a failure switch on a running mcp-oauth-sim with curl, for people without the binary at
# hand. The same scenarios as `mcp-oauth-sim scenario` (and `cargo scenario`):
#
#   scripts/scenario.sh state
#   scripts/scenario.sh rotate on|off          refresh-token rotation on every refresh
#   scripts/scenario.sh expire-access SECONDS  lifetime of access tokens issued from now on
#   scripts/scenario.sh revoke                 every live access token becomes inactive
#   scripts/scenario.sh dead-refresh on|off    refresh grants answer invalid_grant
#   scripts/scenario.sh deny-consent on|off    /authorize answers access_denied
#   scripts/scenario.sh bad-scope on|off       tool calls answer 403 insufficient_scope
#   scripts/scenario.sh seed-refresh TOKEN     TOKEN becomes a valid refresh token
#   scripts/scenario.sh reset                  both servers back to start-up (clients re-consent)
#
# Reads OAUTH_PORT, MCP_PORT, BIND, CONTROL_TOKEN and CERTS_DIR from the environment or ./.env.
# Talks HTTPS, trusting $CERTS_DIR/ca.pem, when $CERTS_DIR/localhost.pem exists (as the rig does).
set -euo pipefail

if [[ -f .env ]]; then
  # Only the variables this script uses, and only where the environment has none: the rig gives
  # real environment variables precedence over .env too.
  while IFS='=' read -r name value; do
    case "$name" in
      OAUTH_PORT | MCP_PORT | BIND | CONTROL_TOKEN | CERTS_DIR)
        if [[ -z "${!name:-}" ]]; then
          value="${value%\"}"
          value="${value#\"}"
          export "$name=$value"
        fi
        ;;
    esac
  done < <(grep -E '^[A-Z_]+=' .env || true)
fi

oauth_port="${OAUTH_PORT:-9100}"
mcp_port="${MCP_PORT:-9101}"
certs_dir="${CERTS_DIR:-certs}"
host="${BIND:-127.0.0.1}"
case "$host" in
  0.0.0.0) host=127.0.0.1 ;;
  ::) host='[::1]' ;;
  *:*) host="[$host]" ;;
esac

curl_args=(--silent --show-error --fail-with-body --max-time 10 --noproxy '*')
scheme=http
if [[ -f "$certs_dir/localhost.pem" && -f "$certs_dir/localhost-key.pem" ]]; then
  scheme=https
  if [[ -f "$certs_dir/ca.pem" ]]; then
    curl_args+=(--cacert "$certs_dir/ca.pem")
  fi
  # The certificate names localhost; pin it to the address the rig listens on.
  curl_args+=(--resolve "localhost:$oauth_port:${host//[\[\]]/}" --resolve "localhost:$mcp_port:${host//[\[\]]/}")
  host=localhost
fi
if [[ -n "${CONTROL_TOKEN:-}" ]]; then
  curl_args+=(--header "Authorization: Bearer $CONTROL_TOKEN")
fi
oauth="$scheme://$host:$oauth_port/control"
mcp="$scheme://$host:$mcp_port/control"

usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# POST a control call; the answer (the server's new state) is printed by `state` afterwards.
post() {
  local url="$1" body="${2:-}"
  if [[ -n "$body" ]]; then
    curl "${curl_args[@]}" -X POST -H 'Content-Type: application/json' --data "$body" "$url" >/dev/null
  else
    curl "${curl_args[@]}" -X POST "$url" >/dev/null
  fi
}

switch() {
  case "${1:-}" in
    on | true | 1) echo true ;;
    off | false | 0) echo false ;;
    *)
      echo "error: $scenario needs on|off" >&2
      exit 2
      ;;
  esac
}

show_state() {
  local pretty=(cat)
  if command -v jq >/dev/null; then
    pretty=(jq .)
  fi
  echo "# oauth $oauth/state"
  curl "${curl_args[@]}" "$oauth/state" | "${pretty[@]}"
  echo
  echo "# mcp $mcp/state"
  curl "${curl_args[@]}" "$mcp/state" | "${pretty[@]}"
  echo
}

scenario="${1:-}"
value="${2:-}"
case "$scenario" in
  state) ;;
  rotate) post "$oauth/rotate" "{\"on\":$(switch "$value")}" ;;
  expire-access)
    [[ "$value" =~ ^[0-9]+$ ]] || { echo "error: expire-access needs a number of seconds" >&2; exit 2; }
    post "$oauth/expires-in" "{\"seconds\":$value}"
    echo "note: applies to access tokens issued from now on; 'revoke' makes clients fetch one now" >&2
    ;;
  revoke) post "$oauth/revoke-access" ;;
  dead-refresh) post "$oauth/invalid-grant" "{\"on\":$(switch "$value")}" ;;
  deny-consent) post "$oauth/deny-consent" "{\"on\":$(switch "$value")}" ;;
  bad-scope) post "$mcp/force-403" "{\"on\":$(switch "$value")}" ;;
  seed-refresh)
    [[ -n "$value" && "$value" != *[[:space:]\"\\]* ]] || { echo "error: seed-refresh needs a token (no spaces, quotes or backslashes)" >&2; exit 2; }
    post "$oauth/seed-refresh" "{\"token\":\"$value\"}"
    ;;
  reset)
    post "$oauth/reset"
    post "$mcp/reset"
    echo "warning: every client, code and token is forgotten: clients must register and consent again" >&2
    ;;
  *) usage ;;
esac
show_state

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
#   scripts/scenario.sh as-down N              the next N token requests answer 503
#   scripts/scenario.sh slow-token MS|off      token requests answer MS milliseconds late
#   scripts/scenario.sh rate-limit N           the next N token requests answer 429, Retry-After: 1
#   scripts/scenario.sh introspect-down [503|401|off]  token checks fail; MCP answers 503 (or 401)
#   scripts/scenario.sh clock +N|-N|reset      move the authorization server's clock
#   scripts/scenario.sh step-up TOOL SCOPE|off calls of TOOL also need SCOPE (403 names it)
#   scripts/scenario.sh narrow-consent SCOPE|off  /authorize grants only SCOPE
#   scripts/scenario.sh reuse-detect on|off [GRACE]  a reused rotated-out refresh token revokes its grant
#   scripts/scenario.sh faults                 both servers' fault rules
#   scripts/scenario.sh clear-faults           delete every fault rule (the switches' own too)
#   scripts/scenario.sh fault oauth|mcp JSON   add a fault rule
#   scripts/scenario.sh delete-fault oauth|mcp ID
#   scripts/scenario.sh events [--since N]     both journals (merged by time when jq is installed)
#   scripts/scenario.sh watch                  follow both journals live (Ctrl-C stops)
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

curl_args=(--silent --show-error --noproxy '*')
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
# Event streams last as long as the rig; every other call is bounded.
stream_args=("${curl_args[@]}" --no-buffer)
curl_args+=(--fail-with-body --max-time 10)
oauth="$scheme://$host:$oauth_port/control"
mcp="$scheme://$host:$mcp_port/control"

usage() {
  sed -n '2,/^# Reads/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
  exit 2
}

have_jq() { command -v jq >/dev/null; }

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
  if have_jq; then
    pretty=(jq .)
  fi
  echo "# oauth $oauth/state"
  curl "${curl_args[@]}" "$oauth/state" | "${pretty[@]}"
  echo
  echo "# mcp $mcp/state"
  curl "${curl_args[@]}" "$mcp/state" | "${pretty[@]}"
  echo
}

# A fault rule's JSON, added to a server's list.
add_fault() {
  curl "${curl_args[@]}" -X POST -H 'Content-Type: application/json' --data "$2" "$1/faults" >/dev/null
}

# Deletes the rules of one server whose JSON matches every extended regex given. Rules are
# objects in one array, so "},{" separates them (nested objects are followed by a key).
delete_faults() {
  local base="$1" rule id pattern
  shift
  while IFS= read -r rule; do
    for pattern in "$@"; do
      grep -qE "$pattern" <<<"$rule" || continue 2
    done
    id="$(grep -oE '"id": *[0-9]+' <<<"$rule" | grep -oE '[0-9]+$')"
    curl "${curl_args[@]}" -X DELETE "$base/faults/$id" >/dev/null
  done < <(curl "${curl_args[@]}" "$base/faults" | sed 's/},{/}\
{/g'; echo)
}

show_faults() {
  echo "# oauth $oauth/faults"
  curl "${curl_args[@]}" "$oauth/faults"
  echo
  echo "# mcp $mcp/faults"
  curl "${curl_args[@]}" "$mcp/faults"
  echo
}

count() {
  [[ "$1" =~ ^[1-9][0-9]*$ ]] || { echo "error: $scenario needs a number of requests (1 or more)" >&2; exit 2; }
  echo "$1"
}

# One line per event, like the rig's request log (jq only).
# shellcheck disable=SC2016
line='"[\(.service)] #\(.seq) \(.method) \(.path) \(.status)" + ([["grant", .grant_type],
  ["client", (.client_id // "")[0:8]], ["rpc", .rpc_method], ["tool", .tool], ["sub", .subject],
  ["error", .error], ["presented", .presented], ["issued", .issued],
  ["fault", (.fault // "" | tostring)], ["note", .note]]
  | map(select(.[1] != null and .[1] != "") | " \(.[0])=\(.[1])") | join("")) + " \((.ms * 10 | round) / 10)ms"'

# Follows one server's event stream, printing a line per event, until the stream ends.
follow() {
  local name="$1" url="$2" frame
  curl "${stream_args[@]}" "$url/events/stream" | while IFS= read -r frame; do
    if [[ "$frame" == data:* ]]; then
      printf '%s\n' "${frame#data: }"
    fi
  done | if have_jq; then
    jq --unbuffered -r "if .missed then \"[$name] \\(.missed) events missed\" else $line end"
  else
    while IFS= read -r frame; do printf '[%s] %s\n' "$name" "$frame"; done
  fi
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
  as-down)
    add_fault "$oauth" "{\"endpoint\":\"token\",\"respond\":{\"status\":503},\"times\":$(count "$value")}"
    ;;
  rate-limit)
    add_fault "$oauth" "{\"endpoint\":\"token\",\"respond\":{\"status\":429,\"retry_after\":1},\"times\":$(count "$value")}"
    ;;
  slow-token)
    [[ "$value" =~ ^([0-9]+|off)$ ]] || { echo "error: slow-token needs milliseconds or off" >&2; exit 2; }
    delete_faults "$oauth" '"endpoint": *"token"' '"delay_ms"'
    if [[ "$value" != off && "$value" != 0 ]]; then
      add_fault "$oauth" "{\"endpoint\":\"token\",\"respond\":{\"delay_ms\":$value}}"
    fi
    ;;
  introspect-down)
    mode="${value:-503}"
    [[ "$mode" =~ ^(503|401|off)$ ]] || { echo "error: introspect-down needs 503, 401 or off (default 503)" >&2; exit 2; }
    delete_faults "$oauth" '"endpoint": *"introspect"'
    if [[ "$mode" == off ]]; then
      post "$mcp/introspection-failure" '{"mode":"503"}'
    else
      post "$mcp/introspection-failure" "{\"mode\":\"$mode\"}"
      add_fault "$oauth" '{"endpoint":"introspect","respond":{"status":503}}'
    fi
    ;;
  clock)
    case "$value" in
      reset) post "$oauth/clock" '{"reset":true}' ;;
      +[0-9]* | -[0-9]* | [0-9]*)
        [[ "$value" =~ ^[+-]?[0-9]+$ ]] || { echo "error: clock needs +SECONDS, -SECONDS or reset" >&2; exit 2; }
        post "$oauth/clock" "{\"advance_seconds\":${value#+}}"
        ;;
      *) echo "error: clock needs +SECONDS, -SECONDS or reset" >&2; exit 2 ;;
    esac
    ;;
  step-up)
    scopes="${*:3}"
    scopes="${scopes//+/ }"
    [[ -n "$value" && -n "$scopes" && "$value$scopes" != *[\"\\]* ]] || { echo "error: step-up needs a tool and a scope (or off)" >&2; exit 2; }
    if [[ "$scopes" == off ]]; then
      post "$mcp/tool-scopes" "{\"$value\":null}"
    else
      post "$mcp/tool-scopes" "{\"$value\":\"$scopes\"}"
    fi
    ;;
  narrow-consent)
    scopes="${*:2}"
    [[ -n "$scopes" && "$scopes" != *[\"\\]* ]] || { echo "error: narrow-consent needs a scope or off" >&2; exit 2; }
    if [[ "$scopes" == off ]]; then
      post "$oauth/consent" '{"grant_scope":null}'
    else
      post "$oauth/consent" "{\"grant_scope\":\"$scopes\"}"
    fi
    ;;
  reuse-detect)
    grace="${3:-0}"
    [[ "$grace" =~ ^[0-9]+$ ]] || { echo "error: reuse-detect needs on|off and optionally a grace in seconds" >&2; exit 2; }
    post "$oauth/reuse-detection" "{\"on\":$(switch "$value"),\"grace_seconds\":$grace}"
    ;;
  faults)
    show_faults
    exit 0
    ;;
  clear-faults)
    curl "${curl_args[@]}" -X DELETE "$oauth/faults" >/dev/null
    curl "${curl_args[@]}" -X DELETE "$mcp/faults" >/dev/null
    ;;
  fault | delete-fault)
    case "$value" in
      oauth) base="$oauth" ;;
      mcp) base="$mcp" ;;
      *) echo "error: $scenario needs a service (oauth or mcp) first" >&2; exit 2 ;;
    esac
    if [[ "$scenario" == fault ]]; then
      [[ -n "${3:-}" ]] || { echo "error: fault needs a JSON rule" >&2; exit 2; }
      add_fault "$base" "$3"
    else
      [[ "${3:-}" =~ ^[0-9]+$ ]] || { echo "error: delete-fault needs a rule id" >&2; exit 2; }
      curl "${curl_args[@]}" -X DELETE "$base/faults/$3" >/dev/null
    fi
    ;;
  events)
    since=0
    if [[ "$value" == --since ]]; then since="${3:-}"; fi
    [[ "$since" =~ ^[0-9]+$ ]] || { echo "error: events takes --since N" >&2; exit 2; }
    oauth_events="$(curl "${curl_args[@]}" "$oauth/events?since=$since")"
    mcp_events="$(curl "${curl_args[@]}" "$mcp/events?since=$since")"
    if have_jq; then
      jq -rn --argjson o "$oauth_events" --argjson m "$mcp_events" \
        "\$o.events + \$m.events | sort_by(.at) | .[] | $line"
    else
      printf '# oauth %s\n%s\n# mcp %s\n%s\n' "$oauth/events" "$oauth_events" "$mcp/events" "$mcp_events"
    fi
    exit 0
    ;;
  watch)
    # Each follower in its own process group, so that stopping one stops its curl too.
    set -m
    follow oauth "$oauth" &
    oauth_follower=$!
    follow mcp "$mcp" &
    mcp_follower=$!
    stop() {
      kill -- -"$oauth_follower" -"$mcp_follower" 2>/dev/null || true
      exit 0
    }
    trap stop INT TERM
    echo "watching both servers' requests (Ctrl-C to stop)" >&2
    wait
    echo "the rig stopped" >&2
    exit 0
    ;;
  *) usage ;;
esac
show_state
case "$scenario" in
  as-down | rate-limit | slow-token | introspect-down | fault | delete-fault) show_faults ;;
esac

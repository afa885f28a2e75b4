// The v2 TypeScript SDK (`@modelcontextprotocol/client`) while the rig moves: its public URLs
// re-pointed live (a tunnel that restarted) and a restart with STATE_FILE. ../tunnel-scenario.mjs
// defines the tests (HTTP only, a rig and forwarders per test); this file says what v2 does.
//
// What v2 does, read from dist/public-*.mjs (authInternal, selectResourceURL) and asserted here:
// - a token it holds keeps working after any move: it sends it as it is, and the rig accepts a
//   token for its old MCP URL (unless reject-old-audience: 401 invalid_token).
// - its provider keeps the discovery state (v2's migration guide asks for it; ./provider.mjs),
//   and auth() trusts it over the server: at the first 401 after the MCP URL changed it checks
//   the stored protected-resource metadata's `resource` (the old URL) against the URL it is
//   given and throws a plain Error, "Protected resource <old> does not match expected <new>
//   (or origin)": no request is sent, and the call fails. It never drops that state itself; an
//   application must (invalidateCredentials('discovery'), as the tests do next).
// - after that, as v1: client information and tokens are bound to the AS that issued them (the
//   `issuer` stamp, SEP-2352). After the AS URL changed both read back as absent: it registers
//   again and sends the user through a new consent. With the AS URL unchanged it refreshes with
//   `resource` = the new MCP URL and the rig's renamed resource covers it: no new consent.
// - a refresh the AS refuses with invalid_target (reject-old-audience, the AS URL unchanged) is
//   an OAuthError thrown out of the call, not a reason to authorize again (auth() starts over
//   only after invalid_client, unauthorized_client, invalid_grant and invalid_dpop_proof); the
//   tokens stay stored.
// - a restart on the same ports changes nothing it can see.

import { SDK } from './sdk.mjs';
import { tunnelTests } from '../tunnel-scenario.mjs';

/** No registration, no consent, one refresh_token grant. */
const REFRESHED = { registrations: 0, authorizations: 0, code_grants: 0, refresh_grants: 1 };
/** A new registration and a new consent, no refresh. */
const AUTHORIZED = { registrations: 1, authorizations: 1, code_grants: 1, refresh_grants: 0 };
/** The stored discovery state meeting the moved MCP server, then `next` once it is dropped. */
const stale = (next) =>
  `failed: Error: Protected resource old MCP URL does not match expected new MCP URL (or origin); then, its discovery state dropped: ${next}`;

tunnelTests(SDK, {
  // The old token holds until it expires; then the stale discovery state, then a new
  // registration and consent (the AS URL moved).
  repoint: {
    reconnect: 'kept its tokens',
    first_answer: 'POST /mcp 200 initialize',
    first_call: 'token held',
    after_expiry: stale('authorized'),
    grown: AUTHORIZED,
    refresh_resources: [],
    audience: ['new MCP URL'],
  },
  // The refused token meets the stale discovery state at once.
  rejectOldAudience: {
    reconnect: stale('authorized'),
    first_answer: 'POST /mcp 401 invalid_token',
    first_call: 'token held',
    after_expiry: 'refreshed',
    grown: { ...AUTHORIZED, refresh_grants: 1 },
    refresh_resources: ['new MCP URL'],
    audience: ['new MCP URL'],
  },
  // The case the rig's renamed resources are for: once the discovery state is dropped, a refresh
  // for the new URL and no new consent.
  repointMcpOnly: {
    reconnect: 'kept its tokens',
    first_answer: 'POST /mcp 200 initialize',
    first_call: 'token held',
    after_expiry: stale('refreshed'),
    grown: REFRESHED,
    refresh_resources: ['new MCP URL'],
    audience: ['new MCP URL'],
  },
  // The same refresh, refused with 400 invalid_target (the grant covers the old URL only): an
  // OAuthError thrown out of the call, the tokens kept. v2 never authorizes again by itself;
  // once the application drops its tokens too, one consent (no new registration) is enough.
  rejectOldAudienceMcpOnly: {
    reconnect: stale(
      "failed: OAuthError: resource 'new MCP URL' is not a valid resource for this grant; then, its tokens dropped: authorized",
    ),
    first_answer: 'POST /mcp 401 invalid_token',
    first_call: 'token held',
    after_expiry: 'refreshed',
    grown: { registrations: 0, authorizations: 1, code_grants: 1, refresh_grants: 2 },
    refresh_resources: ['new MCP URL', 'new MCP URL'],
    audience: ['new MCP URL'],
  },
  restartSamePorts: {
    reconnect: 'kept its tokens',
    first_answer: 'POST /mcp 200 initialize',
    first_call: 'token held',
    after_expiry: 'refreshed',
    grown: REFRESHED,
    refresh_resources: ['same MCP URL'],
    audience: ['same MCP URL'],
  },
  // New ports are new URLs, the AS's too: as after a live move of both.
  restartNewPorts: {
    reconnect: 'kept its tokens',
    first_answer: 'POST /mcp 200 initialize',
    first_call: 'token held',
    after_expiry: stale('authorized'),
    grown: AUTHORIZED,
    refresh_resources: [],
    audience: ['new MCP URL'],
  },
});

// The v1 TypeScript SDK (`@modelcontextprotocol/sdk`) while the rig moves: its public URLs
// re-pointed live (a tunnel that restarted) and a restart with STATE_FILE. ../tunnel-scenario.mjs
// defines the tests (HTTP only, a rig and forwarders per test); this file says what v1 does.
//
// What v1 does, read from dist/esm/client/auth.js (authInternal) and asserted here:
// - a token it holds keeps working after any move: it sends it as it is, and the rig accepts a
//   token for its old MCP URL (unless reject-old-audience: 401 invalid_token).
// - it keeps no discovery state (this provider has no discoveryState()), so every auth() pass
//   discovers again from the MCP URL it was given: the protected-resource metadata names the
//   new resource and the new AS.
// - it binds client information and tokens to the AS URL it discovered them at (the `issuer`
//   stamp, SEP-2352): after the AS URL changed, both read back as absent, so it never presents
//   its refresh token or client_id to the moved AS. It registers again and sends the user
//   through a new authorization, although the rig knows the client and its refresh token.
// - with the AS URL unchanged (the MCP URL moved alone, or a restart on the same ports) it
//   refreshes with `resource` = the MCP URL it now talks to, and the rig's renamed resource
//   gives it a token for the new URL: no new consent.
// - a refresh the AS refuses with invalid_target (reject-old-audience, the AS URL unchanged) is
//   an error thrown out of the call, not a reason to authorize again (auth() starts over only
//   after invalid_client, unauthorized_client and invalid_grant); the tokens stay stored.

import { SDK } from './sdk.mjs';
import { tunnelTests } from '../tunnel-scenario.mjs';

/** No registration, no consent, one refresh_token grant. */
const REFRESHED = { registrations: 0, authorizations: 0, code_grants: 0, refresh_grants: 1 };
/** A new registration and a new consent, no refresh. */
const AUTHORIZED = { registrations: 1, authorizations: 1, code_grants: 1, refresh_grants: 0 };
/** How v1 reports the AS's 400 invalid_target to a refresh for the new MCP URL. */
const INVALID_TARGET = "InvalidTargetError: resource 'new MCP URL' is not a valid resource for this grant";

tunnelTests(SDK, {
  // The AS URL moved: the old token holds until it expires, then a new registration and consent.
  repoint: {
    reconnect: 'kept its tokens',
    first_answer: 'POST /mcp 200 initialize',
    first_call: 'token held',
    after_expiry: 'authorized',
    grown: AUTHORIZED,
    refresh_resources: [],
    audience: ['new MCP URL'],
  },
  // The old token is refused at once; the new consent's refresh token then works for the new URL.
  rejectOldAudience: {
    reconnect: 'authorized',
    first_answer: 'POST /mcp 401 invalid_token',
    first_call: 'token held',
    after_expiry: 'refreshed',
    grown: { ...AUTHORIZED, refresh_grants: 1 },
    refresh_resources: ['new MCP URL'],
    audience: ['new MCP URL'],
  },
  // The case the rig's renamed resources are for: a refresh for the new URL, no new consent.
  repointMcpOnly: {
    reconnect: 'kept its tokens',
    first_answer: 'POST /mcp 200 initialize',
    first_call: 'token held',
    after_expiry: 'refreshed',
    grown: REFRESHED,
    refresh_resources: ['new MCP URL'],
    audience: ['new MCP URL'],
  },
  // The same refresh, refused with 400 invalid_target (the grant covers the old URL only): v1
  // throws InvalidTargetError out of the call, and keeps the tokens, so every later call
  // repeats the refused refresh. It never authorizes again by itself; the application must
  // drop its tokens, and then one consent (no new registration) is enough.
  rejectOldAudienceMcpOnly: {
    reconnect: [
      `failed: ${INVALID_TARGET}`,
      `then, its discovery state dropped: failed: ${INVALID_TARGET}`,
      'then, its tokens dropped: authorized',
    ].join('; '),
    first_answer: 'POST /mcp 401 invalid_token',
    first_call: 'token held',
    after_expiry: 'refreshed',
    grown: { registrations: 0, authorizations: 1, code_grants: 1, refresh_grants: 3 },
    refresh_resources: ['new MCP URL', 'new MCP URL', 'new MCP URL'],
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
    after_expiry: 'authorized',
    grown: AUTHORIZED,
    refresh_resources: [],
    audience: ['new MCP URL'],
  },
});

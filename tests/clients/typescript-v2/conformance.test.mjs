// The v2 TypeScript SDK's OAuth client (`@modelcontextprotocol/client`) in every situation of
// the MCP conformance suite the rig stages, over HTTP: ../conformance-driver.mjs defines the
// tests (how each situation is staged, driven and judged), as for v1; this file holds what is
// v2's own, the checks it fails in each and the providers it has without a user. Results go to
// $CLIENT_MATRIX_DIR/typescript-v2/conformance-<name>.json.
//
// Unlike v1's, v2's finishAuth takes the whole callback query, so the SDK itself judges `iss`
// (RFC 9207) and an error in the redirect; the provider checks only the state, which v2 leaves
// to the redirect handler.
//
// Without a user, v2 has providers for three: ClientCredentialsProvider, PrivateKeyJwtProvider
// and CrossAppAccessProvider (with requestJwtAuthorizationGrant for the IdP step). It has none
// for a workload's jwt-bearer assertion (WIF): there the application writes its own on the SDK's
// `prepareTokenRequest` hook (../client-credentials-shared.mjs), and the result file says so
// (`provider: 'application'`).

import { idJagProvider, keyProvider, secretProvider } from './machine-providers.mjs';
import { SDK } from './sdk.mjs';
import { conformanceTests, withoutUserProviders } from '../conformance-driver.mjs';

// What v2 earns in each situation: the ids of the checks it fails (warnings included). A
// situation the rig lists but this table lacks fails the run, so none goes untested.
const EXPECTED = {
  'metadata-default': [],
  'metadata-var1': [],
  'metadata-var2': [],
  'metadata-var3': [],
  // The AS advertises client_id_metadata_document_supported: true and the provider has a
  // clientMetadataUrl: the SDK sends the URL as client_id, no registration.
  'basic-cimd': [],
  'scope-from-www-authenticate': [],
  'scope-from-scopes-supported': [],
  'scope-omitted-when-undefined': [],
  // The authorization after the 403 does ask for the union (mcp:basic mcp:write, no refresh:
  // v1 asked for mcp:basic there). But connect succeeds without a token here, the background
  // GET stream's 401 starts one authorization and the tools/list call's 401 another, for the
  // same mcp:basic, before the application completes either: the check takes that duplicate
  // for the escalation.
  'scope-step-up': ['scope-step-up-escalation'],
  'scope-retry-limit': [],
  'token-endpoint-auth-basic': [],
  'token-endpoint-auth-post': [],
  'token-endpoint-auth-none': [],
  'pre-registration': [],
  '2025-03-26-oauth-metadata-backcompat': [],
  '2025-03-26-oauth-endpoint-fallback': [],
  'resource-mismatch': [],
  'offline-access-scope': [],
  'offline-access-not-supported': [],
  // With the discovery state stored (as v2's migration guide asks, and this provider does),
  // auth() never reads the protected resource metadata again, and nothing in the SDK drops that
  // state: after the resource moves to as2 it refreshes at the old AS, the new token draws
  // another 401, and the call fails "401 after re-authentication". (A provider without the
  // discovery hooks rediscovers on every auth() and re-registers at as2, as v1 does.)
  'authorization-server-migration': ['sep-2352-reregister-on-as-change'],
  'iss-supported': [],
  'iss-not-advertised': [],
  // v2's finishAuth takes the callback query and checks iss itself (RFC 9207): a missing, wrong,
  // unexpected or normalized iss stops the flow with IssuerMismatchError before the code is
  // exchanged. v1 sees only the code and fails all four.
  'iss-supported-missing': [],
  'iss-wrong-issuer': [],
  'iss-unexpected': [],
  'iss-normalized': [],
  // v2 checks the AS metadata's issuer against the URL it derived it from (v1 does not).
  'metadata-issuer-mismatch': [],
  // Without a user (the providers are below).
  'client-credentials-basic': [],
  'client-credentials-jwt': [],
  'wif-jwt-bearer': [],
  'enterprise-managed-authorization': [],
};

// The providers of the situations without a user: ../conformance-driver.mjs builds the
// client-credentials ones from v2's own and the WIF one as the application's (v2 has none for a
// workload's own assertion: StaticPrivateKeyJwtProvider sends a client assertion with the
// client_credentials grant, and CrossAppAccessProvider insists on a client secret and
// client_secret_basic, which a WIF AS does not take). The enterprise flow is the SDK's own:
// CrossAppAccessProvider hands the callback the AS issuer and the PRM resource it discovered,
// and requestJwtAuthorizationGrant does the RFC 8693 request at the IdP the context names.
const ENTERPRISE = (context, rig) => ['sdk', idJagProvider(context, rig.issuer)];

conformanceTests(SDK, {
  expected: EXPECTED,
  withoutUser: withoutUserProviders({ secretProvider, keyProvider }, ENTERPRISE),
});

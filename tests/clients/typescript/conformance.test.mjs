// The TypeScript SDK's OAuth client (`@modelcontextprotocol/sdk`) in every situation of the MCP
// conformance suite the rig stages, over HTTP: ../conformance-driver.mjs defines the tests (how
// each situation is staged, driven and judged); this file holds what is v1's own, the checks it
// fails in each and the providers it has without a user. Results go to
// $CLIENT_MATRIX_DIR/typescript/conformance-<name>.json.
//
// v1's finishAuth takes only the code, so whatever the SDK does with `iss` it does without
// seeing the callback: the provider hands the code over without judging `iss` (as the SDK's own
// examples do).
//
// Without a user, v1 has providers for client credentials (`client/auth-extensions`:
// ClientCredentialsProvider, PrivateKeyJwtProvider) and none for jwt-bearer: for WIF and for the
// ID-JAG the application writes its own on the SDK's `prepareTokenRequest` hook
// (../client-credentials-shared.mjs), and the result file says so (`provider: 'application'`).

import { idJagProvider, keyProvider, secretProvider } from './machine-providers.mjs';
import { SDK } from './sdk.mjs';
import { conformanceTests, withoutUserProviders } from '../conformance-driver.mjs';

// What the SDK earns in each situation: the ids of the checks it fails (warnings included). A
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
  // The first authorization asks for PRM's scopes_supported (mcp:profile), not the 401's mcp:basic;
  // the one after the 403 asks for mcp:basic, not the mcp:write the 403 names.
  'scope-step-up': ['scope-step-up-initial', 'scope-step-up-escalation'],
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
  'authorization-server-migration': [],
  'iss-supported': [],
  'iss-not-advertised': [],
  // finishAuth takes only the code: the SDK never sees the redirect's iss, so it exchanges the
  // code whatever iss says (or does not say). The application would have to judge iss itself.
  'iss-supported-missing': ['sep-2468-client-reject-missing-iss'],
  'iss-wrong-issuer': ['sep-2468-client-compare-iss-supported'],
  'iss-unexpected': ['sep-2468-client-compare-iss-unadvertised'],
  'iss-normalized': ['sep-2468-client-no-normalization'],
  // The SDK uses AS metadata whose issuer is not the one PRM named.
  'metadata-issuer-mismatch': ['sep-2468-client-validate-metadata-issuer'],
  // Without a user (the providers are below).
  'client-credentials-basic': [],
  'client-credentials-jwt': [],
  'wif-jwt-bearer': [],
  'enterprise-managed-authorization': [],
};

// The providers of the situations without a user: ../conformance-driver.mjs builds the
// client-credentials ones from v1's own and the WIF one as the application's (v1 has no
// jwt-bearer provider: StaticPrivateKeyJwtProvider sends a client assertion with the
// client_credentials grant). v1 has no token-exchange or ID-JAG helper either: for the
// enterprise flow the application's provider does the IdP request itself, from the discovery
// state the SDK saves, and the SDK sends the jwt-bearer grant.
const ENTERPRISE = (context, rig) => ['application', idJagProvider(context, rig.issuer)];

conformanceTests(SDK, {
  expected: EXPECTED,
  withoutUser: withoutUserProviders({ secretProvider, keyProvider }, ENTERPRISE),
});

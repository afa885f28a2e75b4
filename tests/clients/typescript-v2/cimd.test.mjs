// The v2 TypeScript SDK (`@modelcontextprotocol/client`) with a client ID metadata document
// (CIMD, SEP-991): ../cimd-driver.mjs defines the tests (a document host and a rig per test), as
// for v1; this file says what v2 does where the SDKs differ. Each passing test writes
// $CLIENT_MATRIX_DIR/typescript-v2/cimd-<scheme>-<slug>.json (default <repo>/target/client-matrix).
//
// What v2 does, read from dist/public-*.mjs (authInternal) and asserted there:
// - it consults `clientMetadataUrl` only when it holds no client information. It first insists
//   on an https URL with a path other than "/" (OAuthError invalid_client_metadata otherwise;
//   v1 has a class of its own for it), whatever the AS advertises, before it would register.
// - AS metadata with `client_id_metadata_document_supported: true` (exactly true): the URL is
//   the client_id, saved as `{ client_id, issuer }` through saveClientInformation, no /register.
// - anything else (false, absent): dynamic registration with `clientMetadata`, as without a URL.
// - it never fetches the document itself and never learns whether the AS could: an unusable
//   document is an error page at /authorize (which only the browser sees) or 401 invalid_client
//   at /token, which auth() answers by invalidating the client and the tokens (v1: 'all', the
//   code verifier too) and one more pass.
// - with the provider's stored discovery state it fetches the AS metadata once per provider,
//   where v1 fetches it again before every token request: the code exchange, each refresh, the
//   second attempt of the same provider and the pass after an invalid_client all reuse it.

import { OAuthError, UnauthorizedError } from '@modelcontextprotocol/client';
import { SDK } from './sdk.mjs';
import { cimdTests } from '../cimd-driver.mjs';

cimdTests(SDK, {
  metadataFetches: 'first pass',
  // invalidateCredentials('client') and ('tokens') (v1: 'all'). The second pass then has a code
  // but no client, and throws a plain Error; a refresh's second pass has neither client nor
  // tokens.
  invalidClientDrops: { calls: ['client', 'tokens'], said: 'client and tokens' },
  invalidClientMetadata: {
    // v1: its InvalidClientMetadataError class.
    is: (error) => error instanceof OAuthError && error.code === 'invalid_client_metadata',
    said: 'OAuthError invalid_client_metadata',
  },
  // The plain Error is neither of v2's.
  sdkErrors: [UnauthorizedError, OAuthError],
});

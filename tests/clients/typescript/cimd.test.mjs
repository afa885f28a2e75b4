// The TypeScript SDK (`@modelcontextprotocol/sdk`) with a client ID metadata document (CIMD,
// SEP-991 in the SDK's words): ../cimd-driver.mjs defines the tests (a document host and a rig
// per test); this file says what v1 does where the SDKs differ. Each passing test writes
// $CLIENT_MATRIX_DIR/typescript/cimd-<scheme>-<slug>.json (default <repo>/target/client-matrix).
//
// What the SDK does, read from dist/esm/client/auth.js (authInternal) and asserted there:
// - it consults `clientMetadataUrl` only when it holds no client information. It first insists
//   on an https URL with a path other than "/" (InvalidClientMetadataError otherwise), and it
//   does so whatever the AS advertises, before it would fall back to registering.
// - AS metadata with `client_id_metadata_document_supported: true` (exactly true): the URL is
//   the client_id, saved as `{ client_id, issuer }` through saveClientInformation, no /register.
// - anything else (false, absent): dynamic registration with `clientMetadata`, as without a URL.
// - it never fetches the document itself and never learns whether the AS could: an unusable
//   document is an error page at /authorize (which only the browser sees) or 401 invalid_client
//   at /token, which auth() answers by invalidateCredentials('all') and one more pass.
// - it fetches the AS metadata again before every auth() pass: before the code exchange, each
//   refresh and the pass after an invalid_client.

import { InvalidClientMetadataError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { SDK } from './sdk.mjs';
import { cimdTests } from '../cimd-driver.mjs';

cimdTests(SDK, {
  metadataFetches: 'every pass',
  // 'all': the code verifier goes too. The second pass then has a code but no client, and
  // throws a plain Error; a refresh's second pass has neither client nor tokens.
  invalidClientDrops: { calls: ['all'], said: 'all credentials' },
  invalidClientMetadata: {
    is: (error) => error instanceof InvalidClientMetadataError,
    said: 'InvalidClientMetadataError',
  },
  sdkErrors: [UnauthorizedError],
});

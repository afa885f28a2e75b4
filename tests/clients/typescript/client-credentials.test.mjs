// The TypeScript SDK (v1) as a client without a user, against the real rig: the
// client_credentials grant with a secret (ClientCredentialsProvider, client_secret_basic) and
// with a key (PrivateKeyJwtProvider, private_key_jwt), both from `client/auth-extensions`. Each
// gets a token that works at the MCP server (`whoami`'s subject is the client id), then meets a
// refusal; the tests (../client-credentials-shared.mjs, shared with v2) assert what the SDK does
// with it: the error it throws and how many token requests it made (the rig's journal). Run by
// run.mjs once per scheme, like scenarios.test.mjs (SIM_SCHEME, SIM_CERTS_DIR).
//
// What v1 does (EXPECT below, each asserted):
// - It asks for no scope on this path: fetchToken passes the provider's configured scope only,
//   not the 401's `scope` or PRM's scopes_supported. It sends `resource`.
// - invalid_client (a wrong secret, an unknown key): auth() calls invalidateCredentials('all'),
//   which these providers do not implement, and tries again with the same credentials; then
//   InvalidClientError. unauthorized_client is retried the same way, so one that does not repeat
//   is recovered from.
// - 503 temporarily_unavailable: no retry, TemporarilyUnavailableError; a new connect works.
// - A revoked token: the 401 makes it ask again by the same grant (there is no refresh token).
// - Credentials whose expectedIssuer names another AS are never sent (a plain Error).
// - EdDSA: a PEM key is refused by the SDK itself ("Unsupported algorithm EdDSA": its PEM import
//   knows RS*, ES* and PS* only) before any request; the same key as a JWK works.
// - Enterprise-managed authorization, the IdP refusing the ID token (the application's provider:
//   v1 has no token-exchange helper): the error of prepareTokenRequest ends the connect, not
//   retried, and no jwt-bearer request is made.
// - A workload's expired assertion (WIF; jwt-bearer through the application's provider, v1 has
//   none): invalid_grant makes auth() drop the tokens and send the same assertion again.

import assert from 'node:assert/strict';
import { InvalidClientError, InvalidGrantError, TemporarilyUnavailableError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { newClient } from './provider.mjs';
import { idJagProvider, keyProvider, secretProvider } from './machine-providers.mjs';
import { machineClientTests } from '../client-credentials-shared.mjs';

const SCHEME = process.env.SIM_SCHEME || 'http';
const CERTS_DIR = process.env.SIM_CERTS_DIR;
assert.ok(SCHEME === 'http' || SCHEME === 'https', `SIM_SCHEME must be http or https, not ${SCHEME}`);
if (SCHEME === 'https') assert.ok(CERTS_DIR, 'SIM_SCHEME=https needs SIM_CERTS_DIR (run through run.mjs)');

const EXPECT = {
  scope: () => null,
  invalidClient: (error) => error instanceof InvalidClientError,
  invalidClientTries: 2,
  unavailable: (error) => error instanceof TemporarilyUnavailableError,
  // A plain Error, before anything is sent.
  boundElsewhere: (error) => /is bound to authorization server https:\/\/as\.elsewhere\.example/.test(String(error?.message)),
  // The application's own provider does the IdP request (v1 has no helper): its error, as is.
  idTokenRefused: (error) => /token exchange at the IdP: 400/.test(String(error?.message)),
  edPemRefusal: /Unsupported algorithm EdDSA/,
  wifExpired: (error) => error instanceof InvalidGrantError,
  wifTries: 2,
  wifFailing: ['wif-assertion-expired', 'wif-assertion-verified', 'wif-no-retry'],
};

machineClientTests({
  newClient,
  secretProvider,
  keyProvider,
  idJagProvider: (context, rig) => idJagProvider(context, rig.issuer),
  expect: EXPECT,
}, { scheme: SCHEME, certsDir: CERTS_DIR });

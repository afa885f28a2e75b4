// The v2 TypeScript SDK (`@modelcontextprotocol/client`) as a client without a user, against
// the real rig: the client_credentials grant with a secret (ClientCredentialsProvider,
// client_secret_basic) and with a key (PrivateKeyJwtProvider, private_key_jwt). Each gets a
// token that works at the MCP server (`whoami`'s subject is the client id), then meets a
// refusal; the tests (../client-credentials-shared.mjs, shared with v1) assert what the SDK does
// with it: the error it throws and how many token requests it made (the rig's journal). Run by
// run.mjs once per scheme, like scenarios.test.mjs (SIM_SCHEME, SIM_CERTS_DIR).
//
// What v2 does (EXPECT below, each asserted):
// - It asks for the scope the 401 named (v1 asks for none), and sends `resource`.
// - invalid_client (a wrong secret, an unknown key): auth() warns, calls
//   invalidateCredentials('client') and ('tokens'), which these providers do not implement, and
//   tries again with the same credentials; then OAuthError invalid_client. unauthorized_client is
//   retried the same way, so one that does not repeat is recovered from.
// - 503 temporarily_unavailable: no retry, OAuthError temporarily_unavailable; a new connect works.
// - A revoked token: the 401 makes it ask again by the same grant (there is no refresh token).
// - Credentials whose expectedIssuer names another AS are never sent
//   (AuthorizationServerMismatchError).
// - EdDSA: as v1, a PEM key is refused by the SDK itself; the same key as a JWK works.
// - Enterprise-managed authorization (CrossAppAccessProvider), the IdP refusing the ID token:
//   requestJwtAuthorizationGrant throws a plain Error ("Token exchange failed: invalid_grant …"),
//   not retried, and no jwt-bearer request is made.
// - A workload's expired assertion (WIF; jwt-bearer through the application's provider, v2 has
//   none): invalid_grant makes auth() drop the tokens and send the same assertion again.

import assert from 'node:assert/strict';
import { AuthorizationServerMismatchError, OAuthError } from '@modelcontextprotocol/client';
import { idJagProvider, keyProvider, secretProvider } from './machine-providers.mjs';
import { newClient } from './provider.mjs';
import { machineClientTests } from '../client-credentials-shared.mjs';

const SCHEME = process.env.SIM_SCHEME || 'http';
const CERTS_DIR = process.env.SIM_CERTS_DIR;
assert.ok(SCHEME === 'http' || SCHEME === 'https', `SIM_SCHEME must be http or https, not ${SCHEME}`);
if (SCHEME === 'https') assert.ok(CERTS_DIR, 'SIM_SCHEME=https needs SIM_CERTS_DIR (run through run.mjs)');

const oauthError = (code) => (error) => error instanceof OAuthError && error.code === code;

const EXPECT = {
  scope: (challenge) => challenge,
  invalidClient: oauthError('invalid_client'),
  invalidClientTries: 2,
  unavailable: oauthError('temporarily_unavailable'),
  boundElsewhere: (error) => error instanceof AuthorizationServerMismatchError,
  // requestJwtAuthorizationGrant throws a plain Error naming the IdP's error.
  idTokenRefused: (error) => !(error instanceof OAuthError) && /^Token exchange failed: invalid_grant/.test(String(error?.message)),
  edPemRefusal: /Unsupported algorithm EdDSA/,
  wifExpired: oauthError('invalid_grant'),
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

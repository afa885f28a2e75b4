// The v1 SDK's providers for clients without a user, as both client-credentials.test.mjs and
// conformance.test.mjs build them, bound to the rig's issuer (`expectedIssuer`) as a deployment
// configures them. v1 has no ID-JAG exchange of its own: the application's provider
// (../client-credentials-shared.mjs) does the IdP request, and the SDK sends the jwt-bearer grant.

import { ClientCredentialsProvider, PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { IdJagExchangeProvider } from '../client-credentials-shared.mjs';

export const secretProvider = ({ clientId, clientSecret, issuer }) =>
  new ClientCredentialsProvider({ clientId, clientSecret, expectedIssuer: issuer });

export const keyProvider = ({ clientId, privateKey, algorithm, issuer }) =>
  new PrivateKeyJwtProvider({ clientId, privateKey, algorithm, expectedIssuer: issuer });

export const idJagProvider = (context, issuer) => new IdJagExchangeProvider({
  clientId: context.client_id,
  clientSecret: context.client_secret,
  idpClientId: context.idp_client_id,
  idToken: context.idp_id_token,
  idpTokenEndpoint: context.idp_token_endpoint,
  expectedIssuer: issuer,
});

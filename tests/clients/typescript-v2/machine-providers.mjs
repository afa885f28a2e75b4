// The v2 SDK's providers for clients without a user, as both client-credentials.test.mjs and
// conformance.test.mjs build them, bound to the rig's issuer (`expectedIssuer`) as a deployment
// configures them.

import {
  ClientCredentialsProvider, CrossAppAccessProvider, PrivateKeyJwtProvider, requestJwtAuthorizationGrant,
} from '@modelcontextprotocol/client';

export const secretProvider = ({ clientId, clientSecret, issuer }) =>
  new ClientCredentialsProvider({ clientId, clientSecret, expectedIssuer: issuer });

export const keyProvider = ({ clientId, privateKey, algorithm, issuer }) =>
  new PrivateKeyJwtProvider({ clientId, privateKey, algorithm, expectedIssuer: issuer });

// The SDK's own: CrossAppAccessProvider hands the callback the AS issuer and the PRM resource it
// discovered; requestJwtAuthorizationGrant does the RFC 8693 request at the IdP's token endpoint
// the context names.
export const idJagProvider = (context, issuer) => new CrossAppAccessProvider({
  assertion: async ({ authorizationServerUrl, resourceUrl, scope, fetchFn }) => (await requestJwtAuthorizationGrant({
    tokenEndpoint: context.idp_token_endpoint,
    audience: authorizationServerUrl,
    resource: resourceUrl,
    idToken: context.idp_id_token,
    clientId: context.idp_client_id,
    scope,
    fetchFn,
  })).jwtAuthGrant,
  clientId: context.client_id,
  clientSecret: context.client_secret,
  expectedIssuer: issuer,
});

// The headless `OAuthClientProvider` both TypeScript suites build theirs on (typescript/ and
// typescript-v2/ provider.mjs add what their SDK's interface asks beyond it): everything in
// memory, and the "browser" is one fetch of the authorization URL that keeps the redirect
// instead of following it. It records what the SDK asked of it, so the tests can assert on the
// client's behaviour. It imports no SDK: the interface is duck-typed.

import { randomBytes } from 'node:crypto';

// A loopback redirect URI, as a CLI client registers it (RFC 8252 §7.3: the AS accepts any port
// on loopback). Nothing listens there: the authorization response is read from `Location`.
export const REDIRECT_URL = 'http://localhost:8976/callback';

/** A suite's provider extends this and names its client (`get clientName()`). */
export class HeadlessProvider {
  constructor({ clientInformation, tokens } = {}) {
    this.stored = { clientInformation, tokens, codeVerifier: undefined };
    /** Every value the SDK passed to saveClientInformation / saveTokens, in order. */
    this.savedClients = [];
    this.savedTokens = [];
    /** Every authorization the SDK started: the URL, the state sent, and the parsed callback. */
    this.authorizations = [];
    /** Every invalidateCredentials(scope) call. */
    this.invalidations = [];
  }

  get redirectUrl() {
    return REDIRECT_URL;
  }

  get clientMetadata() {
    return {
      client_name: this.clientName,
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  state() {
    this.lastState = randomBytes(16).toString('base64url');
    return this.lastState;
  }

  clientInformation() {
    return this.stored.clientInformation;
  }

  saveClientInformation(information) {
    this.savedClients.push(information);
    this.stored.clientInformation = information;
  }

  tokens() {
    return this.stored.tokens;
  }

  saveTokens(tokens) {
    this.savedTokens.push(tokens);
    this.stored.tokens = tokens;
  }

  saveCodeVerifier(verifier) {
    this.stored.codeVerifier = verifier;
  }

  codeVerifier() {
    if (!this.stored.codeVerifier) throw new Error('no code verifier saved');
    return this.stored.codeVerifier;
  }

  invalidateCredentials(scope) {
    this.invalidations.push(scope);
    if (scope === 'all' || scope === 'client') this.stored.clientInformation = undefined;
    if (scope === 'all' || scope === 'tokens') this.stored.tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this.stored.codeVerifier = undefined;
  }

  /** The user agent: GET the authorization URL, keep the redirect's query. */
  async redirectToAuthorization(authorizationUrl) {
    const url = new URL(authorizationUrl);
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
    const location = response.headers.get('location');
    const body = await response.text();
    if (response.status !== 302 || !location) {
      // The page the user would see instead, for a provider that shows it (document-host.mjs).
      throw Object.assign(new Error(`GET ${url.pathname} answered ${response.status} without a redirect: ${body}`), {
        page: { status: response.status, body },
      });
    }
    const callback = new URL(location, url);
    const query = Object.fromEntries(callback.searchParams);
    this.authorizations.push({
      url,
      sentState: url.searchParams.get('state'),
      callback,
      code: query.code,
      error: query.error,
      state: query.state,
      iss: query.iss,
    });
  }

  /** The last authorization's callback. */
  get lastAuthorization() {
    return this.authorizations.at(-1);
  }

  /** The last authorization, after the check every redirect handler makes: the state. */
  checkedCallback() {
    const last = this.lastAuthorization;
    if (!last) throw new Error('the client never asked for authorization');
    if (last.state !== last.sentState) {
      throw new Error(`callback state ${last.state} differs from the state sent, ${last.sentState}`);
    }
    return last;
  }
}

/**
 * The SDK's documented interactive connect, without a human: connect; on UnauthorizedError the
 * provider holds the callback, so the SDK's finish step (`finishAuthorization`) and connect
 * again on a new transport. `sdk` is the suite's `{ newClient, UnauthorizedError,
 * finishAuthorization }`.
 */
export async function connectWithAuth(sdk, mcpUrl, provider) {
  const first = sdk.newClient(mcpUrl, provider);
  try {
    await first.client.connect(first.transport);
    return first.client;
  } catch (error) {
    if (!(error instanceof sdk.UnauthorizedError)) throw error;
    await sdk.finishAuthorization(first.transport, provider);
    await first.client.close();
  }
  const second = sdk.newClient(mcpUrl, provider);
  await second.client.connect(second.transport);
  return second.client;
}

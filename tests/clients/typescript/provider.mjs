// A headless `OAuthClientProvider` for the TypeScript SDK: everything in memory, and the
// "browser" is one fetch of the authorization URL that keeps the redirect instead of following
// it. It records what the SDK asked of it, so the tests can assert on the client's behaviour.

import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

// A loopback redirect URI, as a CLI client registers it (RFC 8252 §7.3: the AS accepts any port
// on loopback). Nothing listens there: the authorization response is read from `Location`.
export const REDIRECT_URL = 'http://localhost:8976/callback';

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
      client_name: 'mcp-oauth-sim TypeScript SDK test',
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
      throw new Error(`GET ${url.pathname} answered ${response.status} without a redirect: ${body}`);
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

  /** The code of the last callback, as a redirect handler would check it (state included). */
  takeCode() {
    const last = this.lastAuthorization;
    if (!last) throw new Error('the client never asked for authorization');
    if (last.state !== last.sentState) {
      throw new Error(`callback state ${last.state} differs from the state sent, ${last.sentState}`);
    }
    if (last.error) throw new Error(`authorization failed: ${last.error}`);
    if (!last.code) throw new Error(`callback without a code: ${last.callback}`);
    return last.code;
  }
}

/** A new SDK client on a new transport for `mcpUrl` (`options`: more transport options, e.g. `fetch`). */
export function newClient(mcpUrl, provider, options = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, ...options });
  const client = new Client({ name: 'mcp-oauth-sim-ts-test', version: '1.0.0' });
  return { client, transport };
}

/**
 * The SDK's documented interactive connect, without a human: connect; on UnauthorizedError the
 * provider holds the callback, so `finishAuth(code)` and connect again on a new transport.
 */
export async function connectWithAuth(mcpUrl, provider) {
  const first = newClient(mcpUrl, provider);
  try {
    await first.client.connect(first.transport);
    return first.client;
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    await first.transport.finishAuth(provider.takeCode());
    await first.client.close();
  }
  const second = newClient(mcpUrl, provider);
  await second.client.connect(second.transport);
  return second.client;
}

// The split v2 TypeScript SDK's (`@modelcontextprotocol/client`) headless `OAuthClientProvider`
// (../headless-provider.mjs: everything in memory, a browser that keeps the redirect), and its
// client on a Streamable HTTP transport. Beyond v1's interface, v2 has one import path for
// everything, adds the discovery-state hooks, and its finishAuth takes the whole callback.
//
// v2 stamps what it saves (client information, tokens) with the issuer and reads a value
// stamped for another AS as absent, so the provider hands back exactly what it was given.

import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import { HeadlessProvider as Headless, REDIRECT_URL, connectWithAuth as connectAuthorizing } from '../headless-provider.mjs';

export { REDIRECT_URL };

/**
 * v2's finishAuth takes the whole callback query and judges `iss` (RFC 9207) and an error in the
 * redirect itself; takeCallback checks only the state, which v2 leaves to the redirect handler.
 */
export const finishAuthorization = (transport, provider) => transport.finishAuth(provider.takeCallback());

export class HeadlessProvider extends Headless {
  constructor(options) {
    super(options);
    this.stored.discovery = undefined;
    /** How often the SDK saved discovery state (it skips rediscovery while one is stored). */
    this.discoverySaves = 0;
  }

  get clientName() {
    return 'mcp-oauth-sim TypeScript SDK v2 test';
  }

  // v2's migration guide asks a provider to keep the discovery state beside the code verifier:
  // without it the SDK warns on every callback that it cannot bind the code to the AS that
  // minted it. With it, auth() reuses the stored metadata instead of discovering again.
  saveDiscoveryState(state) {
    this.discoverySaves += 1;
    this.stored.discovery = state;
  }

  discoveryState() {
    return this.stored.discovery;
  }

  invalidateCredentials(scope) {
    super.invalidateCredentials(scope);
    if (scope === 'all' || scope === 'discovery') this.stored.discovery = undefined;
  }

  /**
   * The last callback's query, for `transport.finishAuth(params)`, after the check the SDK
   * leaves to the redirect handler: the state. Everything else (code or error, iss) is handed
   * to the SDK, which v2 reads itself.
   */
  takeCallback() {
    return this.checkedCallback().callback.searchParams;
  }
}

/** A new SDK client on a new transport for `mcpUrl`. */
export function newClient(mcpUrl, provider, options = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, ...options });
  const client = new Client({ name: 'mcp-oauth-sim-ts-v2-test', version: '1.0.0' });
  return { client, transport };
}

/** Connect, authorizing without a human: finishAuth(callback) and connect again on a new transport. */
export const connectWithAuth = (mcpUrl, provider) =>
  connectAuthorizing({ newClient, UnauthorizedError, finishAuthorization }, mcpUrl, provider);

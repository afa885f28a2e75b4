// The v1 TypeScript SDK's headless `OAuthClientProvider` (../headless-provider.mjs: everything in
// memory, a browser that keeps the redirect), and its client on a Streamable HTTP transport.

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { HeadlessProvider as Headless, REDIRECT_URL, connectWithAuth as connectAuthorizing } from '../headless-provider.mjs';

export { REDIRECT_URL };

/**
 * v1's finishAuth takes only the code: the redirect handler (takeCode) checks the state and the
 * error, and whatever the SDK does with `iss` it does without seeing the callback.
 */
export const finishAuthorization = (transport, provider) => transport.finishAuth(provider.takeCode());

export class HeadlessProvider extends Headless {
  get clientName() {
    return 'mcp-oauth-sim TypeScript SDK test';
  }

  /** The code of the last callback, as a redirect handler would check it (state included). */
  takeCode() {
    const last = this.checkedCallback();
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

/** Connect, authorizing without a human: finishAuth(code) and connect again on a new transport. */
export const connectWithAuth = (mcpUrl, provider) =>
  connectAuthorizing({ newClient, UnauthorizedError, finishAuthorization }, mcpUrl, provider);

// A real client whose user is a real browser: the v1 TypeScript SDK (`@modelcontextprotocol/sdk`,
// pinned in package.json at the version tests/clients/typescript tests) with an
// `OAuthClientProvider` whose redirectToAuthorization opens the authorization URL in a Chromium
// page, and a loopback callback server on 127.0.0.1 (RFC 8252 §7.3) that the rig's redirect
// reaches once the person on the page has decided. The test clicks; the callback hands the code
// (or the error) back; the SDK's finishAuth exchanges it.

import { createServer } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { HeadlessProvider } from '../clients/headless-provider.mjs';

export { UnauthorizedError };

const CALLBACK_TIMEOUT_MS = 5_000;

/**
 * Listens on 127.0.0.1, an ephemeral port, for the authorization response at /callback.
 * `next()` resolves with the next callback's query (`{ code, state, iss }` or `{ error, … }`),
 * failing after CALLBACK_TIMEOUT_MS; `close()` stops it.
 */
export async function startCallbackServer() {
  const arrived = [];
  const waiting = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url, 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      response.writeHead(404).end();
      return;
    }
    const query = Object.fromEntries(url.searchParams);
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(`<!DOCTYPE html><title>Done</title><p id="callback">${query.error ? 'Authorization refused' : 'Authorization complete'}: you may close this window.</p>`);
    const waiter = waiting.shift();
    if (waiter) waiter(query);
    else arrived.push(query);
  });
  await new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', done);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}/callback`,
    next() {
      if (arrived.length > 0) return Promise.resolve(arrived.shift());
      return new Promise((done, fail) => {
        const timer = setTimeout(() => {
          waiting.splice(waiting.indexOf(settle), 1);
          fail(new Error(`no authorization response reached the callback within ${CALLBACK_TIMEOUT_MS} ms`));
        }, CALLBACK_TIMEOUT_MS);
        const settle = (query) => {
          clearTimeout(timer);
          done(query);
        };
        waiting.push(settle);
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

/**
 * The provider: everything in memory (../clients/headless-provider.mjs), the callback server's
 * URL as the redirect URI, and `page` (a Playwright page) as the user agent.
 */
export class BrowserProvider extends HeadlessProvider {
  constructor({ page, callback, clientName = 'mcp-oauth-sim browser test', ...stored }) {
    super(stored);
    this.page = page;
    this.callback = callback;
    this.name = clientName;
    /** Every authorization URL the SDK asked the browser to open. */
    this.opened = [];
  }

  get clientName() {
    return this.name;
  }

  get redirectUrl() {
    return this.callback.url;
  }

  get clientMetadata() {
    return { ...super.clientMetadata, redirect_uris: [this.callback.url] };
  }

  /** Opens the authorization URL in the browser; the person (the test) decides there. */
  async redirectToAuthorization(authorizationUrl) {
    this.opened.push(new URL(authorizationUrl));
    await this.page.goto(authorizationUrl.toString());
  }
}

/** A new SDK client on a new Streamable HTTP transport for `mcpUrl`. */
export function newClient(mcpUrl, provider) {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  const client = new Client({ name: 'mcp-oauth-sim-browser-test', version: '1.0.0' });
  return { client, transport };
}

/**
 * The SDK's interactive connect up to the browser: connect, which registers and opens the
 * authorization URL in the page, then throws UnauthorizedError. Resolves with the transport, on
 * which `finishAuth(code)` is called once the callback has the code.
 */
export async function startAuthorization(mcpUrl, provider) {
  const { client, transport } = newClient(mcpUrl, provider);
  try {
    await client.connect(transport);
  } catch (error) {
    if (error instanceof UnauthorizedError) return { client, transport };
    throw error;
  }
  throw new Error('the client connected without authorizing');
}

/** finishAuth with the callback's code, then connect again on a new transport. */
export async function finishAuthorization(mcpUrl, provider, pending, code) {
  await pending.transport.finishAuth(code);
  await pending.client.close();
  const { client, transport } = newClient(mcpUrl, provider);
  await client.connect(transport);
  return client;
}

// Client ID metadata documents for both TypeScript suites' tests: a loopback HTTPS host serving
// the client's document (the rig's certificate, so the rig's document fetch can verify it), and
// a headless provider that names that document as its `clientMetadataUrl`, built on a suite's
// own HeadlessProvider.

import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REDIRECT_URL } from './headless-provider.mjs';

/**
 * `https://localhost:PORT/client.json` on 127.0.0.1, served with `certsDir`'s localhost.pem
 * and localhost-key.pem (from `mcp-oauth-sim certs`). Every request it gets is kept in
 * `requests`; `document(url)` is what it serves at the path (its `client_id` is the URL; by
 * default a public client named `clientName`), and the answer carries `cacheControl` when set.
 */
export class DocumentHost {
  constructor({ certsDir, clientName, document = (url) => clientDocument(url, clientName), cacheControl } = {}) {
    this.certsDir = certsDir;
    this.document = document;
    this.cacheControl = cacheControl;
    /** Every request the host answered: `{ method, path, accept }`. */
    this.requests = [];
  }

  async start() {
    this.server = createServer(
      { cert: readFileSync(join(this.certsDir, 'localhost.pem')), key: readFileSync(join(this.certsDir, 'localhost-key.pem')) },
      (request, response) => {
        this.requests.push({ method: request.method, path: request.url, accept: request.headers.accept });
        if (request.url !== '/client.json' || request.method !== 'GET') {
          response.writeHead(404).end();
          return;
        }
        const headers = { 'content-type': 'application/json' };
        if (this.cacheControl) headers['cache-control'] = this.cacheControl;
        response.writeHead(200, headers).end(JSON.stringify(this.document(this.url)));
      },
    );
    await new Promise((done, fail) => {
      this.server.once('error', fail);
      this.server.listen(0, '127.0.0.1', done);
    });
    this.url = `https://localhost:${this.server.address().port}/client.json`;
    return this;
  }

  /** The GETs of the document so far. */
  get fetches() {
    return this.requests.filter((request) => request.method === 'GET' && request.path === '/client.json').length;
  }

  async stop() {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((done) => this.server.close(done));
  }
}

/** A public client named `clientName` with the providers' loopback redirect URI and refresh tokens. */
export function clientDocument(url, clientName) {
  return {
    client_id: url,
    client_name: clientName,
    redirect_uris: [REDIRECT_URL],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
}

/**
 * `Provider` (a suite's HeadlessProvider) with a `clientMetadataUrl`. Its browser shows what a
 * real one would: an authorization request the AS answers with a page instead of a redirect (an
 * unusable document is an error page, never a redirect) is kept in `pages`, not thrown, since
 * the SDK never learns what the browser shows; the user is simply left without a callback.
 */
export const withClientMetadataUrl = (Provider) => class DocumentProvider extends Provider {
  constructor({ clientMetadataUrl, ...rest } = {}) {
    super(rest);
    this.metadataUrl = clientMetadataUrl;
    /** Every authorization request answered without a redirect: `{ url, status, body, text }`. */
    this.pages = [];
  }

  get clientMetadataUrl() {
    return this.metadataUrl;
  }

  async redirectToAuthorization(authorizationUrl) {
    try {
      await super.redirectToAuthorization(authorizationUrl);
    } catch (error) {
      if (!error.page) throw error;
      const { status, body } = error.page;
      this.pages.push({ url: new URL(authorizationUrl), status, body, text: pageText(body) });
    }
  }
};

/** What a browser would show of an HTML page: its text, entities decoded. */
export function pageText(html) {
  const entities = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return html
    .replace(/<title>.*?<\/title>/s, '')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name) => {
      if (name[0] !== '#') return entities[name.toLowerCase()] ?? whole;
      return String.fromCodePoint(name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10));
    })
    .replace(/\s+/g, ' ')
    .trim();
}

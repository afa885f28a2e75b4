// A client ID metadata document for the v2 SDK's tests: a loopback HTTPS host serving the
// client's document (the rig's certificate, so the rig's document fetch can verify it), and a
// headless provider that names that document as its `clientMetadataUrl`. The host is the same
// as ../typescript/documents.mjs's; that module cannot be imported here, since it loads the v1
// SDK through v1's provider.

import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HeadlessProvider, REDIRECT_URL } from './provider.mjs';

/**
 * `https://localhost:PORT/client.json` on 127.0.0.1, served with `certsDir`'s localhost.pem
 * and localhost-key.pem (from `mcp-oauth-sim certs`). Every request it gets is kept in
 * `requests`.
 */
export class DocumentHost {
  constructor({ certsDir } = {}) {
    this.certsDir = certsDir;
    /** Every request the host answered: `{ method, path }`. */
    this.requests = [];
  }

  async start() {
    this.server = createServer(
      { cert: readFileSync(join(this.certsDir, 'localhost.pem')), key: readFileSync(join(this.certsDir, 'localhost-key.pem')) },
      (request, response) => {
        this.requests.push({ method: request.method, path: request.url });
        if (request.url !== '/client.json' || request.method !== 'GET') {
          response.writeHead(404).end();
          return;
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(defaultDocument(this.url)));
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

/** A public client with the provider's loopback redirect URI, refresh tokens included. */
export function defaultDocument(url) {
  return {
    client_id: url,
    client_name: 'mcp-oauth-sim TypeScript SDK v2 CIMD test',
    redirect_uris: [REDIRECT_URL],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
}

/** HeadlessProvider with a `clientMetadataUrl`: v2 sends it as client_id when the AS offers documents. */
export class DocumentProvider extends HeadlessProvider {
  constructor({ clientMetadataUrl, ...rest } = {}) {
    super(rest);
    this.metadataUrl = clientMetadataUrl;
  }

  get clientMetadataUrl() {
    return this.metadataUrl;
  }
}

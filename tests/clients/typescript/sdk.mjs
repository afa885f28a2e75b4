// The v1 SDK as the shared drivers (../conformance-driver.mjs, ../cimd-driver.mjs,
// ../scenario-harness.mjs) take it: who it is in the result files, where they go, and this
// suite's provider, client and way of finishing an authorization.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { HeadlessProvider, connectWithAuth, finishAuthorization, newClient } from './provider.mjs';
import { REPO } from '../rig.mjs';

export const SDK = {
  client: '@modelcontextprotocol/sdk (TypeScript)',
  version: JSON.parse(
    readFileSync(new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url), 'utf8'),
  ).version,
  /** $CLIENT_MATRIX_DIR/typescript, read by ../matrix.mjs. */
  resultsDir: join(process.env.CLIENT_MATRIX_DIR || join(REPO, 'target/client-matrix'), 'typescript'),
  /** The `client_name` of the client ID metadata document the tests host. */
  documentClientName: 'mcp-oauth-sim TypeScript SDK CIMD test',
  HeadlessProvider,
  newClient,
  connectWithAuth,
  UnauthorizedError,
  finishAuthorization,
};

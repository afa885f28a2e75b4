// Who the v2 SDK is in the result files, where they go, and how an application hands it a
// finished authorization: the parts of the shared drivers (../*-driver.mjs) that name the SDK.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../rig.mjs';

export const CLIENT = '@modelcontextprotocol/client (TypeScript v2)';
export const SDK_VERSION = JSON.parse(
  readFileSync(new URL('./node_modules/@modelcontextprotocol/client/package.json', import.meta.url), 'utf8'),
).version;
/** $CLIENT_MATRIX_DIR/typescript-v2, read by ../matrix.mjs. */
export const RESULTS_DIR = join(process.env.CLIENT_MATRIX_DIR || join(REPO, 'target/client-matrix'), 'typescript-v2');

/**
 * v2's finishAuth takes the whole callback query and judges `iss` (RFC 9207) and an error in the
 * redirect itself; the provider's takeCallback checks only the state, which v2 leaves to the
 * redirect handler.
 */
export const finishAuthorization = (transport, provider) => transport.finishAuth(provider.takeCallback());

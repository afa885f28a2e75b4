// Who the v1 SDK is in the result files, where they go, and how an application hands it a
// finished authorization: the parts of the shared drivers (../*-driver.mjs) that name the SDK.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from '../rig.mjs';

export const CLIENT = '@modelcontextprotocol/sdk (TypeScript)';
export const SDK_VERSION = JSON.parse(
  readFileSync(new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url), 'utf8'),
).version;
/** $CLIENT_MATRIX_DIR/typescript, read by ../matrix.mjs. */
export const RESULTS_DIR = join(process.env.CLIENT_MATRIX_DIR || join(REPO, 'target/client-matrix'), 'typescript');

/**
 * v1's finishAuth takes only the code: the redirect handler (the provider's takeCode) checks the
 * state and the error, and whatever the SDK does with `iss` it does without seeing the callback.
 */
export const finishAuthorization = (transport, provider) => transport.finishAuth(provider.takeCode());

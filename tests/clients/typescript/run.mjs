// Runs this suite's tests of the v1 TypeScript SDK (`@modelcontextprotocol/sdk`) against the
// rig (../typescript-passes.mjs): scenarios.test.mjs, cimd.test.mjs and
// client-credentials.test.mjs once per scheme, each in its own Node process, then
// conformance.test.mjs and tunnel.test.mjs over HTTP.
//
//   node run.mjs            both schemes
//   node run.mjs http       one of them
//
// Env: MCP_OAUTH_SIM_BIN (default <repo>/target/debug/mcp-oauth-sim), CLIENT_MATRIX_DIR.

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTypeScriptSuite } from '../typescript-passes.mjs';

await runTypeScriptSuite({ name: 'TypeScript SDK', dir: dirname(fileURLToPath(import.meta.url)) });

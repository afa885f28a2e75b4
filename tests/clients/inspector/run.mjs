// Runs inspector.test.mjs (the MCP Inspector's CLI against the rig) once per scheme, each in its
// own Node process (../passes.mjs): NODE_EXTRA_CA_CERTS is read at start-up, so the HTTPS pass
// needs processes (this runner's child, and the Inspector and browser it starts) with the rig's
// CA in it. Certificate verification stays on.
//
//   node run.mjs            both schemes
//   node run.mjs http       one of them
//
// Needs `npm ci --ignore-scripts && npm rebuild node` in this directory first (the Inspector
// and the Node 22 it runs on). Env: MCP_OAUTH_SIM_BIN (default
// <repo>/target/debug/mcp-oauth-sim), CLIENT_MATRIX_DIR.

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finish, prepare, runFile, withScheme } from '../passes.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PASS_TIMEOUT_MS = 300_000;
const schemes = prepare({
  installed: {
    dir: HERE,
    paths: ['node_modules/node/bin/node', 'node_modules/@modelcontextprotocol/inspector/package.json'],
    hint: `run \`npm ci --no-audit --no-fund --ignore-scripts && npm rebuild node\` in ${HERE}`,
  },
});

const failed = [];
for (const scheme of schemes) {
  console.log(`== MCP Inspector CLI over ${scheme}`);
  const status = await withScheme(scheme, (env) =>
    runFile({ label: `MCP Inspector CLI over ${scheme}`, cwd: HERE, file: 'inspector.test.mjs', env, timeoutMs: PASS_TIMEOUT_MS }),
  );
  if (status !== 0) failed.push(scheme);
}
finish('MCP Inspector CLI', failed);

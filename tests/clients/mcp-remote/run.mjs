// Runs mcp-remote.test.mjs against the rig once per scheme, each in its own Node process
// (../passes.mjs): NODE_EXTRA_CA_CERTS is read at start-up, and the proxies (and the browser
// they start) inherit it from the test process, so the HTTPS pass needs a process started with
// the rig's CA in it. Certificate verification stays on.
//
//   node tests/clients/mcp-remote/run.mjs            both schemes
//   node tests/clients/mcp-remote/run.mjs http       one of them
//
// Env: MCP_OAUTH_SIM_BIN (default <repo>/target/debug/mcp-oauth-sim), CLIENT_MATRIX_DIR.
// Exits 1 if any pass fails (or runs over its bound, after which it is killed).

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finish, prepare, runFile, withScheme } from '../passes.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PASS_TIMEOUT_MS = 240_000;
const schemes = prepare({
  installed: {
    dir: HERE,
    paths: ['node_modules/mcp-remote/package.json'],
    hint: `mcp-remote is not installed: cd ${HERE} && npm ci --no-audit --no-fund --ignore-scripts`,
  },
});

const failed = [];
for (const scheme of schemes) {
  console.log(`== mcp-remote over ${scheme}`);
  const status = await withScheme(scheme, (env) =>
    runFile({ label: `mcp-remote over ${scheme}`, cwd: HERE, file: 'mcp-remote.test.mjs', env, timeoutMs: PASS_TIMEOUT_MS }),
  );
  if (status !== 0) failed.push(scheme);
}
finish('mcp-remote', failed);

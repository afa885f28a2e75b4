// Runs scenarios.test.mjs, cimd.test.mjs (client ID metadata documents) and
// client-credentials.test.mjs (clients without a user) against the rig once per scheme, each in
// its own Node process (../passes.mjs), then conformance.test.mjs (the conformance suite's
// situations) over HTTP:
// NODE_EXTRA_CA_CERTS is read at start-up, so the HTTPS pass needs a process started with the
// rig's CA in it. Certificate verification stays on.
//
//   node run.mjs            both schemes
//   node run.mjs http       one of them
//
// Env: MCP_OAUTH_SIM_BIN (default <repo>/target/debug/mcp-oauth-sim), CLIENT_MATRIX_DIR.

import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { environment, finish, prepare, runFile, withScheme } from '../passes.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PASS_TIMEOUT_MS = 180_000;
const NAME = 'TypeScript SDK';
const schemes = prepare();
const run = (label, env, file) => runFile({ label, cwd: HERE, file, env, timeoutMs: PASS_TIMEOUT_MS });

const failed = [];
for (const scheme of schemes) {
  await withScheme(scheme, async (env) => {
    console.log(`== ${NAME} over ${scheme}`);
    if ((await run(`${NAME} scenarios (${scheme})`, env, 'scenarios.test.mjs')) !== 0) failed.push(scheme);
    // The document is served over HTTPS in both passes (the SDK takes no other): over HTTP the
    // test makes certificates of its own for it.
    console.log(`== ${NAME} with a client ID metadata document (${scheme})`);
    if ((await run(`${NAME} CIMD (${scheme})`, env, 'cimd.test.mjs')) !== 0) failed.push(`${scheme} (CIMD)`);
    console.log(`== ${NAME} as a client without a user (${scheme})`);
    if ((await run(`${NAME} client credentials (${scheme})`, env, 'client-credentials.test.mjs')) !== 0) {
      failed.push(`${scheme} (client credentials)`);
    }
  });
}
// The conformance situations run over HTTP only: they are about what the client does, which the
// scheme does not change, and the HTTPS pass already proves every client verifies the rig's CA.
if (schemes.includes('http')) {
  console.log(`== ${NAME} in the conformance situations (http)`);
  if ((await run(`${NAME} conformance (http)`, environment('http'), 'conformance.test.mjs')) !== 0) failed.push('http (conformance)');
}
finish(NAME, failed);

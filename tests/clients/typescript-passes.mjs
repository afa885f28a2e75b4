// What both TypeScript suites' run.mjs do (typescript/ and typescript-v2/): run
// scenarios.test.mjs, cimd.test.mjs (client ID metadata documents) and
// client-credentials.test.mjs (clients without a user) against the rig once per scheme, each in
// its own Node process (passes.mjs), then conformance.test.mjs (the conformance suite's
// situations) and tunnel.test.mjs (the rig re-pointed live and restarted with its state file,
// ./tunnel-scenario.mjs) over HTTP. NODE_EXTRA_CA_CERTS is read at start-up, so the HTTPS pass
// needs a process started with the rig's CA in it. Certificate verification stays on.

import { environment, finish, prepare, runFile, withScheme } from './passes.mjs';

const PASS_TIMEOUT_MS = 180_000;

/** Runs the suite in `dir` (its test files' directory), naming it `name` in what it prints. */
export async function runTypeScriptSuite({ name, dir }) {
  const schemes = prepare();
  const run = (label, env, file) => runFile({ label, cwd: dir, file, env, timeoutMs: PASS_TIMEOUT_MS });

  const failed = [];
  for (const scheme of schemes) {
    await withScheme(scheme, async (env) => {
      console.log(`== ${name} over ${scheme}`);
      if ((await run(`${name} scenarios (${scheme})`, env, 'scenarios.test.mjs')) !== 0) failed.push(scheme);
      // The document is served over HTTPS in both passes (the SDK takes no other): over HTTP the
      // test makes certificates of its own for it.
      console.log(`== ${name} with a client ID metadata document (${scheme})`);
      if ((await run(`${name} CIMD (${scheme})`, env, 'cimd.test.mjs')) !== 0) failed.push(`${scheme} (CIMD)`);
      console.log(`== ${name} as a client without a user (${scheme})`);
      if ((await run(`${name} client credentials (${scheme})`, env, 'client-credentials.test.mjs')) !== 0) {
        failed.push(`${scheme} (client credentials)`);
      }
    });
  }
  // The conformance situations run over HTTP only: they are about what the client does, which
  // the scheme does not change, and the HTTPS pass already proves every client verifies the
  // rig's CA.
  if (schemes.includes('http')) {
    console.log(`== ${name} in the conformance situations (http)`);
    if ((await run(`${name} conformance (http)`, environment('http'), 'conformance.test.mjs')) !== 0) failed.push('http (conformance)');
    // HTTP only too: the forwarder standing in for a tunnel passes bytes, it terminates no TLS.
    console.log(`== ${name} while the rig moves and restarts (http)`);
    if ((await run(`${name} tunnel (http)`, environment('http'), 'tunnel.test.mjs')) !== 0) failed.push('http (tunnel)');
  }
  finish(name, failed);
}

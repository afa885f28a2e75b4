// Runs scenarios.test.mjs and cimd.test.mjs (client ID metadata documents) against the rig once
// per scheme, each in its own Node process, then conformance.test.mjs (the conformance suite's
// situations) over HTTP, for the v2 SDK, as ../typescript/run.mjs does for v1.
// NODE_EXTRA_CA_CERTS is read at start-up, so the HTTPS pass needs a process started with the
// rig's CA (made here with `mcp-oauth-sim certs`) in it. Certificate verification stays on.
//
//   node run.mjs            both schemes
//   node run.mjs http       one of them
//
// Env: MCP_OAUTH_SIM_BIN (default <repo>/target/debug/mcp-oauth-sim), CLIENT_MATRIX_DIR.

import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BINARY, makeCerts } from '../rig.mjs';

const PASS_TIMEOUT_MS = 180_000;
const HERE = dirname(fileURLToPath(import.meta.url));
const schemes = process.argv.length > 2 ? process.argv.slice(2) : ['http', 'https'];
for (const scheme of schemes) {
  if (scheme !== 'http' && scheme !== 'https') {
    console.error(`usage: node run.mjs [http] [https] (not '${scheme}')`);
    process.exit(2);
  }
}
if (!existsSync(BINARY)) {
  console.error(`error: ${BINARY} does not exist: cargo build -p mcp-oauth-sim (or set MCP_OAUTH_SIM_BIN)`);
  process.exit(1);
}

let child;
process.on('exit', () => child?.kill('SIGKILL'));
for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => process.exit(status));
}

function pass(label, env, file) {
  return new Promise((done) => {
    const started = Date.now();
    child = spawn(process.execPath, ['--test-reporter=spec', file], { cwd: HERE, env, stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => {
      console.error(`error: the ${label} pass took over ${PASS_TIMEOUT_MS / 1000} s; stopping it`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, PASS_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      console.log(`== ${label}: ${code === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      done(code ?? (signal ? 1 : 0));
    });
  });
}

/** The caller's environment for one scheme, without anything that would weaken verification. */
function environment(scheme) {
  const env = { ...process.env, SIM_SCHEME: scheme };
  delete env.NODE_TLS_REJECT_UNAUTHORIZED;
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.SIM_CERTS_DIR;
  return env;
}

const failed = [];
for (const scheme of schemes) {
  const env = environment(scheme);
  let certsDir;
  if (scheme === 'https') {
    certsDir = makeCerts();
    env.SIM_CERTS_DIR = certsDir;
    env.NODE_EXTRA_CA_CERTS = join(certsDir, 'ca.pem');
  }
  console.log(`== TypeScript SDK v2 over ${scheme}`);
  if ((await pass(`TypeScript SDK v2 scenarios (${scheme})`, env, 'scenarios.test.mjs')) !== 0) failed.push(scheme);
  // The document is served over HTTPS in both passes (the SDK takes no other): over HTTP the
  // test makes certificates of its own for it.
  console.log(`== TypeScript SDK v2 with a client ID metadata document (${scheme})`);
  if ((await pass(`TypeScript SDK v2 CIMD (${scheme})`, env, 'cimd.test.mjs')) !== 0) failed.push(`${scheme} (CIMD)`);
  if (certsDir) rmSync(certsDir, { recursive: true, force: true });
}
// The conformance situations run over HTTP only, as v1's: they are about what the client does,
// which the scheme does not change, and the HTTPS pass already proves the client verifies the
// rig's CA.
if (schemes.includes('http')) {
  console.log('== TypeScript SDK v2 in the conformance situations (http)');
  if ((await pass('TypeScript SDK v2 conformance (http)', environment('http'), 'conformance.test.mjs')) !== 0) {
    failed.push('http (conformance)');
  }
}
if (failed.length > 0) {
  console.error(`error: the TypeScript SDK v2 scenarios failed over ${failed.join(' and ')}`);
  process.exit(1);
}

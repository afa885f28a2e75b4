// Runs mcp-remote.test.mjs against the rig once per scheme, each in its own Node process:
// NODE_EXTRA_CA_CERTS is read at start-up, and the proxies (and the browser they start) inherit
// it from the test process, so the HTTPS pass needs a process started with the rig's CA (made
// here with `mcp-oauth-sim certs`) in it. Certificate verification stays on.
//
//   node tests/clients/mcp-remote/run.mjs            both schemes
//   node tests/clients/mcp-remote/run.mjs http       one of them
//
// Env: MCP_OAUTH_SIM_BIN (default <repo>/target/debug/mcp-oauth-sim), CLIENT_MATRIX_DIR.
// Exits 1 if any pass fails (or runs over its bound, after which it is killed).

import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BINARY, makeCerts } from '../rig.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PASS_TIMEOUT_MS = 240_000;
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
if (!existsSync(join(HERE, 'node_modules/mcp-remote/package.json'))) {
  console.error(`error: mcp-remote is not installed: cd ${HERE} && npm ci --no-audit --no-fund --ignore-scripts`);
  process.exit(1);
}

let child;
process.on('exit', () => child?.kill('SIGKILL'));
for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => process.exit(status));
}

function pass(scheme, env) {
  return new Promise((done) => {
    child = spawn(process.execPath, ['--test-reporter=spec', 'mcp-remote.test.mjs'], {
      cwd: HERE,
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const timer = setTimeout(() => {
      console.error(`error: the ${scheme} pass took over ${PASS_TIMEOUT_MS / 1000} s; stopping it`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, PASS_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      done(code ?? (signal ? 1 : 0));
    });
  });
}

const failed = [];
for (const scheme of schemes) {
  const env = { ...process.env, SIM_SCHEME: scheme };
  delete env.NODE_TLS_REJECT_UNAUTHORIZED;
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.SIM_CERTS_DIR;
  let certsDir;
  if (scheme === 'https') {
    certsDir = makeCerts();
    env.SIM_CERTS_DIR = certsDir;
    env.NODE_EXTRA_CA_CERTS = join(certsDir, 'ca.pem');
  }
  console.log(`== mcp-remote over ${scheme}`);
  const started = Date.now();
  const status = await pass(scheme, env);
  console.log(`== mcp-remote over ${scheme}: ${status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (status !== 0) failed.push(scheme);
  if (certsDir) rmSync(certsDir, { recursive: true, force: true });
}
if (failed.length > 0) {
  console.error(`error: the mcp-remote scenarios failed over ${failed.join(' and ')}`);
  process.exit(1);
}

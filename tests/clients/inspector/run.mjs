// Runs inspector.test.mjs (the MCP Inspector's CLI against the rig) once per scheme, each in its
// own Node process: NODE_EXTRA_CA_CERTS is read at start-up, so the HTTPS pass needs processes
// (this runner's child, and the Inspector and browser it starts) with the rig's CA (made here
// with `mcp-oauth-sim certs`) in it. Certificate verification stays on.
//
//   node run.mjs            both schemes
//   node run.mjs http       one of them
//
// Needs `npm ci --ignore-scripts && npm rebuild node` in this directory first (the Inspector
// and the Node 22 it runs on). Env: MCP_OAUTH_SIM_BIN (default
// <repo>/target/debug/mcp-oauth-sim), CLIENT_MATRIX_DIR.

import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BINARY, makeCerts } from '../rig.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PASS_TIMEOUT_MS = 300_000;
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
for (const needed of ['node_modules/node/bin/node', 'node_modules/@modelcontextprotocol/inspector/package.json']) {
  if (!existsSync(join(HERE, needed))) {
    console.error(`error: no ${needed}: run \`npm ci --no-audit --no-fund --ignore-scripts && npm rebuild node\` in ${HERE}`);
    process.exit(1);
  }
}

let child;
process.on('exit', () => child?.kill('SIGKILL'));
for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => process.exit(status));
}

function pass(scheme, env) {
  return new Promise((done) => {
    child = spawn(process.execPath, ['--test-reporter=spec', 'inspector.test.mjs'], {
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
  let certsDir;
  if (scheme === 'https') {
    certsDir = makeCerts();
    env.SIM_CERTS_DIR = certsDir;
    env.NODE_EXTRA_CA_CERTS = join(certsDir, 'ca.pem');
  }
  console.log(`== MCP Inspector CLI over ${scheme}`);
  const started = Date.now();
  if ((await pass(scheme, env)) !== 0) failed.push(scheme);
  console.log(`== ${scheme} pass took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (certsDir) rmSync(certsDir, { recursive: true, force: true });
}
if (failed.length > 0) {
  console.error(`error: the MCP Inspector CLI scenarios failed over ${failed.join(' and ')}`);
  process.exit(1);
}

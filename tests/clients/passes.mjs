// What every suite's run.mjs does around its test files: read the schemes from argv, check the
// binary (and the suite's packages) are there, and run each test file in a Node process of its
// own, bounded in time, with an environment per scheme. A process of its own because
// NODE_EXTRA_CA_CERTS is read at start-up: the HTTPS pass needs a process (and whatever client
// processes it starts, which inherit it) started with the rig's CA (made with
// `mcp-oauth-sim certs`) in it. Certificate verification stays on in every pass.
//
// Node builtins only: the suites run this on the system Node.

import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BINARY, makeCerts } from './rig.mjs';

let child;
// A runner stopped (or timed out by scripts/test-clients.sh) takes its test process with it.
process.on('exit', () => child?.kill('SIGKILL'));
for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => process.exit(status));
}

/**
 * The schemes named on the command line (default both), after checking they are schemes and
 * that the binary exists; exits 2 or 1 otherwise. `installed` is `{ dir, paths, hint }`: files
 * under `dir` the suite cannot run without, and the command that installs them.
 */
export function prepare({ installed } = {}) {
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
  for (const needed of installed?.paths ?? []) {
    if (!existsSync(join(installed.dir, needed))) {
      console.error(`error: no ${needed}: ${installed.hint}`);
      process.exit(1);
    }
  }
  return schemes;
}

/** The caller's environment for one scheme, without anything that would weaken verification. */
export function environment(scheme) {
  const env = { ...process.env, SIM_SCHEME: scheme };
  delete env.NODE_TLS_REJECT_UNAUTHORIZED;
  delete env.NODE_EXTRA_CA_CERTS;
  delete env.SIM_CERTS_DIR;
  return env;
}

/**
 * Calls `body(env)` with the environment for `scheme`: for HTTPS, with a fresh CA and
 * certificates (SIM_CERTS_DIR, and the CA in NODE_EXTRA_CA_CERTS), removed afterwards.
 */
export async function withScheme(scheme, body) {
  const env = environment(scheme);
  let certsDir;
  if (scheme === 'https') {
    certsDir = makeCerts();
    env.SIM_CERTS_DIR = certsDir;
    env.NODE_EXTRA_CA_CERTS = join(certsDir, 'ca.pem');
  }
  try {
    return await body(env);
  } finally {
    if (certsDir) rmSync(certsDir, { recursive: true, force: true });
  }
}

/**
 * Runs `node --test-reporter=spec <file>` in `cwd` with `env`, stopped (SIGTERM, then SIGKILL)
 * after `timeoutMs` so a hung client fails the pass instead of stalling it; prints
 * `== <label>: passed|FAILED in N s` and resolves to the exit status (1 if killed).
 */
export function runFile({ label, cwd, file, env, timeoutMs }) {
  return new Promise((done) => {
    const started = Date.now();
    child = spawn(process.execPath, ['--test-reporter=spec', file], { cwd, env, stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => {
      console.error(`error: the ${label} pass took over ${timeoutMs / 1000} s; stopping it`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const status = code ?? (signal ? 1 : 0);
      console.log(`== ${label}: ${status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      done(status);
    });
  });
}

/** Exits 1, naming what failed, if anything did. */
export function finish(what, failed) {
  if (failed.length > 0) {
    console.error(`error: the ${what} scenarios failed over ${failed.join(' and ')}`);
    process.exit(1);
  }
}

#!/usr/bin/env node
// The BROWSER mcp-remote is given: the shared stand-in browser (../stand-in-browser.mjs), started
// the way a real browser is. A real launcher hands the URL to the browser and returns at once,
// and the user answers the consent page a moment later; the stand-in, run directly, does the
// whole round trip (authorization URL, then the loopback callback) before its launcher exits.
// Against mcp-remote 0.15.1 that difference decides the outcome, by timing:
//
// - `openBrowser` waits for the launcher to exit or for 500 ms, whichever comes first, and only
//   then does mcp-remote start waiting for the callback. A denial (`error=access_denied`) that
//   reaches the callback before that wait begins is dropped (codes are queued, failures are
//   not), and the proxy waits for a code forever; after 500 ms the same denial ends the proxy.
// - A re-authorization in the middle of a session opens the browser *before* mcp-remote starts
//   its callback listener: an instant round trip finds the port closed, mcp-remote then tries
//   its fallback openers (sensible-browser runs BROWSER again, just as early) and waits for a
//   code that never comes.
//
// Both depend on whether the stand-in finishes within 500 ms on a loaded machine, so the suite
// would test the machine's speed. Here the launcher returns at once and the stand-in runs in
// the background once the callback port (the `redirect_uri` of the authorization URL) accepts
// connections, and not before PAUSE_MS: a user who takes a moment, which is the case mcp-remote
// is built for. The stand-in itself is unchanged; its log (STAND_IN_BROWSER_LOG) records every
// visit as before.

import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const STAND_IN = join(dirname(fileURLToPath(import.meta.url)), '../stand-in-browser.mjs');
const PAUSE_MS = 300;
const LISTEN_TIMEOUT_MS = 10_000;
const url = process.argv.at(-1);

if (process.env.MCP_REMOTE_BROWSER_BACKGROUND !== '1') {
  // The launcher: start the "user" in the background and return, as xdg-open's browsers do.
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), url], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, MCP_REMOTE_BROWSER_BACKGROUND: '1' },
  });
  child.unref();
  process.exit(0);
}

/** Resolves once something accepts a TCP connection on host:port, or after the bound. */
async function listening(host, port) {
  const deadline = Date.now() + LISTEN_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const open = await new Promise((done) => {
      const socket = connect({ host, port });
      socket.once('connect', () => (socket.destroy(), done(true)));
      socket.once('error', () => done(false));
    });
    if (open) return;
    await sleep(50);
  }
}

await sleep(PAUSE_MS);
try {
  const callback = new URL(new URL(url).searchParams.get('redirect_uri'));
  // mcp-remote listens on 127.0.0.1 whatever host its redirect URI names.
  await listening('127.0.0.1', Number(callback.port));
} catch {
  // No usable redirect_uri: the stand-in will report what it finds.
}
const standIn = spawn(process.execPath, [STAND_IN, url], { stdio: 'ignore' });
standIn.once('exit', (code) => process.exit(code ?? 1));

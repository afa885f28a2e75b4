#!/usr/bin/env node
// A browser for clients that open one to authorize (the MCP Inspector, mcp-remote): pointed at
// by BROWSER, it is started with the authorization URL as its last argument. It plays the user
// against a rig that decides consent by itself:
//
//   1. GET the authorization URL without following the redirect (hops that stay on the
//      authorization server's origin are followed, at most MAX_HOPS);
//   2. the first redirect that leaves that origin must go to a loopback address (the client's
//      callback, RFC 8252 §7.3): GET it, once, and stop there.
//
// A redirect elsewhere, a non-redirect answer or a timeout is reported and exits 1 without
// calling anything. Certificates are verified (NODE_EXTRA_CA_CERTS names the rig's CA over
// HTTPS).
//
// Env: STAND_IN_BROWSER_LOG  a file to which every visit is appended as one JSON line:
//        { url, status, location, callback, callback_status, error }
//      (the tests read it to see what the client asked for and what it was sent back).
//
// No dependencies: any Node 18+.

import { appendFileSync } from 'node:fs';

const MAX_HOPS = 5;
const TIMEOUT_MS = 10_000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

const visit = { url: process.argv.at(-1) };

function report(extra) {
  Object.assign(visit, extra);
  if (process.env.STAND_IN_BROWSER_LOG) appendFileSync(process.env.STAND_IN_BROWSER_LOG, `${JSON.stringify(visit)}\n`);
  if (visit.error) console.error(`stand-in-browser: ${visit.error}`);
}

async function main() {
  let url;
  try {
    url = new URL(visit.url);
  } catch {
    return report({ error: `not a URL: ${JSON.stringify(visit.url)}` });
  }
  const origin = url.origin;
  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    const location = response.headers.get('location');
    await response.body?.cancel();
    if (response.status < 300 || response.status > 399 || !location) {
      return report({ status: response.status, error: `GET ${url} answered ${response.status} without a redirect` });
    }
    const next = new URL(location, url);
    if (next.origin === origin) {
      url = next;
      continue;
    }
    if (!LOOPBACK.has(next.hostname)) {
      return report({ status: response.status, location: next.href, error: `redirected to ${next.origin}, not to a loopback callback` });
    }
    const callback = await fetch(next, { redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    await callback.text();
    return report({ status: response.status, location: next.href, callback: next.href, callback_status: callback.status });
  }
  return report({ error: `more than ${MAX_HOPS} redirects on ${origin}` });
}

try {
  await main();
} catch (error) {
  report({ error: `${error.name}: ${error.message}${error.cause ? ` (${error.cause.message ?? error.cause})` : ''}` });
}
process.exitCode = visit.error ? 1 : 0;

// mcp-remote (the stdio ↔ remote MCP proxy desktop clients start for a remote server) against the
// real rig, one scenario of docs/clients.md per test, each on a rig of its own. The proxy
// is driven as a desktop client drives it: spawned as `mcp-remote <url> <port> --transport
// http-only`, spoken to in newline-delimited JSON-RPC on stdin/stdout, with a browser it finds
// through BROWSER (see proxy.mjs and browser.mjs for how it is made to run headless). Run by
// run.mjs once per scheme: SIM_SCHEME=http|https, and for HTTPS SIM_CERTS_DIR (from
// `mcp-oauth-sim certs`) with NODE_EXTRA_CA_CERTS=$SIM_CERTS_DIR/ca.pem, inherited by the proxy
// and the browser, so both verify the rig's certificate against that CA.
//
// Each passing scenario writes $CLIENT_MATRIX_DIR/mcp-remote/<scheme>-<n>.json (default
// <repo>/target/client-matrix), which tests/clients/matrix.mjs turns into the README's table.
// Every test asserts what mcp-remote really does; where that differs from the generic
// expectation of README "Scenarios", a comment says so.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Proxy, VERSION, freePort } from './proxy.mjs';
import { REPO, startRig } from '../rig.mjs';
import { FRESH, ZERO, delta } from '../scenario-harness.mjs';

const SCHEME = process.env.SIM_SCHEME || 'http';
const CERTS_DIR = process.env.SIM_CERTS_DIR;
const SCENARIO_TIMEOUT_MS = 60_000;
const CLIENT = 'mcp-remote';
const MATRIX_DIR = join(process.env.CLIENT_MATRIX_DIR || join(REPO, 'target/client-matrix'), 'mcp-remote');
const EXIT_TIMEOUT_MS = 15_000;

assert.ok(SCHEME === 'http' || SCHEME === 'https', `SIM_SCHEME must be http or https, not ${SCHEME}`);
if (SCHEME === 'https') {
  assert.ok(CERTS_DIR, 'SIM_SCHEME=https needs SIM_CERTS_DIR (run through run.mjs)');
  assert.equal(process.env.NODE_EXTRA_CA_CERTS, join(CERTS_DIR, 'ca.pem'), 'NODE_EXTRA_CA_CERTS must name the rig CA');
  assert.notEqual(process.env.NODE_TLS_REJECT_UNAUTHORIZED, '0', 'certificate verification must stay on');
}

/**
 * What one scenario's proxies share, as one desktop client's would: a config directory
 * (MCP_REMOTE_CONFIG_DIR), a callback port (a second run on another port would drop the stored
 * registration: mcp-remote deletes a client_info.json whose redirect URI differs) and the
 * browser's log.
 */
class Desktop {
  constructor(rig) {
    this.rig = rig;
    this.dir = mkdtempSync(join(tmpdir(), 'mcp-remote-test-'));
    this.configDir = join(this.dir, 'config');
    this.browserLog = join(this.dir, 'browser.log');
    this.proxies = [];
    /** `initialize`s the MCP server must have answered: two per proxy start (see FIRST_START_MCP). */
    this.handshakes = 0;
  }

  /** Starts one `mcp-remote` on this desktop's config dir and callback port. */
  async start() {
    this.port ??= await freePort();
    const env = SCHEME === 'https' ? { NODE_EXTRA_CA_CERTS: join(CERTS_DIR, 'ca.pem') } : {};
    const proxy = new Proxy({ url: this.rig.mcpUrl, port: this.port, configDir: this.configDir, browserLog: this.browserLog, env });
    this.proxies.push(proxy);
    return proxy;
  }

  /** Starts a proxy and opens the MCP session through it (signing in first if it must). */
  async connect() {
    const proxy = await this.start();
    const answer = await proxy.initialize();
    assert.ok(answer.result, `initialize through mcp-remote failed: ${JSON.stringify(answer)}`);
    assert.equal(answer.result.serverInfo.name, 'mcp-oauth-sim');
    this.handshakes += 2;
    await this.settled();
    return proxy;
  }

  /**
   * Waits until the MCP server has seen, for every `initialize` it answered, the
   * `notifications/initialized` and the GET stream that follow it (both sent in the background,
   * after the answer), so that they do not land among the requests a scenario measures next.
   * The rig's log lines trail its answers, hence the expected count rather than what is there.
   */
  async settled(timeoutMs = 5_000) {
    const count = (pattern) => this.rig.log.filter((entry) => pattern.test(entry)).length;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const handshakes = count(/^\[mcp\] POST \/mcp 200 rpc=initialize /);
      if (handshakes >= this.handshakes
        && count(/^\[mcp\] POST \/mcp 202 rpc=notifications\/initialized /) === handshakes
        && count(/^\[mcp\] GET \/mcp 405 /) === handshakes) return;
      if (Date.now() > deadline) throw new Error(`the handshakes did not settle within ${timeoutMs} ms`);
      await sleep(25);
    }
  }

  get redirectUri() {
    return `http://localhost:${this.port}/oauth/callback`;
  }

  /**
   * The stand-in browser's visits once there are `count` of them (it runs in the background and
   * logs a visit after the callback has answered, so after mcp-remote may have moved on), or
   * fails after a bound; `count` more than there are is an error too.
   */
  async visitsOnce(count, timeoutMs = 5_000) {
    const deadline = Date.now() + timeoutMs;
    while (this.visits().length < count && Date.now() < deadline) await sleep(25);
    const visits = this.visits();
    assert.equal(visits.length, count, `browser visits: ${JSON.stringify(visits)}`);
    return visits;
  }

  /** Every page the stand-in browser visited so far, oldest first. */
  visits() {
    let text = '';
    try {
      text = readFileSync(this.browserLog, 'utf8');
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
    return text.split('\n').filter(Boolean).map((entry) => JSON.parse(entry));
  }

  /** mcp-remote's stored `<hash>_<name>.json` (client_info, tokens), or undefined. */
  stored(name) {
    const dir = join(this.configDir, 'mcp-remote-v1');
    let files = [];
    try {
      files = readdirSync(dir).filter((file) => file.endsWith(`_${name}.json`));
    } catch (error) {
      if (error.code !== 'ENOENT') throw error;
    }
    assert.ok(files.length <= 1, `one ${name} file per server URL, found ${files}`);
    return files.length ? JSON.parse(readFileSync(join(dir, files[0]), 'utf8')) : undefined;
  }

  /** Rewrites the stored tokens (as a test moves time for the client's side of an expiry). */
  restore(name, edit) {
    const dir = join(this.configDir, 'mcp-remote-v1');
    const file = readdirSync(dir).find((entry) => entry.endsWith(`_${name}.json`));
    const path = join(dir, file);
    writeFileSync(path, JSON.stringify(edit(JSON.parse(readFileSync(path, 'utf8'))), null, 2));
  }

  async close() {
    await Promise.allSettled(this.proxies.map((proxy) => proxy.stop()));
    // A background browser may still be writing its log: retry the removal a little.
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }
}

/**
 * One scenario: a fresh rig and desktop, `body(rig, desktop)` (which returns the note for the
 * results file), every proxy stopped and the rig stopped whatever happens.
 */
function scenario(number, name, body) {
  test(`${SCHEME} ${number}. ${name}`, { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
    const resultFile = join(MATRIX_DIR, `${SCHEME}-${number}.json`);
    rmSync(resultFile, { force: true }); // a failing run must not leave an old pass behind
    const rig = await startRig({ scheme: SCHEME, certsDir: CERTS_DIR });
    const desktop = new Desktop(rig);
    const stopAll = () => {
      for (const proxy of desktop.proxies) proxy.child.kill('SIGKILL');
      rig.stop();
    };
    t.signal.addEventListener('abort', stopAll); // timed out: the body may never return
    try {
      assert.ok(rig.mcpUrl.startsWith(`${SCHEME}://localhost:`), rig.mcpUrl);
      const note = await body(rig, desktop);
      mkdirSync(MATRIX_DIR, { recursive: true });
      const result = { client: CLIENT, version: VERSION, scheme: SCHEME, scenario: number, name, passed: true, note };
      writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
    } catch (error) {
      t.diagnostic(`rig output:\n${rig.log.join('\n')}`);
      desktop.proxies.forEach((proxy, index) => t.diagnostic(`mcp-remote #${index + 1} stderr:\n${proxy.stderr.join('\n')}`));
      t.diagnostic(`browser visits:\n${desktop.visits().map((visit) => JSON.stringify(visit)).join('\n')}`);
      throw error;
    } finally {
      t.signal.removeEventListener('abort', stopAll);
      try {
        await desktop.close();
      } finally {
        await rig.stop(); // whatever close did: a rig left running keeps this process alive
      }
    }
  });
}

/** The text of a successful tools/call answer. */
function text(answer) {
  assert.ok(answer.result, `tools/call failed: ${JSON.stringify(answer)}`);
  assert.equal(answer.result.isError, false, `tool error: ${JSON.stringify(answer.result)}`);
  return answer.result.content.map((part) => part.text).join('');
}
const call = (proxy, name, args = {}) => proxy.request('tools/call', { name, arguments: args });
const echo = async (proxy, message) => assert.equal(text(await call(proxy, 'echo', { message })), message);

// The optional GET stream: mcp-remote opens it after each `notifications/initialized`, in the
// background, and the rig refuses it (405). When it lands relative to the POSTs varies from run
// to run, so sequences are compared without it and the count is checked on its own.
const STREAM = 'GET /mcp 405';
const withoutStream = (lines) => lines.filter((entry) => entry !== STREAM);

const AS_METADATA = 'GET /.well-known/oauth-authorization-server 200';
const PRM = 'GET /.well-known/oauth-protected-resource/mcp 200';

// What mcp-remote does at start-up with nothing stored, on the MCP server: a GET to discover
// (the 401's resource_metadata, then the PRM), a second GET to decide whether to sign in before
// connecting (a 401: it does), then its own test connection — a separate MCP client of its own,
// whose `initialize` draws the 401 that starts the SDK's flow (the SDK reads the PRM again) —
// and, after the token, that test client's handshake again.
const FIRST_START_MCP = [
  'GET /mcp 401 no_token', PRM, 'GET /mcp 401 no_token', 'POST /mcp 401 no_token', PRM,
  'POST /mcp 200 initialize', 'POST /mcp 202 notifications/initialized',
];
// …and on the AS: its own discovery's metadata, the SDK's, DCR, /authorize (the browser), /token.
const FIRST_START_OAUTH = [AS_METADATA, AS_METADATA, 'POST /register 201', 'GET /authorize 302', 'POST /token 200 authorization_code'];
// The stdio client's own handshake, forwarded as it is.
const HANDSHAKE = ['POST /mcp 200 initialize', 'POST /mcp 202 notifications/initialized'];


scenario(1, 'first-time consent with PKCE', async (rig, desktop) => {
  const mark = await rig.mark();
  // Nothing but the MCP URL: the proxy signs in at start-up, before it reads its stdin.
  const proxy = await desktop.connect();

  const clientInfo = desktop.stored('client_info');
  const clientId = clientInfo?.client_id;
  assert.ok(clientId, 'mcp-remote stored the client it registered');
  assert.deepEqual(clientInfo.redirect_uris, [desktop.redirectUri]);
  const tokens = desktop.stored('tokens');
  assert.ok(tokens.access_token && tokens.refresh_token, 'access and refresh token stored');

  // The browser was opened once, on /authorize with PKCE S256, state and resource, and sent
  // back to the loopback callback with a code, the same state and iss.
  const visits = await desktop.visitsOnce(1);
  const [{ url, location, callback_status: callbackStatus, error }] = visits;
  assert.equal(error, undefined);
  const authorize = new URL(url);
  assert.equal(`${authorize.origin}${authorize.pathname}`, `${rig.issuer}/authorize`);
  assert.equal(authorize.searchParams.get('response_type'), 'code');
  assert.equal(authorize.searchParams.get('client_id'), clientId);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  assert.match(authorize.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(authorize.searchParams.get('redirect_uri'), desktop.redirectUri);
  assert.equal(authorize.searchParams.get('resource'), rig.mcpUrl);
  assert.equal(authorize.searchParams.get('scope'), 'mcp:tools');
  const back = new URL(location);
  assert.equal(`${back.origin}${back.pathname}`, desktop.redirectUri);
  assert.ok(back.searchParams.get('code'));
  assert.equal(back.searchParams.get('state'), authorize.searchParams.get('state'));
  assert.equal(back.searchParams.get('iss'), rig.issuer);
  assert.equal(callbackStatus, 200, 'mcp-remote accepted the callback');

  const listed = await proxy.request('tools/list');
  assert.deepEqual(listed.result.tools.map((tool) => tool.name).sort(), ['add', 'echo', 'whoami']);
  await echo(proxy, 'hello from mcp-remote');
  assert.equal(text(await call(proxy, 'add', { a: 2, b: 3 })), '5');
  const me = (await call(proxy, 'whoami')).result.structuredContent;
  assert.equal(me.client_id, clientId, 'whoami names the client mcp-remote registered');
  assert.equal(me.subject, 'demo-user');

  assert.deepEqual(await rig.lines('oauth', mark), FIRST_START_OAUTH);
  const mcp = await rig.lines('mcp', mark);
  assert.deepEqual(withoutStream(mcp), [
    ...FIRST_START_MCP, ...HANDSHAKE,
    'POST /mcp 200 tools/list', 'POST /mcp 200 tools/call echo', 'POST /mcp 200 tools/call add', 'POST /mcp 200 tools/call whoami',
  ]);
  assert.equal(mcp.filter((entry) => entry === STREAM).length, 2, 'one GET stream per handshake');
  const oauth = await rig.oauthCounters();
  assert.deepEqual(delta(FRESH, oauth), { ...ZERO, registrations: 1, authorizations: 1, code_grants: 1 });

  assert.deepEqual(await proxy.stop(), { code: 0, signal: null }, 'at the end of stdin mcp-remote exits 0');
  return 'signs in at start-up, before reading stdin: 401 → PRM → AS metadata → DCR → browser to /authorize (PKCE S256, state, resource, scope from the PRM) → token; its own test connection initializes first, then the stdio client\'s handshake is forwarded; tools listed and called';
});

scenario(2, 'refresh on expiry', async (rig, desktop) => {
  await rig.expireAccess(5);
  const proxy = await desktop.connect();
  const tokens = desktop.stored('tokens');
  assert.equal(tokens.expires_in, 5);
  assert.ok(tokens.expires_at - Date.now() <= 5_000, 'expires_at is receipt time + expires_in');

  // mcp-remote reads its stored token before every request and refreshes it once fewer than
  // 60 s are left: a 5 s token is always inside that margin, so every request is preceded by a
  // refresh (one at a time: concurrent requests share one refresh). It never presents a token
  // it believes expired, so the MCP server sees no 401 after sign-in. The AS clock is moved past
  // the lifetime as well, so no token issued earlier would still be accepted.
  await rig.control('oauth', 'clock', { advance_seconds: 10 });
  const mark = await rig.mark();
  const before = await rig.oauthCounters();
  const mcpBefore = await rig.mcpCounters();
  await echo(proxy, 'after expiry');
  await echo(proxy, 'and again');
  assert.deepEqual(await rig.lines('oauth', mark), ['POST /token 200 refresh_token', 'POST /token 200 refresh_token']);
  assert.deepEqual(await rig.lines('mcp', mark), ['POST /mcp 200 tools/call echo', 'POST /mcp 200 tools/call echo']);
  assert.deepEqual(delta(before, await rig.oauthCounters()), { ...ZERO, refresh_grants: 2 });
  assert.equal((await rig.mcpCounters()).unauthorized - mcpBefore.unauthorized, 0);
  assert.notEqual(desktop.stored('tokens').access_token, tokens.access_token);
  assert.equal(desktop.visits().length, 1, 'no new consent');
  return 'proactive: refreshes whenever fewer than 60 s are left, so a 5 s token is refreshed before every request (one refresh per call, no 401); both calls succeed';
});

scenario(3, 'revoked token, recovery', async (rig, desktop) => {
  const proxy = await desktop.connect();
  const oldAccess = desktop.stored('tokens').access_token;

  // In a running session: the stored token is still "fresh" to mcp-remote, so it goes out, draws
  // 401 invalid_token, and the SDK inside refreshes once (after re-reading the PRM and the AS
  // metadata) and retries the same request.
  let mark = await rig.mark();
  let before = await rig.oauthCounters();
  await rig.revoke();
  await echo(proxy, 'after revoke');
  assert.deepEqual(await rig.lines('oauth', mark), [AS_METADATA, 'POST /token 200 refresh_token']);
  assert.deepEqual(await rig.lines('mcp', mark), ['POST /mcp 401 invalid_token', PRM, 'POST /mcp 200 tools/call echo']);
  assert.deepEqual(delta(before, await rig.oauthCounters()), { ...ZERO, refresh_grants: 1 });
  assert.notEqual(desktop.stored('tokens').access_token, oldAccess);
  assert.deepEqual(await proxy.stop(), { code: 0, signal: null });

  // A later run on the same config dir, the stored access token revoked meanwhile: the token is
  // unexpired by its clock, so mcp-remote skips the sign-in probe and connects with it; its test
  // connection's `initialize` draws the 401, one refresh, and the session opens. No consent.
  await rig.revoke();
  mark = await rig.mark();
  before = await rig.oauthCounters();
  const second = await desktop.connect();
  await echo(second, 'second run');
  assert.deepEqual(delta(before, await rig.oauthCounters()), { ...ZERO, refresh_grants: 1 });
  const mcp = withoutStream(await rig.lines('mcp', mark));
  assert.deepEqual(mcp, [
    'GET /mcp 401 no_token', PRM, // discovery, as at every start
    'POST /mcp 401 invalid_token', PRM, 'POST /mcp 200 initialize', 'POST /mcp 202 notifications/initialized',
    ...HANDSHAKE, 'POST /mcp 200 tools/call echo',
  ]);
  assert.equal(desktop.visits().length, 1, 'no new consent in either case');
  return 'in a session: 401 invalid_token → one refresh_token grant → the request is retried and succeeds; a later run holding the revoked token does the same at connect; no re-consent';
});

scenario(4, 'refresh-token rotation', async (rig, desktop) => {
  const proxy = await desktop.connect();
  await rig.rotate(true);
  const seen = [desktop.stored('tokens').refresh_token];
  const before = await rig.oauthCounters();
  for (let round = 1; round <= 3; round += 1) {
    await rig.revoke();
    await echo(proxy, `rotation round ${round}`);
    const current = desktop.stored('tokens').refresh_token;
    assert.ok(!seen.includes(current), `round ${round}: mcp-remote stored the new refresh token`);
    seen.push(current);
  }
  const after = await rig.oauthCounters();
  assert.deepEqual(delta(before, after), { ...ZERO, refresh_grants: 3 });
  assert.equal(after.refreshes - before.refreshes, 3, 'every refresh succeeded: the newest token was always presented');
  assert.equal(desktop.visits().length, 1, 'no new consent');
  return 'stores each rotated refresh token and presents the newest: three forced refreshes out of three succeed, no re-consent';
});

scenario(5, 'dead refresh token', async (rig, desktop) => {
  const proxy = await desktop.connect();
  const clientId = desktop.stored('client_info').client_id;
  await rig.deadRefresh(true);
  const mark = await rig.mark();
  const before = await rig.oauthCounters();
  await rig.revoke();

  // 401 → one refresh → invalid_grant: the SDK drops the tokens and starts a new authorization
  // (the browser opens again), and mcp-remote, which in a session answers an unauthorized send by
  // completing a sign-in itself, waits for the callback, exchanges the code and retries the same
  // request: the stdio client's call succeeds, after one more consent. Same client, no new
  // registration, one refresh attempt, no loop.
  await echo(proxy, 'after a dead refresh token');
  assert.deepEqual(await rig.lines('oauth', mark), [
    AS_METADATA, 'POST /token 400 refresh_token invalid_grant fault',
    AS_METADATA, 'GET /authorize 302', 'POST /token 200 authorization_code',
  ]);
  assert.deepEqual(await rig.lines('mcp', mark), ['POST /mcp 401 invalid_token', PRM, PRM, 'POST /mcp 200 tools/call echo']);
  assert.deepEqual(delta(before, await rig.oauthCounters()), { ...ZERO, authorizations: 1, code_grants: 1, refresh_grants: 1, token_errors: 1, forced_invalid_grants: 1 });
  const visits = await desktop.visitsOnce(2); // the browser opened once more
  assert.equal(new URL(visits[1].url).searchParams.get('client_id'), clientId);
  assert.equal(visits[1].callback_status, 200);
  assert.equal(desktop.stored('client_info').client_id, clientId);
  assert.ok(proxy.log().includes('Re-authorized with the remote server'));
  await echo(proxy, 'and after');
  return 'one refresh, invalid_grant → it opens the browser for a new authorization (same client), waits for the callback and retries: the call succeeds after one more consent, no loop';
});

scenario(6, 'consent denied', async (rig, desktop) => {
  await rig.denyConsent(true);
  const mark = await rig.mark();
  const proxy = await desktop.start();
  const initialize = proxy.initialize().then((answer) => ({ answer }), (error) => ({ error }));

  // mcp-remote signs in before it reads stdin; the denied callback fails that sign-in and the
  // process exits 1 ("Fatal error: … access_denied" on stderr). The stdio client's `initialize`
  // is never answered: it sees the proxy's stdout close, not a JSON-RPC error.
  const exit = await proxy.waitForExit(EXIT_TIMEOUT_MS);
  assert.deepEqual(exit, { code: 1, signal: null });
  const { answer, error } = await initialize;
  assert.equal(answer, undefined, `no answer expected, got ${JSON.stringify(answer)}`);
  assert.match(error.message, /mcp-remote exited \(1\) before answer to initialize/);
  assert.deepEqual(proxy.messages, []);
  assert.ok(proxy.log().some((entry) => /^Authorization failed: access_denied - /.test(entry)), proxy.log().join('\n'));
  assert.ok(proxy.log().some((entry) => /^Fatal error: Error: Authorization failed: access_denied/.test(entry)));

  const visits = await desktop.visitsOnce(1);
  const sent = new URL(visits[0].url);
  const back = new URL(visits[0].location);
  assert.equal(back.searchParams.get('error'), 'access_denied');
  assert.equal(back.searchParams.get('state'), sent.searchParams.get('state'));
  assert.equal(back.searchParams.get('code'), null);
  assert.equal(visits[0].callback_status, 400, 'mcp-remote answers a failed callback 400');

  assert.deepEqual(await rig.lines('oauth', mark), [AS_METADATA, AS_METADATA, 'POST /register 201', 'GET /authorize 302 access_denied fault']);
  const counters = await rig.oauthCounters();
  assert.equal(counters.consent_denials, 1);
  assert.equal(counters.token_requests.authorization_code + counters.token_requests.refresh_token, 0, 'nothing reached /token');
  return 'the denied callback fails its start-up sign-in: it exits 1 with "Authorization failed: access_denied" on stderr, the stdio client\'s initialize is never answered; nothing reaches /token';
});

scenario(7, 'insufficient scope', async (rig, desktop) => {
  const proxy = await desktop.connect();
  await rig.badScope(true);
  for (const attempt of [1, 2]) {
    const mark = await rig.mark();
    const before = await rig.oauthCounters();
    // The SDK answers the 403 with a "step-up" that is only a refresh (it holds a refresh token,
    // and a refresh cannot widen a grant), gets the same 403 and gives up; mcp-remote hands the
    // error to the stdio client. The same on every call: nothing remembered, but bounded — two
    // requests and one refresh per call, no browser.
    const answer = await call(proxy, 'echo', { message: `attempt ${attempt}` });
    assert.equal(answer.result, undefined);
    assert.equal(answer.error.code, -32001);
    assert.match(answer.error.message, /^mcp-remote: Server returned 403 insufficient_scope after step-up re-authorization \(retry limit 1 reached\)$/);
    const denied = 'POST /mcp 403 tools/call echo insufficient_scope fault';
    assert.deepEqual(await rig.lines('mcp', mark), [denied, PRM, denied]);
    assert.deepEqual(await rig.lines('oauth', mark), [AS_METADATA, 'POST /token 200 refresh_token']);
    assert.deepEqual(delta(before, await rig.oauthCounters()), { ...ZERO, refresh_grants: 1 });
  }
  assert.equal(desktop.visits().length, 1, 'no authorization for the scope');
  assert.ok(proxy.running, 'the proxy stays up');
  await rig.badScope(false);
  await echo(proxy, 'scope restored');
  return '403 → one refresh as its "step-up" → the same 403 → JSON-RPC error -32001 "403 insufficient_scope after step-up re-authorization (retry limit 1 reached)"; the same on every call, bounded, no browser';
});

scenario(8, 'stored credentials', async (rig, desktop) => {
  const first = await desktop.connect();
  await echo(first, 'first run');
  assert.deepEqual(await first.stop(), { code: 0, signal: null });
  const clientId = desktop.stored('client_info').client_id;

  // The next run finds a spent access token in its store (expired by its own clock, revoked on
  // the rig) and the refresh token: it refreshes before its first request, so without a 401,
  // a registration or a consent.
  await rig.revoke();
  desktop.restore('tokens', (tokens) => ({ ...tokens, expires_at: Date.now() - 1_000 }));
  const mark = await rig.mark();
  const before = await rig.oauthCounters();
  const second = await desktop.connect();
  await echo(second, 'second run');
  assert.deepEqual(delta(before, await rig.oauthCounters()), { ...ZERO, refresh_grants: 1 });
  assert.deepEqual(await rig.lines('oauth', mark), [AS_METADATA, 'POST /token 200 refresh_token']);
  assert.deepEqual(withoutStream(await rig.lines('mcp', mark)), [
    'GET /mcp 401 no_token', PRM, // discovery, as at every start
    'POST /mcp 200 initialize', 'POST /mcp 202 notifications/initialized', ...HANDSHAKE, 'POST /mcp 200 tools/call echo',
  ]);
  assert.equal(desktop.stored('client_info').client_id, clientId);
  assert.equal(desktop.visits().length, 1, 'no second consent');
  return 'a later run on the same config dir and callback port reuses the client and, its stored access token spent, refreshes before the first request: no 401, no registration, no consent';
});

const REFRESH_DOWN = { endpoint: 'token', match: { grant_type: 'refresh_token' } };

scenario(9, 'AS down during refresh', async (rig, desktop) => {
  const proxy = await desktop.connect();
  await rig.revoke();
  const rule = await rig.addFault('oauth', { ...REFRESH_DOWN, respond: { status: 503 }, times: 2 });
  const refreshToken = desktop.stored('tokens').refresh_token;
  let mark = await rig.mark();

  // 401 → refresh → 503 temporarily_unavailable: the SDK rethrows the OAuth error and mcp-remote
  // hands it to the stdio client as JSON-RPC error -32001 carrying the AS's error_description.
  // Not retried (Retry-After: 1 unread), nothing discarded, no authorization; once the AS answers,
  // the next call refreshes and succeeds.
  for (const attempt of ['while the AS is down', 'while the AS is still down']) {
    const answer = await call(proxy, 'echo', { message: attempt });
    assert.equal(answer.result, undefined);
    assert.deepEqual(answer.error, { code: -32001, message: `mcp-remote: injected by fault rule ${rule.id}` });
  }
  assert.deepEqual(await rig.faults('oauth'), [], 'the rule is spent');
  assert.equal(desktop.stored('tokens').refresh_token, refreshToken, 'the stored tokens are kept');
  await echo(proxy, 'once the AS is back');
  const down = 'POST /token 503 refresh_token temporarily_unavailable fault';
  assert.deepEqual(await rig.lines('oauth', mark), [AS_METADATA, down, AS_METADATA, down, AS_METADATA, 'POST /token 200 refresh_token']);
  assert.deepEqual(await rig.lines('mcp', mark), [
    'POST /mcp 401 invalid_token', PRM,
    'POST /mcp 401 invalid_token', PRM,
    'POST /mcp 401 invalid_token', PRM, 'POST /mcp 200 tools/call echo',
  ]);
  assert.equal(desktop.visits().length, 1, 'no new consent');

  // The AS unreachable instead (the connection dropped without an answer): not an OAuth error,
  // so the SDK moves past the failed refresh and starts a new authorization — and mcp-remote,
  // which completes in-session sign-ins itself, opens the browser, takes the code and retries:
  // the call succeeds, at the price of a consent round for a network failure.
  await rig.revoke();
  await rig.addFault('oauth', { ...REFRESH_DOWN, respond: { drop: true }, times: 1 });
  mark = await rig.mark();
  const before = await rig.oauthCounters();
  await echo(proxy, 'while the AS is unreachable');
  assert.deepEqual(await rig.lines('oauth', mark), [AS_METADATA, 'POST /token 0 refresh_token fault', 'GET /authorize 302', 'POST /token 200 authorization_code']);
  assert.deepEqual(await rig.lines('mcp', mark), ['POST /mcp 401 invalid_token', PRM, 'POST /mcp 200 tools/call echo']);
  assert.deepEqual(delta(before, await rig.oauthCounters()), { ...ZERO, authorizations: 1, code_grants: 1, refresh_grants: 1 });
  await desktop.visitsOnce(2);
  return '503 on the refresh: JSON-RPC error -32001 with the AS\'s description at once, no retry, tokens kept, the next call refreshes and succeeds; a dropped connection instead: a new authorization (browser) in the same call, which then succeeds';
});

scenario(10, 'rate-limited token endpoint', async (rig, desktop) => {
  const proxy = await desktop.connect();
  await rig.revoke();
  const rule = await rig.addFault('oauth', { ...REFRESH_DOWN, respond: { status: 429, retry_after: 1 }, times: 1 });
  const mark = await rig.mark();

  // The rig answers the 429 with `temporarily_unavailable`, so this is scenario 9's 503: the call
  // fails at once with the AS's description, Retry-After is not honoured and the refresh is not
  // retried; the next call, made right away, refreshes and succeeds.
  const started = Date.now();
  const answer = await call(proxy, 'echo', { message: 'while rate-limited' });
  assert.deepEqual(answer.error, { code: -32001, message: `mcp-remote: rate limited by fault rule ${rule.id}; retry after 1 s` });
  assert.ok(Date.now() - started < 1_000, 'mcp-remote did not wait for Retry-After');
  assert.deepEqual(await rig.faults('oauth'), []);
  await echo(proxy, 'right after');
  assert.deepEqual(await rig.lines('oauth', mark), [
    AS_METADATA, 'POST /token 429 refresh_token temporarily_unavailable fault', AS_METADATA, 'POST /token 200 refresh_token',
  ]);
  assert.deepEqual(await rig.lines('mcp', mark), ['POST /mcp 401 invalid_token', PRM, 'POST /mcp 401 invalid_token', PRM, 'POST /mcp 200 tools/call echo']);
  assert.equal(desktop.visits().length, 1, 'no new consent');
  return '429 (Retry-After: 1) on the refresh: JSON-RPC error -32001 at once, Retry-After not read, no retry, tokens kept; the next call (no wait) refreshes and succeeds';
});

// Not a scenario of the matrix: what the brief (and CLIENTS.md) say about the end of stdin,
// checked. mcp-remote does not stop at once: it runs the whole start-up sign-in first, connects,
// and only then sees the closed stdin and exits 0, having forwarded nothing.
test(`${SCHEME} stdin closed at start-up`, { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
  const rig = await startRig({ scheme: SCHEME, certsDir: CERTS_DIR });
  const desktop = new Desktop(rig);
  t.signal.addEventListener('abort', () => rig.stop());
  try {
    const proxy = await desktop.start();
    proxy.child.stdin.end();
    assert.deepEqual(await proxy.waitForExit(EXIT_TIMEOUT_MS), { code: 0, signal: null });
    assert.deepEqual(proxy.messages, []);
    assert.ok(proxy.log().includes('Local STDIO server running'), 'it connected before it noticed');
    const counters = await rig.oauthCounters();
    assert.equal(counters.registrations, 1);
    assert.equal(counters.token_requests.authorization_code, 1, 'it signed in all the same');
    assert.equal((await rig.mcpCounters()).tool_calls, 0);
  } finally {
    try {
      await desktop.close();
    } finally {
      await rig.stop();
    }
  }
});

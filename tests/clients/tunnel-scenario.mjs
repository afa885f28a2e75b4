// The tunnel and restart tests both TypeScript suites run (typescript/ and typescript-v2/
// tunnel.test.mjs), for whichever SDK their caller hands in: the rig re-points its public URLs
// while a client holds tokens (`scenario tunnel`, docs/https-and-tunnels.md "What a re-point
// changes, and what a client sees"), and keeps its state across a restart (STATE_FILE, "Keep
// state across a restart"). A tunnel here is a Forwarder: a TCP port on loopback passing bytes
// to a rig port untouched, as cloudflared does for the rig, whose closing is a tunnel dying.
//
// Each test records what the SDK did as an `outcome` (plain values, URLs named by the role they
// play: 'old MCP URL', 'new MCP URL'), and asserts it equals what the suite says its SDK does:
// where the SDKs part ways the suite's `expect` says so, the shared steps stay here.
//
// HTTP only (run by ../typescript-passes.mjs in the HTTP pass): a tunnel terminates TLS, and the
// forwarder does not, so an HTTPS rig behind it would need certificates for the forwarder's
// port as well; what is under test is the client's, which the scheme does not change.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectWithAuth } from './headless-provider.mjs';
import { BINARY, startRig } from './rig.mjs';
import { FRESH } from './scenario-harness.mjs';
import { echo, settledConnect, whoami } from './sdk-calls.mjs';

const TEST_TIMEOUT_MS = 20_000;
const COMMAND_TIMEOUT_MS = 5_000;
/** Past the access tokens' lifetime (TOKEN_TTL_SECONDS, 3600 s), within the refresh tokens' (30 d). */
const PAST_ACCESS_EXPIRY_SECONDS = 3_700;

/**
 * A tunnel stand-in: listens on 127.0.0.1, port 0, and forwards every connection to `port` on
 * 127.0.0.1, bytes untouched (the Host header the client sent arrives as sent, as through a
 * tunnel). `close()` stops listening and destroys every socket through it: the tunnel died.
 */
export class Forwarder {
  #server;
  #sockets = new Set();

  static async start(port) {
    const forwarder = new Forwarder();
    forwarder.#server = createServer((inbound) => forwarder.#forward(inbound, port));
    await new Promise((done, fail) => {
      forwarder.#server.once('error', fail);
      forwarder.#server.listen(0, '127.0.0.1', done);
    });
    forwarder.port = forwarder.#server.address().port;
    return forwarder;
  }

  /** The public URL a tunnel would have: `http://localhost:PORT`. */
  get url() {
    return `http://localhost:${this.port}`;
  }

  #forward(inbound, port) {
    const outbound = connectTcp(port, '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      this.#sockets.add(socket);
      socket.on('error', () => {}); // either end going away ends both: see 'close'
      socket.on('close', () => {
        this.#sockets.delete(socket);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  }

  close() {
    const closed = new Promise((done) => this.#server.close(() => done()));
    for (const socket of this.#sockets) socket.destroy();
    return closed;
  }
}

const portOf = (url) => Number(new URL(url).port);

/**
 * `mcp-oauth-sim scenario tunnel OAUTH_URL MCP_URL [reject-old-audience] --json` against `rig`
 * (its ports by flag), as a user behind a tunnel runs it; resolves to the JSON it prints.
 */
export function repoint(rig, oauthUrl, mcpUrl, { rejectOldAudience = false } = {}) {
  const args = [
    'scenario', 'tunnel', oauthUrl, mcpUrl, ...(rejectOldAudience ? ['reject-old-audience'] : []),
    '--json', '--oauth-port', String(portOf(rig.issuer)), '--mcp-port', String(portOf(rig.mcpUrl)),
  ];
  const env = { ...process.env };
  for (const name of ['OAUTH_PORT', 'MCP_PORT', 'CONTROL_TOKEN']) delete env[name];
  return new Promise((done, fail) => {
    execFile(BINARY, args, { env, timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) return fail(new Error(`${BINARY} ${args.join(' ')}: ${error.message}\n${stderr}`));
      try {
        done(JSON.parse(stdout));
      } catch {
        fail(new Error(`${BINARY} ${args.join(' ')} printed no JSON:\n${stdout}${stderr}`));
      }
    });
  });
}

/** Moves the rig clock past every access token's expiry: the next MCP call is a 401. */
const expireAccessTokens = (rig) => rig.control('oauth', 'clock', { advance_seconds: PAST_ACCESS_EXPIRY_SECONDS });

/** The audience of the client's token as the MCP server saw it (whoami), as a list. */
const audience = async (client) => [(await whoami(client)).audience].flat();

/** The counters a test compares, grown from `before` to `after` (AS counter snapshots). */
function grown(before, after) {
  return {
    registrations: after.registrations - before.registrations,
    authorizations: after.authorizations - before.authorizations,
    code_grants: after.token_requests.authorization_code - before.token_requests.authorization_code,
    refresh_grants: after.token_requests.refresh_token - before.token_requests.refresh_token,
  };
}

/**
 * Records what the SDK sends: every request through the transport's `fetch` (the SDK's
 * discovery, registration and token requests go through it as well as its MCP requests).
 */
class Recorder {
  requests = [];

  fetch = (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    const body = typeof init.body === 'string' || init.body instanceof URLSearchParams ? String(init.body) : undefined;
    this.requests.push({ method: init.method ?? 'GET', url, body });
    return fetch(input, init);
  };

  /** The `resource` of every refresh_token grant sent, in order (null: none sent). */
  refreshResources() {
    return this.requests
      .filter((request) => request.body && new URLSearchParams(request.body).get('grant_type') === 'refresh_token')
      .map((request) => new URLSearchParams(request.body).get('resource'));
  }
}

/**
 * One client session of a test: the SDK's client and transport for `mcpUrl` with `provider`,
 * through a recording fetch. `connect()` authorizes if it must (the suite's finish step), and
 * waits for the background GET; `call()` calls echo, finishing an authorization the SDK started
 * on the way (a refresh it gave up, credentials it would not use) and calling again.
 */
class Session {
  constructor(sdk, rig, mcpUrl, provider) {
    Object.assign(this, { sdk, rig, mcpUrl, provider, recorder: new Recorder() });
  }

  /** Connects; resolves to 'kept its tokens', 'authorized' or 'failed: <error, URLs by `names`>'. */
  async connect(names = String) {
    const sdk = {
      newClient: (url, provider) => this.sdk.newClient(url, provider, { fetch: this.recorder.fetch }),
      UnauthorizedError: this.sdk.UnauthorizedError,
      finishAuthorization: this.sdk.finishAuthorization,
    };
    const authorizations = this.provider.authorizations.length;
    try {
      this.client = await settledConnect(this.rig, () => connectWithAuth(sdk, this.mcpUrl, this.provider));
    } catch (error) {
      return failure(error, names);
    }
    return this.provider.authorizations.length > authorizations ? 'authorized' : 'kept its tokens';
  }

  /** echo; resolves to what it took: 'token held', 'refreshed', 'authorized' or 'failed: …'. */
  async call(message, names) {
    if (!this.client) return 'not connected';
    const authorizations = this.provider.authorizations.length;
    const refreshes = this.recorder.refreshResources().length;
    try {
      try {
        await echo(this.client, message);
      } catch (error) {
        if (!(error instanceof this.sdk.UnauthorizedError)) throw error;
        await this.sdk.finishAuthorization(this.client.transport, this.provider);
        await echo(this.client, message);
      }
    } catch (error) {
      return failure(error, names);
    }
    if (this.provider.authorizations.length > authorizations) return 'authorized';
    return this.recorder.refreshResources().length > refreshes ? 'refreshed' : 'token held';
  }

  /**
   * The audience of the token the last call carried, as the MCP server saw it (whoami), URLs
   * by `names`; null when the session cannot call (after a failure the SDK did not recover from).
   */
  async audience(names) {
    if (!this.client) return null;
    try {
      return (await audience(this.client)).map(names);
    } catch {
      return null;
    }
  }

  close() {
    return this.client?.close();
  }
}

const failure = (error, names) => `failed: ${error.name}: ${names(error.message)}`;

/**
 * `step()` (a Session's connect or call), and if the SDK failed, what an application does next,
 * each once, until it works: forget where the server was (invalidateCredentials('discovery'),
 * state v2's provider keeps and v1's has not), then forget its tokens ('tokens': the next
 * auth() authorizes anew). Resolves to every result in order, with the recovery before each.
 */
async function withRecovery(provider, step) {
  let result = await step();
  for (const [scope, said] of [['discovery', 'its discovery state dropped'], ['tokens', 'its tokens dropped']]) {
    if (!result.split('; ').at(-1).includes('failed: ')) break;
    provider.invalidateCredentials(scope);
    result += `; then, ${said}: ${await step()}`;
  }
  return result;
}

/** Replaces each URL in `roles` (`{ url: role }`) by its role in `text`, longest URL first. */
function naming(roles) {
  const urls = Object.keys(roles).sort((a, b) => b.length - a.length);
  return (text) => {
    if (text == null) return text;
    let named = String(text);
    for (const url of urls) named = named.split(url).join(roles[url]);
    return named;
  };
}

/**
 * What a client that logged in before the rig moved does after it, through `moved` (a Session
 * at the rig's new MCP URL whose provider holds that login): it connects (`reconnect`: 'kept
 * its tokens' or 'authorized') and calls (`first_call`); every access token expires; it calls
 * again (`after_expiry`: 'refreshed', 'authorized', …), each step recovered as withRecovery
 * does. `first_answer`: the MCP server's answer to the client's first request after the move
 * (a journal line); `grown`: the AS counters since `before`; `refresh_resources`: the `resource`
 * of each refresh the client sent; `audience`: that of the token of its last call, as the MCP
 * server saw it. URLs in it are named by `names`.
 */
async function carryOn(moved, names, before) {
  const { rig, provider } = moved;
  const mark = await rig.mark();
  const outcome = { reconnect: await withRecovery(provider, () => moved.connect(names)) };
  outcome.first_answer = (await rig.lines('mcp', mark)).find((event) => event.startsWith('POST /mcp')) ?? null;
  outcome.first_call = await withRecovery(provider, () => moved.call('after the move', names));
  await expireAccessTokens(rig);
  outcome.after_expiry = await withRecovery(provider, () => moved.call('after the move, after expiry', names));
  outcome.grown = grown(before, await rig.oauthCounters());
  outcome.refresh_resources = moved.recorder.refreshResources().map(names);
  outcome.audience = await moved.audience(names);
  return outcome;
}

/**
 * Defines the tunnel and restart tests for one SDK. `sdk` is the suite's sdk.mjs `SDK`
 * (`HeadlessProvider`, `newClient`, `UnauthorizedError`, `finishAuthorization`). `expect` is
 * what the SDK does, one outcome per test (carryOn says what its fields mean):
 * `repoint`, `rejectOldAudience`, `repointMcpOnly`, `rejectOldAudienceMcpOnly`, `restartSamePorts`,
 * `restartNewPorts`.
 */
export function tunnelTests(sdk, expect) {
  const scheme = process.env.SIM_SCHEME || 'http';
  assert.equal(scheme, 'http', 'the tunnel tests run over HTTP only (a forwarder does not terminate TLS)');

  /** A test with its rigs, forwarders and sessions stopped whatever happens. */
  function tunnelTest(name, body) {
    test(`http tunnel: ${name}`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const owned = { rigs: [], forwarders: [], sessions: [] };
      const stop = () => Promise.allSettled([...owned.rigs.map((rig) => rig.stop()), ...owned.forwarders.map((f) => f.close())]);
      t.signal.addEventListener('abort', stop); // timed out: the body may never return
      try {
        await body({
          start: async (options) => {
            const rig = await startRig({ scheme, ...options });
            owned.rigs.push(rig);
            return rig;
          },
          forwarder: async (url) => {
            const made = await Forwarder.start(portOf(url));
            owned.forwarders.push(made);
            return made;
          },
          session: (rig, mcpUrl, provider) => {
            const made = new Session(sdk, rig, mcpUrl, provider);
            owned.sessions.push(made);
            return made;
          },
          diagnose: (outcome) => t.diagnostic(`outcome: ${JSON.stringify(outcome, null, 2)}`),
        });
      } catch (error) {
        for (const rig of owned.rigs) t.diagnostic(`rig output:\n${rig.log.join('\n')}`);
        throw error;
      } finally {
        t.signal.removeEventListener('abort', stop);
        await Promise.allSettled(owned.sessions.map((session) => session.close()));
        await stop();
      }
    });
  }

  /**
   * Tunnels A (one forwarder per port), a re-point to them, a login and a call through them;
   * tunnels B, a re-point to them (`rejectOldAudience` as asked), A closed; then `carryOn` at
   * B's MCP URL with the same provider. `moveAs: false` moves the MCP server only (the AS keeps
   * tunnel A). `grown` counts from after the login.
   */
  async function repointScenario({ start, forwarder, session, diagnose }, { rejectOldAudience = false, moveAs = true }) {
    const rig = await start();
    const a = { oauth: await forwarder(rig.issuer), mcp: await forwarder(rig.mcpUrl) };
    const movedToA = await repoint(rig, a.oauth.url, a.mcp.url);
    assert.equal(movedToA.control_token, undefined, 'http://localhost URLs keep the rig on loopback: no control token');
    const provider = new sdk.HeadlessProvider();
    const login = session(rig, `${a.mcp.url}/mcp`, provider);
    assert.equal(await login.connect(), 'authorized', 'the first connect authorizes');
    await echo(login.client, 'through tunnel A');
    assert.deepEqual(await audience(login.client), [`${a.mcp.url}/mcp`], 'the login got a token for the MCP URL it was given');
    const afterLogin = await rig.oauthCounters();
    assert.deepEqual(grown(FRESH, afterLogin), { registrations: 1, authorizations: 1, code_grants: 1, refresh_grants: 0 });
    await login.close();

    const b = { oauth: moveAs ? await forwarder(rig.issuer) : a.oauth, mcp: await forwarder(rig.mcpUrl) };
    await repoint(rig, b.oauth.url, b.mcp.url, { rejectOldAudience });
    await Promise.all([a.mcp.close(), moveAs && a.oauth.close()]);
    const names = naming({
      [`${a.mcp.url}/mcp`]: 'old MCP URL', [`${b.mcp.url}/mcp`]: 'new MCP URL',
      ...(moveAs ? { [a.oauth.url]: 'old AS URL', [b.oauth.url]: 'new AS URL' } : { [a.oauth.url]: 'same AS URL' }),
    });
    const outcome = await carryOn(session(rig, `${b.mcp.url}/mcp`, provider), names, afterLogin);
    diagnose(outcome);
    return outcome;
  }

  tunnelTest('live change of both public URLs', async (kit) => {
    assert.deepEqual(await repointScenario(kit, { rejectOldAudience: false }), expect.repoint);
  });

  tunnelTest('live change with reject-old-audience', async (kit) => {
    assert.deepEqual(await repointScenario(kit, { rejectOldAudience: true }), expect.rejectOldAudience);
  });

  tunnelTest('live change of the MCP URL only', async (kit) => {
    assert.deepEqual(await repointScenario(kit, { moveAs: false }), expect.repointMcpOnly);
  });

  tunnelTest('live change of the MCP URL only with reject-old-audience', async (kit) => {
    assert.deepEqual(await repointScenario(kit, { moveAs: false, rejectOldAudience: true }), expect.rejectOldAudienceMcpOnly);
  });

  /**
   * Rig 1 with STATE_FILE: a login and a call; rig 1 stopped (SIGTERM, which writes the file);
   * rig 2 on the same file and (`samePorts`) rig 1's ports, or new ones; then `carryOn` at rig
   * 2's MCP URL with the same provider. `grown` counts from rig 2's start (counters are not kept).
   */
  async function restartScenario({ start, session, diagnose }, { samePorts }) {
    const dir = mkdtempSync(join(tmpdir(), 'mcp-oauth-sim-state-'));
    try {
      const STATE_FILE = join(dir, 'rig-state.json');
      const first = await start({ env: { STATE_FILE } });
      const provider = new sdk.HeadlessProvider();
      const login = session(first, first.mcpUrl, provider);
      assert.equal(await login.connect(), 'authorized', 'the first connect authorizes');
      await echo(login.client, 'before the restart');
      await login.close();
      await first.stop();
      assert.deepEqual(await first.exited, { code: 0, signal: null }, 'SIGTERM is a clean stop');
      assert.equal(statSync(STATE_FILE).mode & 0o777, 0o600, 'the state file is readable by its owner only');

      const ports = samePorts ? { OAUTH_PORT: String(portOf(first.issuer)), MCP_PORT: String(portOf(first.mcpUrl)) } : {};
      const second = await start({ env: { STATE_FILE, ...ports } });
      assert.equal(second.mcpUrl === first.mcpUrl, samePorts, `rig 2 serves ${second.mcpUrl}, rig 1 served ${first.mcpUrl}`);
      const names = naming(samePorts
        ? { [first.mcpUrl]: 'same MCP URL', [first.issuer]: 'same AS URL' }
        : { [first.mcpUrl]: 'old MCP URL', [first.issuer]: 'old AS URL', [second.mcpUrl]: 'new MCP URL', [second.issuer]: 'new AS URL' });
      const before = await second.oauthCounters();
      assert.deepEqual(grown(FRESH, before), { registrations: 0, authorizations: 0, code_grants: 0, refresh_grants: 0 });
      const outcome = await carryOn(session(second, second.mcpUrl, provider), names, before);
      diagnose(outcome);
      return outcome;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  tunnelTest('restart with the state file, same ports', async (kit) => {
    assert.deepEqual(await restartScenario(kit, { samePorts: true }), expect.restartSamePorts);
  });

  tunnelTest('restart with the state file, new ports', async (kit) => {
    assert.deepEqual(await restartScenario(kit, { samePorts: false }), expect.restartNewPorts);
  });
}


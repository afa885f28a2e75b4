// The rig under test, shared by every Node client suite in tests/clients: the real
// `mcp-oauth-sim` binary on ephemeral ports, its control planes, its journals and its counters.
// One rig per scenario, so every count a test reads is its own. Node builtins only, so a suite
// of any Node version (20 or the pinned 22) can import it.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BINARY = process.env.MCP_OAUTH_SIM_BIN || join(REPO, 'target/debug/mcp-oauth-sim');

// Every variable the binary reads (docs/settings.md): none may leak in from the caller's
// shell, or a developer's CONTROL_TOKEN or MCP_BASE_URL would change what is being tested.
const RIG_VARIABLES = [
  'OAUTH_PORT', 'MCP_PORT', 'BIND', 'OAUTH_BASE_URL', 'MCP_BASE_URL', 'OAUTH_INTERNAL_URL',
  'ISSUERS', 'MCP_AUTHORIZATION_SERVERS', 'TLS_CERT_FILE', 'TLS_KEY_FILE', 'CERTS_DIR',
  'SEED_REFRESH_TOKEN', 'AS_PROFILE', 'MCP_PROFILE', 'CLIENTS', 'CONFORMANCE', 'TOKEN_TTL_SECONDS',
  'SCOPES', 'TOOL_SCOPES', 'JOURNAL_SIZE', 'MAX_CLIENTS', 'MAX_TOKENS', 'MAX_CODES',
  'FETCH_ALLOW_HTTP', 'FETCH_ALLOW_HOSTS', 'FETCH_TIMEOUT_MS', 'FETCH_CA_FILE', 'CONTROL_TOKEN', 'STATE_FILE',
  'CONSENT', 'USERS', 'DASHBOARD_PORT', 'LOG',
];

const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const CONTROL_TIMEOUT_MS = 5_000;

// Children still running (with their work directories), killed if this process leaves without
// stopping them.
const running = new Map();
process.on('exit', () => {
  for (const [child, cwd] of running) {
    child.kill('SIGKILL');
    rmSync(cwd, { recursive: true, force: true });
  }
});
for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => process.exit(status)); // through the 'exit' handler above
}

/** `mcp-oauth-sim certs --dir <new temporary dir>`: returns the directory (ca.pem inside). */
export function makeCerts() {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-oauth-sim-certs-'));
  const made = spawnSync(BINARY, ['certs', '--dir', dir], {
    cwd: dir,
    env: rigEnvironment({}),
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (made.status !== 0) {
    throw new Error(`${BINARY} certs failed (${made.status ?? made.signal}): ${made.stderr}${made.error ?? ''}`);
  }
  return dir;
}

function rigEnvironment(extra) {
  const env = { ...process.env };
  for (const name of RIG_VARIABLES) delete env[name];
  return { ...env, ...extra };
}

/**
 * Starts the binary and waits for its two ready lines. `scheme` is 'http' or 'https'; HTTPS
 * serves the certificates in `certsDir` (made by `makeCerts`). `env` adds variables such as
 * SEED_REFRESH_TOKEN or SCOPES and TOOL_SCOPES.
 */
export async function startRig({ scheme, certsDir, env = {} }) {
  // Started from an empty directory: no .env and no certs/ of the checkout are picked up, so
  // the scheme is exactly the one asked for.
  const cwd = mkdtempSync(join(tmpdir(), 'mcp-oauth-sim-rig-'));
  const child = spawn(BINARY, ['serve'], {
    cwd,
    env: rigEnvironment({
      OAUTH_PORT: '0',
      MCP_PORT: '0',
      // Rigs run side by side: the dashboard too gets a port of its own, not its fixed default.
      DASHBOARD_PORT: '0',
      CERTS_DIR: scheme === 'https' ? certsDir : join(cwd, 'no-certs'),
      LOG: 'info',
      ...env,
    }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.set(child, cwd);
  const rig = new Rig(child, cwd);
  try {
    await rig.ready();
  } catch (error) {
    await rig.stop();
    throw error;
  }
  if (rig.scheme !== scheme) {
    await rig.stop();
    throw new Error(`asked for a ${scheme} rig, the binary serves ${rig.scheme}`);
  }
  return rig;
}

export class Rig {
  constructor(child, cwd) {
    this.child = child;
    this.cwd = cwd;
    /** Every line the binary printed, for the failure report. */
    this.log = [];
    this.lineListeners = new Set();
    this.exited = new Promise((done) => child.once('exit', (code, signal) => done({ code, signal })));
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop();
        for (const line of lines) this.#line(line);
      });
    }
  }

  #line(line) {
    this.log.push(line);
    for (const listener of this.lineListeners) listener(line);
  }

  /** Parses `[oauth] authorization server URL (SCHEME)` and `[mcp] protected MCP server URL`. */
  ready() {
    return new Promise((done, fail) => {
      const timer = setTimeout(
        () => finish(new Error(`no ready lines within ${READY_TIMEOUT_MS} ms:\n${this.log.join('\n')}`)),
        READY_TIMEOUT_MS,
      );
      const finish = (error) => {
        clearTimeout(timer);
        this.lineListeners.delete(listen);
        error ? fail(error) : done();
      };
      const listen = (line) => {
        let match = /^\[oauth\] authorization server (\S+) \((https?)\)$/.exec(line);
        if (match) {
          this.issuer = match[1];
          this.scheme = match[2];
        }
        match = /^\[mcp\] protected MCP server (\S+)$/.exec(line);
        if (match) this.mcpUrl = match[1];
        if (this.issuer && this.mcpUrl) finish();
      };
      this.lineListeners.add(listen);
      this.exited.then(({ code, signal }) =>
        finish(new Error(`${BINARY} exited (${code ?? signal}) before it was ready:\n${this.log.join('\n')}`)),
      );
    });
  }

  /**
   * Resolves with the first line at index `from` or later of the rig's output that matches
   * `pattern` (the README's quick start shows the request lines), waiting for it if need be.
   */
  waitForLine(pattern, from = 0, timeoutMs = 5_000) {
    const found = this.log.slice(from).find((line) => pattern.test(line));
    if (found) return Promise.resolve(found);
    return new Promise((done, fail) => {
      const timer = setTimeout(() => {
        this.lineListeners.delete(listen);
        fail(new Error(`no line matching ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs);
      const listen = (line) => {
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        this.lineListeners.delete(listen);
        done(line);
      };
      this.lineListeners.add(listen);
    });
  }

  get mcpOrigin() {
    return new URL(this.mcpUrl).origin;
  }

  /** POST a control call on 'oauth' or 'mcp'; returns the server's answer (mostly its new state). */
  control(service, path, body) {
    return this.#controlCall('POST', service, path, body);
  }

  async #controlCall(method, service, path, body) {
    const base = service === 'oauth' ? this.issuer : this.mcpOrigin;
    const response = await fetch(`${base}/control/${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${base}/control/${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  }

  /**
   * A fault rule (docs/faults-journal-clock.md), e.g. `{ endpoint: 'token', match: { grant_type:
   * 'refresh_token' }, respond: { status: 503 }, times: 2 }`; returns the rule with its id.
   */
  addFault(service, rule) { return this.control(service, 'faults', rule); }

  /** The fault rules still armed on 'oauth' or 'mcp' (a rule whose `times` are spent is gone). */
  async faults(service) { return (await this.#controlCall('GET', service, 'faults')).faults; }

  /** One page of a server's request journal from `since` on: `{ events, next, missed }`. */
  events(service, since = 0) { return this.#controlCall('GET', service, `events?since=${since}`); }

  /** Where both journals stand now: the events after this mark are the ones under test. */
  async mark() {
    const [oauth, mcp] = await Promise.all([this.events('oauth'), this.events('mcp')]);
    return { oauth: oauth.next, mcp: mcp.next };
  }

  /**
   * The client's requests to `service` since `mark`, oldest first: every event but the test's
   * own control calls and, on the authorization server, the MCP server's introspection calls.
   */
  async requests(service, mark) {
    const page = await this.events(service, mark[service]);
    if (page.missed) throw new Error(`the ${service} journal dropped ${page.missed} events under test`);
    return page.events.filter((event) => !event.path.startsWith('/control') && event.path !== '/introspect');
  }

  /** `requests`, each as a `line`. */
  async lines(service, mark) {
    return (await this.requests(service, mark)).map(line);
  }

  // The scenarios of docs/scenarios.md, by the name `mcp-oauth-sim scenario` gives them.
  expireAccess(seconds) { return this.control('oauth', 'expires-in', { seconds }); }
  revoke() { return this.control('oauth', 'revoke-access'); }
  rotate(on) { return this.control('oauth', 'rotate', { on }); }
  deadRefresh(on) { return this.control('oauth', 'invalid-grant', { on }); }
  denyConsent(on) { return this.control('oauth', 'deny-consent', { on }); }
  badScope(on) { return this.control('mcp', 'force-403', { on }); }
  toolScopes(scopes) { return this.control('mcp', 'tool-scopes', scopes); }

  /** The AS's knobs (`POST /control/profile`), e.g. `{ client_id_metadata_document_supported: false }`. */
  profile(knobs) { return this.control('oauth', 'profile', knobs); }

  // Client ID metadata documents: each call answers `{ cached, faults }` as they now are.
  documents() { return this.#controlCall('GET', 'oauth', 'documents'); }
  /** A fetch fault, e.g. `{ fault: 'not-json', url, times: 1 }`. */
  documentFault(spec) { return this.control('oauth', 'documents/faults', spec); }
  clearDocumentFaults() { return this.#controlCall('DELETE', 'oauth', 'documents/faults'); }

  async state(service) {
    const base = service === 'oauth' ? this.issuer : this.mcpOrigin;
    const response = await fetch(`${base}/control/state`, { signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`GET ${base}/control/state: ${response.status}`);
    return response.json();
  }

  /** The AS counters (`counters` of GET /control/state) plus the store sizes. */
  async oauthCounters() {
    const state = await this.state('oauth');
    return { ...state.counters, store: state.store };
  }

  async mcpCounters() {
    return (await this.state('mcp')).counters;
  }

  /** SIGTERM (the rig drains and exits 0), SIGKILL after a bound; removes the work directory. */
  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    running.delete(this.child);
    rmSync(this.cwd, { recursive: true, force: true });
  }
}

/**
 * A journal event as the tests compare it: method, path, status, then whichever of grant type,
 * JSON-RPC method, tool and error code it has, and `fault` if a fault rule answered it:
 * `POST /token 503 refresh_token temporarily_unavailable fault`, `POST /mcp 200 tools/call echo`.
 * (The same shape as the rmcp suite's `journal::line`.)
 */
export function line(event) {
  const parts = [event.method, event.path, event.status, event.grant_type, event.rpc_method, event.tool, event.error];
  if (event.fault != null) parts.push('fault');
  return parts.filter((part) => part != null).join(' ');
}

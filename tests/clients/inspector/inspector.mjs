// Runs the MCP Inspector's CLI mode (`mcp-inspector --cli`, @modelcontextprotocol/inspector, on
// the Node 22 pinned in package.json) headlessly, one process per command, as a script or a CI
// job would. What it needs to log in without a person, read from its built code
// (clients/cli/build/index.js):
//
// - A browser: it calls `open` (sindresorhus/open), which on Linux runs its bundled xdg-open;
//   with no desktop session xdg-open takes its generic path and runs $BROWSER with the URL. So
//   BROWSER is the shared stand-in browser, and the desktop variables are removed so that a
//   developer's session cannot send the URL to a real browser instead.
// - MCP_AUTO_OPEN_ENABLED=true: without a terminal on stdin or stderr the CLI refuses
//   interactive OAuth ("Interactive OAuth requires a TTY …", exit 3), and without a terminal on
//   stderr it only prints "Please navigate to: URL" and never opens anything. `true` forces both.
// - A secret store that survives the process: by default it probes the OS keyring
//   (@napi-rs/keyring over D-Bus Secret Service); with no session bus it falls back, in a
//   container, to an in-memory store, so the tokens of one run are gone for the next and every
//   run would authorize from scratch. MCP_INSPECTOR_SECRET_STORE=file keeps them (unencrypted,
//   mode 0600) in $HOME/.mcp-inspector/secrets.json, beside its OAuth state (client
//   information, discovery results, code verifier) in $HOME/.mcp-inspector/storage/oauth.json.
//   Each test gets a HOME of its own, so nothing is shared with the developer or another test.
// - A callback port: http://127.0.0.1:6276/oauth/callback unless --callback-url says otherwise.
//   Each Inspector here gets a free port of its own, the same for all its runs (a client
//   registers its redirect URI once, so a later re-authorization must come back to it).
//
// Exit codes (EXIT_CODES in its error handler): 0 success, 1 usage or any other error,
// 3 auth_required (401/403), 4 unreachable, 5 tool error. A failure prints one JSON line on
// stderr: {"error":{"code","message",…}}.

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const NODE = join(HERE, 'node_modules/node/bin/node');
export const PACKAGE_DIR = join(HERE, 'node_modules/@modelcontextprotocol/inspector');
// The launcher is what `npx @modelcontextprotocol/inspector --cli …` runs.
const LAUNCHER = join(PACKAGE_DIR, 'clients/launcher/build/index.js');
const BROWSER = join(HERE, '../stand-in-browser.mjs');

export const VERSION = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')).version;

const RUN_TIMEOUT_MS = 30_000;
const VISIT_TIMEOUT_MS = 5_000;

// Variables that would change what the Inspector does if they leaked in from the caller's shell:
// its own settings (another store, catalog, callback URL), debugging output, and the desktop
// session that xdg-open would hand the URL to instead of $BROWSER.
const CLEARED = [
  'MCP_OAUTH_CALLBACK_URL', 'MCP_CATALOG_PATH', 'MCP_CLIENT_CONFIG_PATH', 'MCP_STORAGE_DIR',
  'MCP_INSPECTOR_SECRET_STORE', 'MCP_INSPECTOR_SECRET_FILE', 'MCP_INSPECTOR_SECRET_KEY',
  'MCP_INSPECTOR_SECRET_KEY_FILE', 'MCP_INSPECTOR_API_TOKEN', 'MCP_AUTO_OPEN_ENABLED', 'MCP_DEBUG',
  'DEBUG', 'HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'NODE_OPTIONS',
  'DISPLAY', 'WAYLAND_DISPLAY', 'XDG_CURRENT_DESKTOP', 'XDG_SESSION_DESKTOP', 'DESKTOP_SESSION',
  'KDE_FULL_SESSION', 'GNOME_DESKTOP_SESSION_ID', 'MATE_DESKTOP_SESSION_ID', 'XDG_RUNTIME_DIR',
  'DBUS_SESSION_BUS_ADDRESS', 'USERPROFILE',
];

const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** A free TCP port on 127.0.0.1 (taken and released; the Inspector binds it a moment later). */
export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** One user of the Inspector CLI: a HOME, a browser log and a callback URL of its own. */
export class Inspector {
  static async create(mcpUrl) {
    return new Inspector(mcpUrl, await freePort());
  }

  constructor(mcpUrl, port) {
    this.mcpUrl = mcpUrl;
    this.home = mkdtempSync(join(tmpdir(), 'mcp-oauth-sim-inspector-'));
    this.browserLog = join(this.home, 'browser.jsonl');
    this.callbackUrl = `http://127.0.0.1:${port}/oauth/callback`;
    /** Every run, for the failure report. */
    this.runs = [];
  }

  /**
   * `mcp-inspector --cli --server-url <MCP URL> --callback-url <ours> ...args`, bounded by
   * RUN_TIMEOUT_MS (killed after it). Resolves with { code, signal, stdout, stderr, ms, error }
   * where `error` is the parsed JSON error envelope, if stderr has one. `env` adds variables
   * for this run (undefined removes one).
   */
  run(args, { env: extra = {} } = {}) {
    const env = { ...process.env };
    for (const name of CLEARED) delete env[name];
    Object.assign(env, {
      PATH: `${dirname(NODE)}:${process.env.PATH}`, // the stand-in browser's `env node` too
      HOME: this.home,
      BROWSER,
      MCP_AUTO_OPEN_ENABLED: 'true',
      MCP_INSPECTOR_SECRET_STORE: 'file',
      STAND_IN_BROWSER_LOG: this.browserLog,
      NO_COLOR: '1',
    });
    for (const [name, value] of Object.entries(extra)) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
    const argv = [LAUNCHER, '--cli', '--server-url', this.mcpUrl, '--callback-url', this.callbackUrl, ...args];
    const started = Date.now();
    return new Promise((done) => {
      const child = spawn(NODE, argv, { cwd: this.home, env, stdio: ['ignore', 'pipe', 'pipe'] });
      running.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, RUN_TIMEOUT_MS);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        running.delete(child);
        const result = { args, code, signal, timedOut, stdout, stderr, ms: Date.now() - started, error: envelope(stderr) };
        this.runs.push(result);
        done(result);
      });
    });
  }

  /** `tools/call` of `name` with `--tool-arg key=value` pairs. */
  call(name, args = {}) {
    const pairs = Object.entries(args).map(([key, value]) => `${key}=${value}`);
    return this.run(['--method', 'tools/call', '--tool-name', name, ...(pairs.length ? ['--tool-arg', ...pairs] : [])]);
  }

  /**
   * The stand-in browser's visits so far, waiting (bounded) until there are at least `count`:
   * the browser is a detached grandchild (xdg-open's), and writes its line once it has the
   * callback's answer, which can be a moment after the Inspector has exited.
   */
  async visits(count = 0) {
    const deadline = Date.now() + VISIT_TIMEOUT_MS;
    for (;;) {
      const lines = existsSync(this.browserLog) ? readFileSync(this.browserLog, 'utf8').split('\n').filter(Boolean) : [];
      if (lines.length >= count) return lines.map((text) => JSON.parse(text));
      if (Date.now() > deadline) throw new Error(`${lines.length} browser visits within ${VISIT_TIMEOUT_MS} ms, expected ${count}`);
      await sleep(50);
    }
  }

  /**
   * What the Inspector has stored for the MCP URL (its file store's layout in 2.12): the client
   * it registered, and its tokens, or undefined for either.
   */
  stored() {
    const statePath = join(this.home, '.mcp-inspector/storage/oauth.json');
    const secretsPath = join(this.home, '.mcp-inspector/secrets.json');
    const state = existsSync(statePath) ? JSON.parse(readFileSync(statePath, 'utf8')) : {};
    const server = state.servers?.[this.mcpUrl];
    const issuer = server?.activeIssuer;
    const clientInformation = issuer ? server.byIssuer?.[issuer]?.clientInformation : undefined;
    const secrets = existsSync(secretsPath) ? JSON.parse(readFileSync(secretsPath, 'utf8')).secrets ?? {} : {};
    const tokenKey = Object.keys(secrets).find((key) => key.endsWith(`:tokens:${issuer}`));
    return { clientInformation, tokens: tokenKey ? JSON.parse(secrets[tokenKey]) : undefined, scope: server?.scope };
  }

  /**
   * Writes the file store as an earlier session would have left it (the layout 2.12 writes,
   * read back by `stored`): a registered client and its tokens for the MCP URL, at `issuer`,
   * and nothing else (no discovery results, no code verifier).
   */
  seed({ issuer, clientInformation, tokens }) {
    const storage = join(this.home, '.mcp-inspector/storage');
    mkdirSync(storage, { recursive: true, mode: 0o700 });
    const namespace = randomUUID();
    const state = {
      secretsNamespace: namespace,
      servers: {
        [this.mcpUrl]: {
          byIssuer: { [issuer]: { clientInformation: { ...clientInformation, issuer }, clientRegistrationKind: 'dcr' } },
          activeIssuer: issuer,
        },
      },
      idpSessions: {},
    };
    writeFileSync(join(storage, 'oauth.json'), JSON.stringify(state, null, 2), { mode: 0o600 });
    const key = `oauth+${namespace}+${encodeURIComponent(this.mcpUrl)}:tokens:${issuer}`;
    const secrets = { version: 1, encryption: 'none', secrets: { [key]: JSON.stringify(tokens) } };
    writeFileSync(join(this.home, '.mcp-inspector/secrets.json'), JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }

  /** Every run, for a failure report. */
  report() {
    return this.runs
      .map((run) => `$ inspector --cli ${run.args.join(' ')}\n-> exit ${run.code ?? run.signal}${run.timedOut ? ' (timed out)' : ''} in ${run.ms} ms\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
      .join('\n');
  }

  remove() {
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** The JSON error envelope the CLI prints on stderr when it fails, parsed; or undefined. */
function envelope(stderr) {
  const line = stderr.split('\n').reverse().find((text) => text.startsWith('{"error":'));
  return line ? JSON.parse(line).error : undefined;
}

// The `mcp-remote <url>` proxy as a desktop client runs it: a child process spoken to in
// newline-delimited JSON-RPC on its stdin and stdout, with its own config directory and callback
// port, and a stand-in browser it finds through BROWSER. Every wait is bounded; `stop` always
// ends the process.
//
// How mcp-remote 0.15.1 is made to run headless (read from its dist/):
//
// - The browser. It calls the `open` package (10.x), which on Linux spawns the `xdg-open` script
//   bundled in `open`, detached, its output discarded; `open` itself never reads BROWSER. That
//   script does: with no desktop detected and no display it takes its "generic" branch and runs
//   each command of $BROWSER with the URL. So the child gets BROWSER=<stand-in browser>,
//   XDG_CURRENT_DESKTOP=X-Generic (the script's own name for "no desktop": it then skips its
//   dbus and xprop probes, which would otherwise pick GNOME's or XFCE's opener on a developer's
//   machine) and no DISPLAY / WAYLAND_DISPLAY (with one it would ask the desktop's URL handler
//   first). If that opener exits non-zero within 500 ms mcp-remote tries /usr/bin/xdg-open, gio,
//   x-www-browser and sensible-browser in turn; sensible-browser also honours BROWSER, so a
//   failing stand-in can be started twice — its log would show it.
// - Storage: $MCP_REMOTE_CONFIG_DIR/mcp-remote-v1/<md5 of the URL>_{client_info,tokens}.json
//   (plus transient code-verifier, discovery and lease files). One temporary dir per test.
// - The callback port: a second positional argument pins it (and makes it strict: no trying the
//   next seven ports); without it the port is derived from the URL's hash, which two tests on
//   the same rig URL would share. Each proxy gets a port found free just before.
// - `--transport http-only`: Streamable HTTP only, no fallback to the old SSE transport.
//   `--allow-http` is not needed: http is allowed for localhost and 127.0.0.1.
// - The proxy signs in *before* it reads stdin (the whole OAuth flow runs at start-up when the
//   server answers a GET with 401), then forwards what it reads. At the end of stdin it shuts
//   down and exits 0 — after that start-up sign-in, not before it (the suite checks) — so
//   stdin stays open until `stop`.
// - Its log goes to stderr, every line prefixed `[pid] `.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE = JSON.parse(readFileSync(join(HERE, 'node_modules/mcp-remote/package.json'), 'utf8'));
export const VERSION = PACKAGE.version;
export const PROXY_BIN = join(HERE, 'node_modules/mcp-remote', PACKAGE.bin['mcp-remote']);
// browser.mjs starts the shared stand-in browser the way a real browser starts (see there).
export const BROWSER = join(HERE, 'browser.mjs');

const STOP_TIMEOUT_MS = 5_000;
export const PROTOCOL_VERSION = '2025-06-18';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the callback port of one proxy). Drawn
 * below the kernel's ephemeral range: a port from that range (what listening on port 0 gives)
 * can be taken, between this check and mcp-remote's bind, by the local end of any outgoing
 * connection or by a rig started on port 0 — seen with three suites running at once.
 */
export async function freePort() {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // Not Linux: the common default.
  }
  const from = 10_000;
  const to = Math.max(from + 1_000, low) - 1;
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = from + Math.floor(Math.random() * (to - from));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port found in ${from}-${to}`);
}

function bindable(port) {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

// Variables of the caller's session that would change how the browser is found or which CA is
// trusted: none leaks in.
const SCRUBBED = [
  'DISPLAY', 'WAYLAND_DISPLAY', 'DBUS_SESSION_BUS_ADDRESS', 'XDG_CURRENT_DESKTOP', 'DESKTOP_SESSION',
  'KDE_FULL_SESSION', 'GNOME_DESKTOP_SESSION_ID', 'MATE_DESKTOP_SESSION_ID', 'LXQT_SESSION_CONFIG',
  'BROWSER', 'MCP_REMOTE_CONFIG_DIR', 'NODE_TLS_REJECT_UNAUTHORIZED', 'HTTP_PROXY', 'HTTPS_PROXY',
  'http_proxy', 'https_proxy',
];

export class Proxy {
  /**
   * Spawns `mcp-remote <url> <port> --transport http-only`. `configDir` is its
   * MCP_REMOTE_CONFIG_DIR, `browserLog` the stand-in browser's log; `env` adds variables
   * (NODE_EXTRA_CA_CERTS over HTTPS).
   */
  constructor({ url, port, configDir, browserLog, env = {}, args = [] }) {
    const childEnv = { ...process.env };
    for (const name of SCRUBBED) delete childEnv[name];
    Object.assign(childEnv, {
      BROWSER,
      XDG_CURRENT_DESKTOP: 'X-Generic',
      MCP_REMOTE_CONFIG_DIR: configDir,
      STAND_IN_BROWSER_LOG: browserLog,
      ...env,
    });
    this.child = spawn(process.execPath, [PROXY_BIN, url, String(port), '--transport', 'http-only', ...args], {
      env: childEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.stderr = [];
    this.messages = [];
    this.listeners = new Set();
    this.nextId = 1;
    this.exited = new Promise((done) => this.child.once('exit', (code, signal) => done({ code, signal })));
    this.child.stdin.on('error', () => {}); // EPIPE once it has exited: seen through `exited`
    let out = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk) => {
      const lines = (out + chunk).split('\n');
      out = lines.pop();
      for (const text of lines) {
        if (!text.trim()) continue;
        let message;
        try {
          message = JSON.parse(text);
        } catch {
          message = { unparsed: text }; // stdout must carry JSON-RPC only: a test will see this
        }
        this.messages.push(message);
        for (const listener of this.listeners) listener();
      }
    });
    let err = '';
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk) => {
      const lines = (err + chunk).split('\n');
      err = lines.pop();
      this.stderr.push(...lines);
      for (const listener of this.listeners) listener();
    });
    this.exited.then(() => {
      if (err) this.stderr.push(err);
      for (const listener of this.listeners) listener();
    });
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  send(message) {
    this.child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  notify(method, params) {
    this.send(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params });
  }

  /** Waits until `check()` returns something truthy, the process exits, or `timeoutMs`. */
  until(check, what, timeoutMs) {
    return new Promise((done, fail) => {
      const finish = (error, value) => {
        clearTimeout(timer);
        this.listeners.delete(listen);
        error ? fail(error) : done(value);
      };
      const listen = () => {
        const value = check();
        if (value) return finish(null, value);
        if (!this.running) finish(new Error(`mcp-remote exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}:\n${this.stderr.join('\n')}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`no ${what} within ${timeoutMs} ms:\n${this.stderr.join('\n')}`)),
        timeoutMs,
      );
      this.listeners.add(listen);
      listen();
    });
  }

  /** Sends a request and resolves with its whole JSON-RPC response (result or error). */
  request(method, params, timeoutMs = 15_000) {
    const id = this.nextId++;
    this.send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
    return this.until(() => this.messages.find((message) => message.id === id), `answer to ${method} (id ${id})`, timeoutMs);
  }

  /** initialize + notifications/initialized, as a desktop client opens its session. */
  async initialize(timeoutMs = 20_000) {
    const answer = await this.request('initialize', {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: 'mcp-oauth-sim-test', version: '1.0.0' },
    }, timeoutMs);
    if (answer.result) this.notify('notifications/initialized');
    return answer;
  }

  /** The first stderr line (without the `[pid] ` prefix) matching `pattern`, waiting for it. */
  waitForLog(pattern, timeoutMs = 10_000) {
    return this.until(() => this.log().find((text) => pattern.test(text)), `log line matching ${pattern}`, timeoutMs);
  }

  /** Its stderr, one entry per line, the `[pid] ` prefixes removed. */
  log() {
    return this.stderr.map((text) => text.replace(/^\[\d+\] /, ''));
  }

  /** Resolves with `{ code, signal }` once it has exited, or rejects after `timeoutMs`. */
  async waitForExit(timeoutMs) {
    let timer;
    const timeout = new Promise((_, fail) => {
      timer = setTimeout(() => fail(new Error(`mcp-remote still running after ${timeoutMs} ms:\n${this.stderr.join('\n')}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Closes stdin, as a desktop client does when it is done (mcp-remote then shuts down and exits
   * 0), and kills it if it has not exited within a bound. Resolves with `{ code, signal }`.
   */
  async stop() {
    if (this.running) {
      this.child.stdin.end();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }
}

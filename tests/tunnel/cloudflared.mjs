// A stand-in for a cloudflared quick tunnel, so that scripts/tunnel.sh can be tested without
// the network or an account: `cloudflared tunnel --no-autoupdate --url URL [--no-tls-verify]`
// starts a reverse proxy on 127.0.0.1 (a port the OS picks) forwarding to URL, and prints
// cloudflared's banner to stderr with `http://<host>:<port>` where cloudflared prints its
// `https://<random>.trycloudflare.com`.
//
// As cloudflared does, it passes the client's own `Host` through: the rig sees the public name
// (`<host>:<proxy port>`), not the address it listens on, which is what the re-pointed MCP
// server's host check must accept.
//
// Knobs for the tests (environment):
//   CLOUDFLARED_STANDIN_HOST=NAME  the host of the announced URL (default localhost); a name
//                                  that is not loopback makes the rig guard its control plane,
//                                  as a trycloudflare.com URL does (the test resolves NAME)
//   CLOUDFLARED_STANDIN_NO_URL=1   never print the URL (the script's bounded wait must end)
//   CLOUDFLARED_STANDIN_PIDS=DIR   write an empty file DIR/<pid>, so a test can check that the
//                                  script stopped every tunnel it started
//
// It exits when its parent does: a script killed with SIGKILL leaves no proxy behind.
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';

function usage(why) {
  process.stderr.write(`cloudflared stand-in: ${why}\n`);
  process.stderr.write('usage: cloudflared tunnel --no-autoupdate --url URL [--no-tls-verify]\n');
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.shift() !== 'tunnel') usage('only `tunnel` is supported');
let target;
let verifyTls = true;
while (args.length > 0) {
  const arg = args.shift();
  if (arg === '--no-autoupdate') continue;
  if (arg === '--no-tls-verify') verifyTls = false;
  else if (arg === '--url' && args.length > 0) target = new URL(args.shift());
  else usage(`unexpected argument ${JSON.stringify(arg)}`);
}
if (!target) usage('--url URL is required');
const client = target.protocol === 'https:' ? https : http;

if (process.env.CLOUDFLARED_STANDIN_PIDS) {
  writeFileSync(join(process.env.CLOUDFLARED_STANDIN_PIDS, String(process.pid)), '');
}

// One write per line, as cloudflared's logger does, so a reader never sees half a URL.
const log = (text) => process.stderr.write(`${new Date().toISOString()} INF ${text}\n`);

// Hop-by-hop headers belong to one connection (RFC 9110 section 7.6.1); Node sets its own.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'];
const endToEnd = (headers) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.includes(name)));

const proxy = http.createServer((request, response) => {
  const upstream = client.request(
    {
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: request.method,
      path: request.url,
      headers: endToEnd(request.headers),
      rejectUnauthorized: verifyTls,
    },
    (answer) => {
      response.writeHead(answer.statusCode, endToEnd(answer.headers));
      answer.pipe(response);
    },
  );
  upstream.on('error', (error) => {
    log(`error="Unable to reach the origin service" originService=${target} ${error.message}`);
    if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
    response.end('bad gateway\n');
  });
  request.pipe(upstream);
});

proxy.listen(0, '127.0.0.1', () => {
  const host = process.env.CLOUDFLARED_STANDIN_HOST || 'localhost';
  const url = `http://${host}:${proxy.address().port}`;
  // The first line names a URL too (cloudflared's advice on named tunnels): the script must
  // take the tunnel's URL from the banner, not the first URL in the log.
  log('Thank you for trying Cloudflare Tunnel. (stand-in) Named tunnels: https://developers.cloudflare.com/cloudflare-one/connections/connect-apps');
  log('Requesting new quick Tunnel on trycloudflare.com...');
  if (process.env.CLOUDFLARED_STANDIN_NO_URL) return;
  const width = 92;
  log(`+${'-'.repeat(width)}+`);
  log(`|${'  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):'.padEnd(width)}|`);
  log(`|${`  ${url}`.padEnd(width)}|`);
  log(`+${'-'.repeat(width)}+`);
  log(`Registered tunnel connection connIndex=0 location=stand-in protocol=http1 origin=${target}`);
});

const parent = process.ppid;
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    process.exit(0);
  }
}, 200).unref();

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`Initiated graceful shutdown (${signal})`);
    process.exit(0);
  });
}

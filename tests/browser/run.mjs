// Runs the browser tests: each test file in a Node process of its own (../clients/passes.mjs),
// bounded in time, over HTTP (the scheme changes nothing a page shows; the client suites prove
// both schemes).
//
//   node run.mjs
//
// Env: MCP_OAUTH_SIM_BIN (default <repo>/target/debug/mcp-oauth-sim), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOTS=1 to refresh docs/images/consent.png and dashboard.png.

import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { environment, runFile } from '../clients/passes.mjs';
import { BINARY } from '../clients/rig.mjs';
import { CHROMIUM } from './browser.mjs';

const FILE_TIMEOUT_MS = 120_000;
const FILES = ['browser.test.mjs', 'consent.test.mjs', 'dashboard.test.mjs', 'dashboard-login.test.mjs'];

for (const [path, hint] of [
  [BINARY, 'cargo build -p mcp-oauth-sim (or set MCP_OAUTH_SIM_BIN)'],
  [CHROMIUM, 'apt-get install chromium (or set CHROMIUM)'],
]) {
  if (!existsSync(path)) {
    console.error(`error: ${path} does not exist: ${hint}`);
    process.exit(1);
  }
}

const dir = dirname(fileURLToPath(import.meta.url));
const failed = [];
for (const file of FILES) {
  console.log(`== browser tests: ${file}`);
  const status = await runFile({ label: `browser ${file}`, cwd: dir, file, env: environment('http'), timeoutMs: FILE_TIMEOUT_MS });
  if (status !== 0) failed.push(file);
}
if (failed.length > 0) {
  console.error(`error: browser tests failed: ${failed.join(', ')}`);
  process.exit(1);
}

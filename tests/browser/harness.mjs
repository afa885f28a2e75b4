// What every browser test does around its body: one Chromium per test file (launched before the
// first test, closed after the last), and per test a rig of its own on ephemeral ports
// (../clients/rig.mjs, over HTTP), a fresh browser context, a loopback callback server for the
// client's redirect, every SDK client closed and everything stopped whatever happens. A failing
// test prints the rig's output and keeps a screenshot of the page as it was
// (target/browser-screenshots/failed-<n>.png).

import { after, test } from 'node:test';
import { startRig } from '../clients/rig.mjs';
import { launchBrowser, newPage, screenshot } from './browser.mjs';
import { startCallbackServer } from './browser-client.mjs';

const TEST_TIMEOUT_MS = 30_000;

let launched;
const browser = () => (launched ??= launchBrowser());
after(async () => {
  const running = await launched?.catch(() => undefined); // a failed launch failed its test already
  await running?.close();
});

let failures = 0;

/**
 * `browserTest(name, body, { env, javaScriptEnabled })`: `body({ rig, page, context, callback,
 * track })` with the rig started with `env` and the page in a context with scripting on or off;
 * `track(client)` registers an SDK client for closing.
 */
export function browserTest(name, body, { env = {}, javaScriptEnabled = true } = {}) {
  test(name, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const rig = await startRig({ scheme: 'http', env });
    const clients = [];
    let context;
    let page;
    let callback;
    const stopRig = () => rig.stop();
    t.signal.addEventListener('abort', stopRig); // timed out: the body may never return
    try {
      ({ context, page } = await newPage(await browser(), { javaScriptEnabled }));
      callback = await startCallbackServer();
      await body({ rig, page, context, callback, track: (client) => (clients.push(client), client) });
    } catch (error) {
      if (page) {
        failures += 1;
        const file = await screenshot(page, `failed-${failures}`).catch(() => undefined);
        if (file) t.diagnostic(`the page when it failed: ${file} (${page.url()})`);
      }
      t.diagnostic(`rig output:\n${rig.log.join('\n')}`);
      throw error;
    } finally {
      t.signal.removeEventListener('abort', stopRig);
      await Promise.allSettled(clients.map((client) => client.close()));
      await context?.close().catch(() => {});
      await callback?.close();
      await rig.stop();
    }
  });
}

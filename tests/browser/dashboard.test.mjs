// The dashboard in a real browser: what a person clicks there changes the rig (its control
// plane's own state says so), and a real client's flow — the v1 TypeScript SDK authorizing
// through a browser page of its own — is drawn on the timeline as it happens (a rig started
// exposed, signed in to through the form: dashboard-login.test.mjs). The names are the ones
// crates/mcp-oauth-sim/src/dashboard/page.rs and assets/dashboard.js write: a scenario's buttons
// `#scenario-<name>-<value>` / `-apply`, its shown value `[data-state-of=<name>]`, the state
// summary `[data-state-key=…]`, the equivalent command `#equivalent-cli`, the timeline's
// `#timeline-status[data-status=live]` and, per client, `.lane[data-client=<id>]` holding one
// `li.event[data-kind=…]` per request.

import assert from 'node:assert/strict';
import { echo } from '../clients/sdk-calls.mjs';
import { screenshot } from './browser.mjs';
import { BrowserProvider, finishAuthorization, startAuthorization } from './browser-client.mjs';
import { openDashboard } from './dashboard-page.mjs';
import { browserTest } from './harness.mjs';

/**
 * The SDK's whole interactive flow, with the rig consenting by itself: its own browser page
 * opens the authorization URL, the redirect reaches the callback at once, finishAuth, connect.
 */
async function authorizedClient({ rig, context, callback }, clientName) {
  const browserPage = await context.newPage();
  const provider = new BrowserProvider({ page: browserPage, callback, clientName });
  const arriving = callback.next();
  const pending = await startAuthorization(rig.mcpUrl, provider);
  const query = await arriving;
  assert.ok(query.code, `the callback carries a code: ${JSON.stringify(query)}`);
  const client = await finishAuthorization(rig.mcpUrl, provider, pending, query.code);
  await browserPage.close();
  return { client, provider };
}

browserTest('Turning rotation on from the dashboard turns it on in the rig, and shows the command', async ({ rig, page }) => {
  await openDashboard(rig, page);
  assert.equal((await rig.state('oauth')).toggles.rotate_refresh_tokens, false);

  await page.locator('#scenario-rotate-on').click();
  await page.locator('[data-state-of="rotate"][data-value="on"]').waitFor();
  assert.equal((await rig.state('oauth')).toggles.rotate_refresh_tokens, true, 'the rig rotates now');
  assert.match(await page.locator('#equivalent-cli').textContent(), /^cargo scenario rotate on\b/);
  assert.match(await page.locator('#equivalent-curl').textContent(), /curl .*\/control\/rotate/);

  await page.locator('#scenario-rotate-off').click();
  await page.locator('[data-state-of="rotate"][data-value="off"]').waitFor();
  assert.equal((await rig.state('oauth')).toggles.rotate_refresh_tokens, false);
});

browserTest(
  'Revoking from the dashboard leaves no live access token: the client gets a 401 and refreshes',
  async (context) => {
    const { rig, page, track } = context;
    const { client, provider } = await authorizedClient(context, 'Browser test: revoked');
    track(client);
    await echo(client, 'before');
    const before = provider.tokens();
    await openDashboard(rig, page);
    await page.locator('[data-state-key="access tokens"]', { hasText: /^[1-9]/ }).waitFor();

    await page.locator('#scenario-revoke-apply').click();
    await page.locator('[data-state-key="access tokens"]', { hasText: /^0$/ }).waitFor();
    assert.equal((await rig.state('oauth')).store.access_tokens, 0, 'the rig holds no access token');
    assert.match(await page.locator('#equivalent-cli').textContent(), /^cargo scenario revoke\b/);

    const mark = await rig.mark();
    await echo(client, 'after');
    assert.deepEqual(
      (await rig.lines('mcp', mark)).filter((line) => line.includes('tools/call') || line.includes(' 401')),
      ['POST /mcp 401 invalid_token', 'POST /mcp 200 tools/call echo'],
    );
    const discovery = (line) => line.includes(' /.well-known/');
    assert.deepEqual((await rig.lines('oauth', mark)).filter((line) => !discovery(line)), ['POST /token 200 refresh_token'],
      'a refresh, no new registration or authorization');
    assert.notEqual(provider.tokens().access_token, before.access_token, 'a new access token');
  },
);

browserTest(
  'A real client\'s flow appears on the timeline as it happens: registration, authorization, code exchange, the tool call',
  async (context) => {
    const { rig, page } = context;
    await openDashboard(rig, page);
    const { client, provider } = await authorizedClient(context, 'Browser test: timeline');
    context.track(client);
    const id = provider.clientInformation().client_id;
    const lane = page.locator(`.lane[data-client="${id}"]`);
    for (const kind of ['registration', 'authorization', 'code-exchange']) {
      await lane.locator(`li.event[data-kind="${kind}"]`).first().waitFor();
    }
    assert.equal(await lane.locator('li.event[data-kind="tool"]').count(), 0, 'no tool called yet');

    await echo(client, 'on the timeline');
    const call = lane.locator('li.event[data-kind="tool"]');
    await call.first().waitFor();
    assert.equal(await call.count(), 1);
    assert.match(await call.textContent(), /tool echo.*200/);
    assert.equal(await call.getAttribute('data-service'), 'mcp');
    // In the order they happened.
    const kinds = await lane.locator('li.event').evaluateAll((rows) => rows.map((row) => row.dataset.kind));
    const order = ['registration', 'authorization', 'code-exchange', 'tool'].map((kind) => kinds.indexOf(kind));
    assert.deepEqual([...order].sort((a, b) => a - b), order, `in order: ${kinds.join(', ')}`);
    await page.locator('[data-state-key="tool calls"]', { hasText: /^1$/ }).waitFor();
    await page.locator('#timeline').scrollIntoViewIfNeeded();
    await screenshot(page, 'dashboard', { docs: true });
  },
);

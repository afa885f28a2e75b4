// The dashboard of a rig started exposed (a control token): the page asks for the token once,
// through its login form, and then works on a session cookie (HttpOnly, SameSite=Strict): a
// switch flipped there changes the rig, and a reload stays signed in.

import assert from 'node:assert/strict';
import { ACTION_TIMEOUT_MS } from './browser.mjs';
import { dashboardUrl, live } from './dashboard-page.mjs';
import { browserTest } from './harness.mjs';

const CONTROL_TOKEN = 'browser-test-control-token-0123456789';

/** A control call with the control token, for a rig started exposed. */
async function controlState(rig, token) {
  const response = await fetch(`${rig.issuer}/control/state`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(ACTION_TIMEOUT_MS),
  });
  assert.equal(response.status, 200, `GET /control/state: ${response.status}`);
  return response.json();
}

browserTest(
  'An exposed rig\'s dashboard asks for the control token once, then works on a session cookie',
  async (context) => {
    const { rig, page } = context;
    const url = await dashboardUrl(rig);
    const first = await page.goto(url);
    assert.equal(first.status(), 401, 'no page without the token');
    await page.locator('#login-token').fill('not the token');
    await page.locator('#login-submit').click();
    await page.locator('#login-error').waitFor();

    await page.locator('#login-token').fill(CONTROL_TOKEN);
    await page.locator('#login-submit').click();
    await live(page);
    const [cookie] = await context.context.cookies(url);
    assert.equal(cookie.name, 'dashboard_session');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');

    await page.locator('#scenario-rotate-on').click();
    await page.locator('[data-state-of="rotate"][data-value="on"]').waitFor();
    assert.equal((await controlState(rig, CONTROL_TOKEN)).toggles.rotate_refresh_tokens, true);
    await page.reload();
    await page.locator('[data-state-of="rotate"][data-value="on"]').waitFor(); // still signed in
  },
  { env: { CONTROL_TOKEN } },
);

// The consent page in a real browser, with a real client waiting on the other side: the v1
// TypeScript SDK registers, opens the authorization URL in Chromium, and the test decides as a
// person would — Approve, Deny, Approve with a scope unticked or as another user — then the
// callback hands the result back to the SDK. The page's names are the ones its module documents
// (crates/oauth-server/src/endpoints/consent_page.rs): `#consent-form`, `#scope-N`, `#user-N`,
// `#users`, `#approve`, `#deny`, `#client-name`, `#client-id`, `#client-kind`, `#redirect-host`.

import assert from 'node:assert/strict';
import { echo, whoami } from '../clients/sdk-calls.mjs';
import { screenshot } from './browser.mjs';
import { BrowserProvider, finishAuthorization, startAuthorization } from './browser-client.mjs';
import { browserTest } from './harness.mjs';

// The consent page from start-up (CONSENT=page); the Deny test switches it on live instead.
const PAGE = { CONSENT: 'page' };

// Two scopes the rig announces, both named in its 401 challenge, so the SDK asks for both; and
// two users: one who may be granted everything, one who may be granted mcp:tools only.
const TWO_SCOPES = {
  ...PAGE,
  SCOPES: 'mcp:tools mcp:write',
  MCP_PROFILE: JSON.stringify({ challenge_scope: ['mcp:tools', 'mcp:write'] }),
  USERS: JSON.stringify([
    { sub: 'ada', name: 'Ada Admin' },
    { sub: 'rita', name: 'Rita Reader', scopes: ['mcp:tools'] },
  ]),
};

/** The SDK's authorization open in `page` (the rig in page mode): resolves once the page is shown. */
async function consentPage({ rig, page, callback }, clientName) {
  const provider = new BrowserProvider({ page, callback, clientName });
  const pending = await startAuthorization(rig.mcpUrl, provider);
  await page.locator('#consent-form').waitFor();
  return { provider, pending };
}

/** The callback's query, after the check every redirect handler makes: the state sent came back. */
async function checkedCallback(callback, provider, clicking) {
  const arriving = callback.next();
  await clicking();
  const query = await arriving;
  assert.equal(query.state, provider.opened.at(-1).searchParams.get('state'), 'the state sent comes back');
  return query;
}

browserTest(
  'Approve on the consent page: the client gets its tokens and calls echo',
  async (context) => {
    const { rig, page, callback, track } = context;
    assert.equal((await rig.state('oauth')).consent.mode, 'page', 'CONSENT=page at start-up');
    const { provider, pending } = await consentPage(context, 'Browser test: approve');

    // Who asks, as the page shows it.
    const registered = provider.clientInformation();
    assert.equal(await page.locator('#client-name').textContent(), 'Browser test: approve');
    assert.equal((await page.locator('#client-id').textContent()).trim(), registered.client_id);
    assert.equal((await page.locator('#client-kind').textContent()).trim(), 'dynamic');
    assert.equal((await page.locator('#redirect-host').textContent()).trim(), new URL(callback.url).host);
    assert.ok(await page.locator('#scope-0').isChecked());
    assert.equal(await page.locator('#scope-0').getAttribute('value'), 'mcp:tools');
    assert.ok(await page.locator('#user-0').isChecked());
    assert.equal(await page.locator('#user-0').getAttribute('value'), 'demo-user');

    const query = await checkedCallback(callback, provider, () => page.locator('#approve').click());
    assert.equal(query.error, undefined, `the callback carries no error: ${JSON.stringify(query)}`);
    assert.ok(query.code, 'the callback carries a code');
    assert.equal(query.iss, rig.issuer);
    await page.locator('#callback').waitFor(); // the browser landed on the client's callback

    const client = track(await finishAuthorization(rig.mcpUrl, provider, pending, query.code));
    assert.ok(provider.tokens()?.access_token, 'the SDK saved an access token');
    await echo(client, 'approved in a browser');
    assert.equal((await whoami(client)).subject, 'demo-user');
    const counters = await rig.oauthCounters();
    assert.equal(counters.authorizations, 1);
    assert.equal(counters.token_requests.authorization_code, 1);
  },
  { env: PAGE },
);

browserTest('Deny on the consent page (switched on live): the client is sent access_denied and gets no token', async (context) => {
  const { rig, page, callback } = context;
  await rig.control('oauth', 'consent-mode', { mode: 'page' });
  assert.equal((await rig.state('oauth')).consent.mode, 'page');
  const { provider } = await consentPage(context, 'Browser test: deny');

  const query = await checkedCallback(callback, provider, () => page.locator('#deny').click());
  assert.equal(query.error, 'access_denied');
  assert.equal(query.code, undefined);
  assert.equal(query.iss, rig.issuer);
  assert.equal(provider.tokens(), undefined, 'the SDK holds no token');
  const counters = await rig.oauthCounters();
  assert.equal(counters.consent_denials, 1);
  assert.equal(counters.token_requests.authorization_code, 0);
});

browserTest(
  'Unticking a scope on the consent page narrows the grant: the token response says the narrowed scope',
  async (context) => {
    const { rig, page, callback, track } = context;
    const { provider, pending } = await consentPage(context, 'Example MCP client');
    assert.equal(provider.opened.at(-1).searchParams.get('scope'), 'mcp:tools mcp:write', 'the SDK asks for both');
    assert.equal(await page.locator('#scope-1').getAttribute('value'), 'mcp:write');

    await page.locator('#scope-1').uncheck();
    await screenshot(page, 'consent', { docs: true });
    const query = await checkedCallback(callback, provider, () => page.locator('#approve').click());
    assert.ok(query.code, `the callback carries a code: ${JSON.stringify(query)}`);

    const client = track(await finishAuthorization(rig.mcpUrl, provider, pending, query.code));
    assert.equal(provider.tokens().scope, 'mcp:tools', 'the token response names the narrowed scope');
    await echo(client, 'narrowed'); // mcp:tools is all echo needs
    assert.equal((await whoami(client)).subject, 'ada');
  },
  { env: TWO_SCOPES },
);

browserTest(
  'Acting as a user who may not have a scope: the grant leaves it out, and the tokens are that user\'s',
  async (context) => {
    const { rig, page, callback, track } = context;
    const { provider, pending } = await consentPage(context, 'Browser test: user picker');
    assert.equal(await page.locator('#user-1').getAttribute('value'), 'rita');
    assert.match(await page.locator('#users').innerText(), /Rita Reader/);

    await page.locator('#user-1').check(); // both scopes still ticked
    const query = await checkedCallback(callback, provider, () => page.locator('#approve').click());
    assert.ok(query.code, `the callback carries a code: ${JSON.stringify(query)}`);

    const client = track(await finishAuthorization(rig.mcpUrl, provider, pending, query.code));
    assert.equal(provider.tokens().scope, 'mcp:tools', 'Rita may be granted mcp:tools only');
    assert.equal((await whoami(client)).subject, 'rita');
  },
  { env: TWO_SCOPES },
);

browserTest(
  'The consent page works with JavaScript off: Approve is a plain form POST',
  async (context) => {
    const { rig, page, callback, track } = context;
    const { provider, pending } = await consentPage(context, 'Browser test: no script');
    assert.equal(await page.locator('script').count(), 0, 'the page has no script');

    await page.locator('#scope-1').uncheck();
    const query = await checkedCallback(callback, provider, () => page.locator('#approve').click());
    assert.ok(query.code, `the callback carries a code: ${JSON.stringify(query)}`);
    const client = track(await finishAuthorization(rig.mcpUrl, provider, pending, query.code));
    assert.equal(provider.tokens().scope, 'mcp:tools');
    await echo(client, 'no script');
  },
  { env: TWO_SCOPES, javaScriptEnabled: false },
);

browserTest(
  'A hostile client name is shown as text on the consent page, never run as script',
  async (context) => {
    const { page } = context;
    const hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>"\'&';
    const dialogs = [];
    page.on('dialog', (dialog) => (dialogs.push(dialog.message()), dialog.dismiss()));
    await consentPage(context, hostile);
    assert.equal(await page.locator('#client-name').textContent(), hostile, 'the name, character for character');
    assert.equal(await page.locator('#client-name img, #client-name script').count(), 0, 'no element made of it');
    assert.equal(await page.evaluate(() => window.pwned), undefined, 'nothing of it ran');
    assert.equal(await page.title(), `Authorize ${hostile}`);
    assert.deepEqual(dialogs, []);
  },
  { env: PAGE },
);

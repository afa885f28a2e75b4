// The TypeScript SDK's OAuth client (`@modelcontextprotocol/sdk`) against the real rig, one
// scenario of README "Tested clients" (1–12) per test, each on a rig of its own
// (../scenario-harness.mjs: the scheme, the rig, the result file).
//
// Each passing scenario writes $CLIENT_MATRIX_DIR/typescript/<scheme>-<n>.json (default
// <repo>/target/client-matrix), which tests/clients/matrix.mjs turns into the README's table.
// Where the SDK behaves differently from the generic expectation, the test asserts what it
// really does and says so in a comment.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnauthorizedError, auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { TemporarilyUnavailableError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { HeadlessProvider, REDIRECT_URL, connectWithAuth, newClient } from './provider.mjs';
import { SDK } from './sdk.mjs';
import { line } from '../rig.mjs';
import { FRESH, SEED, ZERO, delta, scenarioTest, storedCredentials } from '../scenario-harness.mjs';
import { STREAM_REFUSED, echo, settledConnect, text, whoami } from '../sdk-calls.mjs';
import { rotationScenario } from '../rotation-scenario.mjs';

const scenario = scenarioTest(SDK);
/** connectWithAuth, then wait until the SDK's background GET has been answered. */
const connect = (rig, provider) => settledConnect(rig, () => connectWithAuth(rig.mcpUrl, provider));

scenario(1, 'first-time consent with PKCE', async (rig, track) => {
  const provider = new HeadlessProvider();
  // The SDK gets nothing but the MCP URL: 401 → PRM → AS metadata → DCR → authorize → token.
  const client = track(await connect(rig, provider));

  const clientId = provider.clientInformation().client_id;
  assert.ok(clientId, 'the SDK registered a client');
  assert.deepEqual(provider.clientInformation().redirect_uris, [REDIRECT_URL]);
  assert.equal(provider.authorizations.length, 1);
  const { url, callback, state, sentState, iss } = provider.lastAuthorization;
  assert.equal(`${url.origin}${url.pathname}`, `${rig.issuer}/authorize`);
  assert.equal(url.searchParams.get('client_id'), clientId);
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(url.searchParams.get('resource'), rig.mcpUrl);
  assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URL);
  assert.equal(state, sentState);
  assert.equal(iss, rig.issuer);
  assert.ok(provider.tokens().access_token && provider.tokens().refresh_token);

  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((tool) => tool.name).sort(), ['add', 'echo', 'whoami']);
  await echo(client, 'hello from the TypeScript SDK');
  assert.equal(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })), '5');
  const me = await whoami(client);
  assert.equal(me.client_id, clientId, 'whoami names the client the SDK registered');
  assert.equal(me.subject, 'demo-user');

  const counters = await rig.oauthCounters();
  assert.deepEqual(delta(FRESH, counters), { ...ZERO, registrations: 1, authorizations: 1, code_grants: 1 });
  assert.equal((await rig.mcpCounters()).unauthorized, 1, 'exactly one 401: the first, tokenless request');
  return 'discovery from the MCP URL alone, DCR, PKCE S256 with state and resource, iss returned; tools listed and called; whoami shows the registered client_id';
});

scenario(2, 'refresh on expiry', async (rig, track) => {
  await rig.expireAccess(2);
  const provider = new HeadlessProvider();
  const client = track(await connect(rig, provider));
  const issuedBy = Date.now(); // the token was issued before this moment
  assert.equal(provider.tokens().expires_in, 2);
  await echo(client, 'before expiry');
  const before = await rig.oauthCounters();
  assert.ok(Date.now() - issuedBy < 1500, 'the first call must land inside the 2 s lifetime (machine too slow?)');
  assert.equal(before.token_requests.refresh_token, 0);

  await sleep(issuedBy + 2200 - Date.now());
  // The SDK keeps no expiry clock of its own (expires_in is stored, never read): the call goes
  // out with the dead token, gets 401 invalid_token, and the SDK refreshes and retries once.
  await echo(client, 'after expiry');
  const counters = delta(before, await rig.oauthCounters());
  assert.deepEqual(counters, { ...ZERO, refresh_grants: 1 });
  assert.equal(provider.authorizations.length, 1, 'no new consent');
  assert.equal(provider.savedTokens.length, 2);
  return 'no local expiry check: the expired token draws a 401, then one refresh_token grant and a retry; both calls succeed';
});

scenario(3, 'revoked token, recovery', async (rig, track) => {
  const provider = new HeadlessProvider();
  const client = track(await connect(rig, provider));
  const oldAccess = provider.tokens().access_token;
  const before = await rig.oauthCounters();
  const mcpBefore = await rig.mcpCounters();

  await rig.revoke();
  const me = await whoami(client);
  assert.equal(me.client_id, provider.clientInformation().client_id);
  assert.notEqual(provider.tokens().access_token, oldAccess);
  assert.deepEqual(delta(before, await rig.oauthCounters()), { ...ZERO, refresh_grants: 1 });
  assert.equal((await rig.mcpCounters()).unauthorized - mcpBefore.unauthorized, 1);
  assert.equal(provider.authorizations.length, 1, 'no new consent');
  return '401 invalid_token → one refresh_token grant → the call is retried and succeeds, no re-consent';
});

// 4: the same for both SDKs (../rotation-scenario.mjs).
rotationScenario(scenario, { HeadlessProvider, connect });

scenario(5, 'dead refresh token', async (rig, track) => {
  const provider = new HeadlessProvider();
  const client = track(await connect(rig, provider));
  await rig.deadRefresh(true);
  await rig.revoke();
  const before = await rig.oauthCounters();

  // 401 → refresh → 400 invalid_grant → the SDK drops its tokens (invalidateCredentials
  // 'tokens') and starts a new authorization at once (redirectToAuthorization), then rejects
  // the call with UnauthorizedError. One refresh attempt, no loop.
  await assert.rejects(echo(client, 'with a dead refresh token'), UnauthorizedError);
  assert.deepEqual(provider.invalidations, ['tokens']);
  assert.equal(provider.tokens(), undefined);
  assert.equal(provider.authorizations.length, 2, 'a new authorization was started');
  assert.deepEqual(delta(before, await rig.oauthCounters()),
    { ...ZERO, refresh_grants: 1, forced_invalid_grants: 1, token_errors: 1, authorizations: 1 });

  // The user consents (the headless browser already did): finish it on the same transport.
  await rig.deadRefresh(false);
  await client.transport.finishAuth(provider.takeCode());
  await echo(client, 'after re-consent');
  const after = delta(before, await rig.oauthCounters());
  assert.equal(after.code_grants, 1);
  assert.equal(after.registrations, 0, 'the client registration is kept');
  return 'invalid_grant on refresh → invalidateCredentials(tokens) and a new authorization request; the call rejects with UnauthorizedError (1 refresh attempt); after finishAuth calls succeed';
});

scenario(6, 'consent denied', async (rig, track) => {
  await rig.denyConsent(true);
  const provider = new HeadlessProvider();
  const { client, transport } = newClient(rig.mcpUrl, provider);
  track(client);
  // The SDK cannot see the callback (the application receives it); connect rejects with
  // UnauthorizedError because authorization is pending, and the callback carries the denial.
  await assert.rejects(client.connect(transport), UnauthorizedError);
  assert.equal(provider.authorizations.length, 1);
  const { code, error, state, sentState, iss } = provider.lastAuthorization;
  assert.equal(error, 'access_denied');
  assert.equal(code, undefined);
  assert.equal(state, sentState, 'the state comes back with the error');
  assert.equal(iss, rig.issuer);
  assert.throws(() => provider.takeCode(), /access_denied/);
  assert.equal(provider.tokens(), undefined);

  const counters = await rig.oauthCounters();
  assert.equal(counters.consent_denials, 1);
  assert.equal(counters.authorizations, 0);
  assert.equal(counters.token_requests.authorization_code + counters.token_requests.refresh_token, 0);
  assert.equal(counters.tokens_issued, 0);
  assert.equal(counters.store.access_tokens, 0, 'no token issued');
  return 'redirect carries error=access_denied with the state and iss; connect rejects with UnauthorizedError; no token request, no token';
});

scenario(7, 'insufficient scope', async (rig, track) => {
  const provider = new HeadlessProvider();
  const client = track(await connect(rig, provider));
  await rig.badScope(true);
  const before = await rig.oauthCounters();
  const mcpBefore = await rig.mcpCounters();

  // 403 insufficient_scope → the SDK "upscopes" by refreshing (a refresh cannot widen a scope,
  // so it presents no new one), gets the same 403 and throws. Bounded: 2 tool calls, 1 refresh,
  // 0 authorization requests.
  await assert.rejects(echo(client, 'forbidden'), (error) =>
    error instanceof StreamableHTTPError && error.code === 403 && /after trying upscoping/.test(error.message));
  assert.deepEqual(delta(before, await rig.oauthCounters()), { ...ZERO, refresh_grants: 1 });
  assert.equal((await rig.mcpCounters()).forbidden - mcpBefore.forbidden, 2);
  assert.equal(provider.authorizations.length, 1, 'no new authorization request');

  // The transport remembers the challenge it already tried: a second call fails on the first
  // 403, with no token request at all.
  await assert.rejects(echo(client, 'forbidden again'), /after trying upscoping/);
  assert.deepEqual(delta(before, await rig.oauthCounters()), { ...ZERO, refresh_grants: 1 });
  assert.equal((await rig.mcpCounters()).forbidden - mcpBefore.forbidden, 3);

  await rig.badScope(false);
  await echo(client, 'allowed again');
  return '403 → one refresh without a new scope → 403 → "Server returned 403 after trying upscoping" (2 tool-call POSTs, 1 refresh, 0 authorize); a second call fails on the first 403';
});

scenario(8, 'stored credentials (seeded refresh token)', async (rig, track) => {
  // The client's storage from an earlier session (../scenario-harness.mjs).
  const { provider, clientInformation } = await storedCredentials(rig, HeadlessProvider);

  const { client, transport } = newClient(rig.mcpUrl, provider);
  track(client);
  const mark = rig.log.length;
  await client.connect(transport); // no UnauthorizedError: the 401 is answered by a refresh
  await rig.waitForLine(STREAM_REFUSED, mark);
  const me = await whoami(client);
  assert.equal(me.client_id, clientInformation.client_id);
  assert.equal(provider.authorizations.length, 0, 'no consent round');
  assert.equal(provider.savedClients.length, 0, 'no new registration');
  assert.equal(provider.tokens().refresh_token, SEED, 'rotation is off: the seed stays the refresh token');

  const counters = await rig.oauthCounters();
  assert.equal(counters.registrations, 1);
  assert.equal(counters.authorizations, 0);
  assert.equal(counters.token_requests.authorization_code, 0);
  assert.equal(counters.token_requests.refresh_token, 1);
  assert.equal(counters.refreshes, 1);
  return 'stored tokens with the seeded refresh token and a stale access token: 401 → one refresh_token grant → calls succeed, no consent';
}, { env: { SEED_REFRESH_TOKEN: SEED } });

// Scenarios 9–11 read the rig's request journals (GET /control/events) to assert the whole
// sequence of requests. The SDK runs discovery again on every auth(): each refresh is preceded by
// a GET of the protected resource metadata (MCP journal) and of the AS metadata (AS journal).
const PRM = 'GET /.well-known/oauth-protected-resource/mcp 200';
const AS_METADATA = 'GET /.well-known/oauth-authorization-server 200';
const REFRESH_DOWN = { endpoint: 'token', match: { grant_type: 'refresh_token' } };

scenario(9, 'AS down during refresh', async (rig, track) => {
  const provider = new HeadlessProvider();
  const client = track(await connect(rig, provider));
  await rig.revoke();
  const rule = await rig.addFault('oauth', { ...REFRESH_DOWN, respond: { status: 503 }, times: 2 });
  const refreshToken = provider.tokens().refresh_token;
  const mark = await rig.mark();

  // 401 → refresh → 503 temporarily_unavailable: an OAuth error other than server_error, so the
  // SDK rethrows it (TemporarilyUnavailableError) out of the tool call. Nothing is invalidated,
  // no authorization is started, the refresh is not retried (Retry-After: 1 is not read).
  for (const attempt of ['while the AS is down', 'while the AS is still down']) {
    await assert.rejects(echo(client, attempt), TemporarilyUnavailableError);
  }
  assert.deepEqual(await rig.faults('oauth'), [], 'the rule is spent');
  assert.deepEqual(provider.invalidations, []);
  assert.equal(provider.authorizations.length, 1, 'no new authorization');
  assert.equal(provider.tokens().refresh_token, refreshToken, 'the stored tokens are kept');
  // The AS is back: the same client's next call refreshes and succeeds, with no action from
  // the application.
  await echo(client, 'once the AS is back');

  const down = `POST /token 503 refresh_token temporarily_unavailable fault`;
  const oauth = await rig.requests('oauth', mark);
  assert.deepEqual(oauth.map(line), [AS_METADATA, down, AS_METADATA, down, AS_METADATA, 'POST /token 200 refresh_token']);
  assert.deepEqual(oauth.filter((event) => event.fault != null).map((event) => event.fault), [rule.id, rule.id]);
  assert.deepEqual(await rig.lines('mcp', mark), [
    'POST /mcp 401 invalid_token', PRM,
    'POST /mcp 401 invalid_token', PRM,
    'POST /mcp 401 invalid_token', PRM, 'POST /mcp 200 tools/call echo',
  ]);

  // The AS unreachable instead (the connection dropped without an answer, as for a refused
  // connection): not an OAuth error, which the SDK "logs out and continues" past: it starts a new
  // authorization in the middle of the tool call (the user would see a consent page) and the call
  // rejects with UnauthorizedError. The tokens stay stored, so the next call refreshes as usual
  // and the authorization is simply abandoned. (A 500 server_error takes the same path.)
  await rig.revoke();
  await rig.addFault('oauth', { ...REFRESH_DOWN, respond: { drop: true }, times: 1 });
  const dropped = await rig.mark();
  await assert.rejects(echo(client, 'while the AS is unreachable'), UnauthorizedError);
  assert.equal(provider.authorizations.length, 2, 'a new authorization was started');
  assert.deepEqual(provider.invalidations, []);
  assert.equal(provider.tokens().refresh_token, refreshToken);
  await echo(client, 'once the AS is reachable');
  assert.deepEqual(await rig.lines('oauth', dropped), [
    AS_METADATA, 'POST /token 0 refresh_token fault', 'GET /authorize 302',
    AS_METADATA, 'POST /token 200 refresh_token',
  ]);
  assert.equal(provider.savedTokens.length, 3, 'the first tokens and the two successful refreshes');
  return '503 temporarily_unavailable on the refresh: the call rejects with TemporarilyUnavailableError, tokens kept, no retry, no authorization; the next call refreshes and succeeds. A dropped connection (or 500 server_error) instead starts a new authorization and rejects with UnauthorizedError, tokens kept';
});

scenario(10, 'rate-limited refresh', async (rig, track) => {
  const provider = new HeadlessProvider();
  const client = track(await connect(rig, provider));
  await rig.revoke();
  const rule = await rig.addFault('oauth', { ...REFRESH_DOWN, respond: { status: 429, retry_after: 1 }, times: 1 });
  const mark = await rig.mark();

  // The rig answers the 429 with `temporarily_unavailable` (RFC 6749 has no rate-limit code), so
  // the SDK treats it as scenario 9's 503: the call rejects at once; Retry-After is not read and
  // the refresh is not retried. The next call, made right away, refreshes and succeeds.
  const started = Date.now();
  await assert.rejects(echo(client, 'while rate-limited'), (error) =>
    error instanceof TemporarilyUnavailableError && /retry after 1 s/.test(error.message));
  assert.ok(Date.now() - started < 1000, 'the SDK did not wait for Retry-After');
  assert.deepEqual(await rig.faults('oauth'), []);
  await echo(client, 'right after');
  assert.deepEqual(provider.invalidations, []);
  assert.equal(provider.authorizations.length, 1, 'no new authorization');

  const oauth = await rig.requests('oauth', mark);
  assert.deepEqual(oauth.map(line), [
    AS_METADATA, 'POST /token 429 refresh_token temporarily_unavailable fault',
    AS_METADATA, 'POST /token 200 refresh_token',
  ]);
  assert.equal(oauth[1].fault, rule.id);
  assert.deepEqual(await rig.lines('mcp', mark), [
    'POST /mcp 401 invalid_token', PRM,
    'POST /mcp 401 invalid_token', PRM, 'POST /mcp 200 tools/call echo',
  ]);
  return '429 (Retry-After: 1) on the refresh: the call rejects at once with TemporarilyUnavailableError, Retry-After not read, no retry, tokens kept; the next call (no wait) refreshes and succeeds';
});

scenario(11, 'step-up', async (rig, track) => {
  // The SDK asks for the scope of the first 401 challenge; the rig's challenge to `initialize`
  // names only what every call needs, `mcp:tools`. The test authorizes for it up front through
  // the SDK's own auth() (what connect() would do) so that the step-up below stands alone.
  const provider = new HeadlessProvider();
  assert.equal(await auth(provider, { serverUrl: rig.mcpUrl, scope: 'mcp:tools' }), 'REDIRECT');
  assert.equal(provider.lastAuthorization.url.searchParams.get('scope'), 'mcp:tools');
  assert.equal(await auth(provider, { serverUrl: rig.mcpUrl, authorizationCode: provider.takeCode() }), 'AUTHORIZED');
  assert.equal(provider.tokens().scope, 'mcp:tools');
  const { client, transport } = newClient(rig.mcpUrl, provider);
  track(client);
  const connected = rig.log.length;
  await client.connect(transport);
  await rig.waitForLine(STREAM_REFUSED, connected);
  const mark = await rig.mark();

  await echo(client, 'within mcp:tools');
  // 403 insufficient_scope, scope="mcp:tools mcp:write": the SDK keeps that scope for its next
  // auth(), but auth() refreshes when it holds a refresh token, and a refresh cannot widen the
  // grant; the retry draws the same 403 and it throws (as in scenario 7).
  await assert.rejects(client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }), (error) =>
    error instanceof StreamableHTTPError && error.code === 403 && /after trying upscoping/.test(error.message));
  assert.equal(provider.authorizations.length, 1, 'the SDK started no authorization');
  assert.equal(provider.tokens().scope, 'mcp:tools');
  assert.deepEqual(await rig.lines('oauth', mark), [AS_METADATA, 'POST /token 200 refresh_token']);
  assert.deepEqual(await rig.lines('mcp', mark), [
    'POST /mcp 200 tools/call echo',
    'POST /mcp 403 tools/call add insufficient_scope', PRM,
    'POST /mcp 403 tools/call add insufficient_scope',
  ]);

  // The application's step-up: forget the tokens (the provider is its storage) and call again.
  // Without a token the call draws a 401 naming the scopes this call needs, both (the rig's
  // challenge to a tools/call adds the tool's own scopes); with no refresh token
  // the SDK starts an authorization for that scope (same client, no registration) and rejects
  // with UnauthorizedError; the user consents, finishAuth(code), and the same client's next call
  // (same transport, same session) succeeds.
  const stepUp = await rig.mark();
  provider.invalidateCredentials('tokens');
  await assert.rejects(client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }), UnauthorizedError);
  assert.equal(provider.authorizations.length, 2);
  const { url } = provider.lastAuthorization;
  assert.equal(url.searchParams.get('scope'), 'mcp:tools mcp:write');
  assert.equal(url.searchParams.get('client_id'), provider.clientInformation().client_id);
  await transport.finishAuth(provider.takeCode());
  assert.equal(provider.tokens().scope, 'mcp:tools mcp:write');
  assert.equal(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } })), '5');
  const me = await whoami(client);
  assert.deepEqual(me.scope.split(' ').sort(), ['mcp:tools', 'mcp:write']);
  assert.equal(me.client_id, provider.clientInformation().client_id);
  assert.equal(provider.savedClients.length, 1, 'one registration');

  assert.deepEqual(await rig.lines('oauth', stepUp), [
    AS_METADATA, 'GET /authorize 302', AS_METADATA, 'POST /token 200 authorization_code',
  ]);
  assert.deepEqual(await rig.lines('mcp', stepUp), [
    'POST /mcp 401 no_token', PRM, PRM, 'POST /mcp 200 tools/call add', 'POST /mcp 200 tools/call whoami',
  ]);
  return '403 insufficient_scope for one tool: one refresh (cannot widen), same 403, "after trying upscoping"; the application drops its tokens and calls again: 401 → authorization for the challenge scope mcp:tools mcp:write → finishAuth → add succeeds on the same session';
}, { env: { SCOPES: 'mcp:tools mcp:write', TOOL_SCOPES: 'add=mcp:write' } });

scenario(12, 'parallel refresh', async (rig, track) => {
  const provider = new HeadlessProvider();
  const client = track(await connect(rig, provider));
  await rig.rotate(true);
  await rig.control('oauth', 'reuse-detection', { on: true, grace_seconds: 0 });
  await rig.revoke();
  // A slow token endpoint (300 ms per refresh) makes the two refreshes overlap every time.
  await rig.addFault('oauth', { ...REFRESH_DOWN, respond: { delay_ms: 300 }, times: 2 });
  const mark = await rig.mark();

  // Two tool calls at once, both answered 401: the SDK has no single-flight refresh, so each
  // runs its own auth() and both present the same refresh token. The AS rotates it for one and
  // sees the other as reuse: invalid_grant, and the whole grant (the pair just issued included)
  // revoked. On invalid_grant the SDK wipes the tokens — the new pair with them — and starts a
  // new authorization; that call rejects with UnauthorizedError. The other call's retry with the
  // new token either lands before the revocation (succeeds) or after (401, and the transport,
  // having just completed an auth flow, throws "401 after successful authentication").
  const outcomes = await Promise.allSettled(['a', 'b'].map((message) => echo(client, message)));
  const rejected = outcomes.filter((outcome) => outcome.status === 'rejected').map((outcome) => outcome.reason);
  assert.equal(rejected.filter((error) => error instanceof UnauthorizedError).length, 1, `${rejected}`);
  for (const error of rejected.filter((error) => !(error instanceof UnauthorizedError))) {
    assert.ok(error instanceof StreamableHTTPError && error.code === 401 && /after successful authentication/.test(error.message), `${error}`);
  }
  assert.deepEqual(provider.invalidations, ['tokens']);
  assert.equal(provider.tokens(), undefined, 'the tokens are wiped, the fresh pair included');
  assert.equal(provider.authorizations.length, 2, 'a new authorization was started');
  assert.equal((await rig.oauthCounters()).reuse_detections, 1);
  assert.deepEqual((await rig.lines('oauth', mark)).sort(), [
    AS_METADATA, AS_METADATA, AS_METADATA, 'GET /authorize 302',
    'POST /token 200 refresh_token fault', 'POST /token 400 refresh_token invalid_grant fault',
  ].sort());

  // Recovery needs the user: finishAuth with the code of the authorization the SDK started.
  await client.transport.finishAuth(provider.takeCode());
  await echo(client, 'after re-consent');
  return 'two concurrent 401s refresh side by side with the same refresh token (no single-flight); with rotation and reuse detection one gets invalid_grant, the SDK wipes the tokens (the fresh pair too) and starts a new authorization: one call rejects with UnauthorizedError; recovery needs a new consent';
});

// The v2 TypeScript SDK (`@modelcontextprotocol/client`) with a client ID metadata document
// (CIMD, SEP-991): the port of ../typescript/cimd.test.mjs (v1). The provider's
// `clientMetadataUrl` names a JSON document this test hosts over HTTPS on loopback, and the
// rig's AS fetches it as the client's registration. Each test runs on a rig of its own with a
// document host of its own, so every count is its own.
//
// What v2 does, read from dist/public-*.mjs (authInternal) and asserted below:
// - it consults `clientMetadataUrl` only when it holds no client information. It first insists
//   on an https URL with a path other than "/" (OAuthError invalid_client_metadata otherwise;
//   v1 has a class of its own for it), whatever the AS advertises, before it would register.
// - AS metadata with `client_id_metadata_document_supported: true` (exactly true): the URL is
//   the client_id, saved as `{ client_id, issuer }` through saveClientInformation, no /register.
// - anything else (false, absent): dynamic registration with `clientMetadata`, as without a URL.
// - it never fetches the document itself and never learns whether the AS could: an unusable
//   document is an error page at /authorize (which only the browser sees) or 401 invalid_client
//   at /token, which auth() answers by invalidating the client and the tokens (v1: 'all', the
//   code verifier too) and one more pass.
// - with the provider's stored discovery state it fetches the AS metadata once per provider,
//   where v1 fetches it again before every token request.
//
// Run by run.mjs once per scheme (SIM_SCHEME=http|https, as scenarios.test.mjs). The document
// is https in both: the SDK refuses any other. Over HTTPS the rig has CERTS_DIR (from
// `mcp-oauth-sim certs`) and so trusts its CA for the fetch by default; over HTTP it is told
// FETCH_CA_FILE=<certs>/ca.pem. Each passing test writes
// $CLIENT_MATRIX_DIR/typescript-v2/cimd-<scheme>-<slug>.json (default <repo>/target/client-matrix).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { OAuthError, UnauthorizedError } from '@modelcontextprotocol/client';
import { DocumentHost, DocumentProvider } from './documents.mjs';
import { REDIRECT_URL, connectWithAuth, newClient } from './provider.mjs';
import { REPO, line, makeCerts, startRig } from '../rig.mjs';

const SCHEME = process.env.SIM_SCHEME || 'http';
const TEST_TIMEOUT_MS = 30_000;
const CLIENT = '@modelcontextprotocol/client (TypeScript v2)';
const SDK_VERSION = JSON.parse(
  readFileSync(new URL('./node_modules/@modelcontextprotocol/client/package.json', import.meta.url), 'utf8'),
).version;
const MATRIX_DIR = join(process.env.CLIENT_MATRIX_DIR || join(REPO, 'target/client-matrix'), 'typescript-v2');

assert.ok(SCHEME === 'http' || SCHEME === 'https', `SIM_SCHEME must be http or https, not ${SCHEME}`);
let CERTS_DIR = process.env.SIM_CERTS_DIR;
if (SCHEME === 'https') {
  assert.ok(CERTS_DIR, 'SIM_SCHEME=https needs SIM_CERTS_DIR (run through run.mjs)');
  assert.equal(process.env.NODE_EXTRA_CA_CERTS, join(CERTS_DIR, 'ca.pem'), 'NODE_EXTRA_CA_CERTS must name the rig CA');
  assert.notEqual(process.env.NODE_TLS_REJECT_UNAUTHORIZED, '0', 'certificate verification must stay on');
} else if (!CERTS_DIR) {
  // Over HTTP only the document host needs a certificate (the rig verifies it; the SDK never
  // fetches the document), so this process needs no NODE_EXTRA_CA_CERTS.
  CERTS_DIR = makeCerts();
  process.on('exit', () => rmSync(CERTS_DIR, { recursive: true, force: true }));
}
// Over HTTPS the rig's CERTS_DIR/ca.pem is the fetch's trust by default: the test relies on
// that default rather than naming the file.
const FETCH_TRUST = SCHEME === 'http' ? { FETCH_CA_FILE: join(CERTS_DIR, 'ca.pem') } : {};

/**
 * One test: a document host and a rig of its own; `body({ rig, host, track })` returns the note
 * for the results file; every client closed, rig and host stopped whatever happens.
 */
function cimd(slug, name, body, { env } = {}) {
  test(`${SCHEME} CIMD ${name}`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const resultFile = join(MATRIX_DIR, `cimd-${SCHEME}-${slug}.json`);
    rmSync(resultFile, { force: true }); // a failing run must not leave an old pass behind
    const host = await new DocumentHost({ certsDir: CERTS_DIR }).start();
    let rig;
    const clients = [];
    const stop = () => {
      rig?.stop();
      host.stop();
    };
    t.signal.addEventListener('abort', stop); // timed out: the body may never return
    try {
      rig = await startRig({ scheme: SCHEME, certsDir: CERTS_DIR, env: { ...FETCH_TRUST, ...env } });
      assert.ok(rig.mcpUrl.startsWith(`${SCHEME}://localhost:`), rig.mcpUrl);
      const note = await body({ rig, host, track: (client) => (clients.push(client), client) });
      mkdirSync(MATRIX_DIR, { recursive: true });
      const result = { client: CLIENT, version: SDK_VERSION, scheme: SCHEME, scenario: `cimd-${slug}`, name, passed: true, note };
      writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
    } catch (error) {
      if (rig) t.diagnostic(`rig output:\n${rig.log.join('\n')}`);
      t.diagnostic(`document host requests: ${JSON.stringify(host.requests)}`);
      throw error;
    } finally {
      t.signal.removeEventListener('abort', stop);
      await Promise.allSettled(clients.map((client) => client.close()));
      await rig?.stop();
      await host.stop();
    }
  });
}

const text = (result) => {
  assert.ok(!result.isError, `tool error: ${JSON.stringify(result.content)}`);
  return result.content.map((part) => part.text).join('');
};
const echo = async (client, message = 'ping') => assert.equal(text(await client.callTool({ name: 'echo', arguments: { message } })), message);
const whoami = async (client) => (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent;

// As in scenarios.test.mjs: after `initialize` the SDK opens its optional GET stream in the
// background, and that GET may run an auth flow of its own; a test changes the rig only once
// the rig has answered it (405: the rig has no stream).
const STREAM_REFUSED = /^\[mcp\] GET \/mcp 405 /;

async function connect(rig, provider) {
  const mark = rig.log.length;
  const client = await connectWithAuth(rig.mcpUrl, provider);
  await rig.waitForLine(STREAM_REFUSED, mark);
  return client;
}

/**
 * One connect that is expected to stop at authorization: the SDK ran its flow and the browser
 * got either a redirect or a page. Returns the transport (for finishAuth) after asserting the
 * UnauthorizedError.
 */
async function connectNeedingAuthorization(rig, provider, track) {
  const { client, transport } = newClient(rig.mcpUrl, provider);
  track(client);
  await assert.rejects(client.connect(transport), SAYS_NOTHING);
  return transport;
}

/** The UnauthorizedError of a pending authorization: nothing in it about the document. */
const SAYS_NOTHING = (error) => error instanceof UnauthorizedError && error.message === 'Unauthorized';

/** A journal line with how the AS knew the client: `GET /authorize 302 document fetched`. */
const cimdLine = (event) => [line(event), event.registration, event.document].filter((part) => part != null).join(' ');
const AS_METADATA = 'GET /.well-known/oauth-authorization-server 200';
/** The heading of the AS's error page. */
const REFUSED = 'Authorization request refused';

async function asMetadata(rig) {
  const response = await fetch(`${rig.issuer}/.well-known/oauth-authorization-server`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(response.status, 200);
  return response.json();
}

cimd('document', 'registers by its metadata document', async ({ rig, host, track }) => {
  assert.equal((await asMetadata(rig)).client_id_metadata_document_supported, true, 'advertised by default');
  const provider = new DocumentProvider({ clientMetadataUrl: host.url });
  const mark = await rig.mark();
  const client = track(await connect(rig, provider));

  // The URL is the client: saved as the client information (no registration response), and the
  // client_id of the authorization request.
  assert.deepEqual(provider.savedClients, [{ client_id: host.url, issuer: rig.issuer }]);
  assert.equal(provider.authorizations.length, 1);
  const { url } = provider.lastAuthorization;
  assert.equal(url.searchParams.get('client_id'), host.url);
  assert.equal(url.searchParams.get('redirect_uri'), REDIRECT_URL);
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
  await echo(client, 'registered by document');
  assert.equal((await whoami(client)).client_id, host.url, 'the token is the document client\'s');

  // The AS fetched the document at /authorize and reused it at /token; nothing registered. The
  // AS metadata is fetched once (v1: again before the code exchange).
  const oauth = await rig.requests('oauth', mark);
  assert.deepEqual(oauth.map(cimdLine), [
    AS_METADATA, 'GET /authorize 302 document fetched', 'POST /token 200 authorization_code document cached',
  ]);
  const authorize = oauth.find((event) => event.path === '/authorize');
  assert.equal(authorize.client_id, host.url);
  assert.equal(authorize.client_name, 'mcp-oauth-sim TypeScript SDK v2 CIMD test');
  const counters = await rig.oauthCounters();
  assert.equal(counters.registrations, 0, 'no /register');
  assert.equal(counters.document_fetches, 1);
  assert.equal(counters.document_refusals, 0);
  assert.equal(counters.store.clients, 0, 'nothing in the registry');
  assert.deepEqual(host.requests, [{ method: 'GET', path: '/client.json', accept: 'application/json' }]);

  // A refresh is the document client's too, from the cache (the document lists refresh_token).
  const refresh = await rig.mark();
  await rig.revoke();
  await echo(client, 'after a refresh');
  assert.deepEqual(await rig.requests('oauth', refresh).then((events) => events.map(cimdLine)), [
    'POST /token 200 refresh_token document cached',
  ]);
  assert.equal(host.fetches, 1, 'the document host got exactly one GET in all');
  const [cached] = (await rig.documents()).cached;
  assert.equal(cached.client_id, host.url);
  assert.deepEqual(cached.grant_types, ['authorization_code', 'refresh_token']);
  assert.deepEqual([cached.fetches, cached.uses], [1, 3]);
  assert.equal(provider.savedClients.length, 1);
  return 'AS metadata says client_id_metadata_document_supported: true → the SDK uses clientMetadataUrl as client_id (saved as {client_id, issuer}), no /register; the AS fetches the document once (at /authorize) and reuses it for the code and refresh grants; calls succeed';
});

for (const declared of [false, 'omit']) {
  const slug = declared === false ? 'declared-false' : 'declared-omitted';
  const said = declared === false ? 'false' : 'absent';
  cimd(slug, `AS metadata says ${said}: dynamic registration`, async ({ rig, host, track }) => {
    await rig.profile({ client_id_metadata_document_supported: declared });
    const metadata = await asMetadata(rig);
    if (declared === false) assert.equal(metadata.client_id_metadata_document_supported, false);
    else assert.ok(!('client_id_metadata_document_supported' in metadata), 'the field is gone');
    const provider = new DocumentProvider({ clientMetadataUrl: host.url });
    const mark = await rig.mark();
    const client = track(await connect(rig, provider));

    // The SDK falls back to DCR with its clientMetadata, exactly as a provider without a URL.
    const clientId = provider.clientInformation().client_id;
    assert.notEqual(clientId, host.url);
    assert.ok(!/^https?:/.test(clientId), `a registered id, not a URL: ${clientId}`);
    assert.equal(provider.savedClients.length, 1);
    assert.equal(provider.lastAuthorization.url.searchParams.get('client_id'), clientId);
    await echo(client, `registered dynamically (${said})`);
    assert.equal((await whoami(client)).client_id, clientId);
    assert.deepEqual((await rig.requests('oauth', mark)).map(cimdLine), [
      AS_METADATA, 'POST /register 201', 'GET /authorize 302 dynamic', 'POST /token 200 authorization_code dynamic',
    ]);
    const counters = await rig.oauthCounters();
    assert.equal(counters.registrations, 1);
    assert.equal(counters.document_fetches, 0);
    assert.equal(host.fetches, 0, 'nobody fetched the document');
    return `client_id_metadata_document_supported ${said} → the SDK ignores clientMetadataUrl and registers dynamically (/register 201, registration "dynamic"); the document is never fetched; calls succeed`;
  });
}

cimd('declared-not-fetched', 'AS declares support but fetches no document', async ({ rig, host, track }) => {
  // A misconfigured AS: metadata says true, but URL client ids are not fetched (unknown ids).
  await rig.profile({ client_id_metadata_documents: false });
  const provider = new DocumentProvider({ clientMetadataUrl: host.url });
  const mark = await rig.mark();

  // The SDK trusts the metadata: the URL goes to /authorize, the AS answers a 400 page, the
  // connect rejects with UnauthorizedError (the flow "redirected"), and the SDK has no way to
  // learn why: it does not fall back to DCR, and the app is left waiting for a callback.
  await connectNeedingAuthorization(rig, provider, track);
  assert.equal(provider.authorizations.length, 0, 'no callback');
  assert.equal(provider.pages.length, 1);
  assert.equal(provider.pages[0].status, 400);
  assert.match(provider.pages[0].text, new RegExp(`^${REFUSED} unknown client_id '${host.url}': this issuer does not fetch client ID metadata documents`));
  assert.deepEqual(provider.savedClients, [{ client_id: host.url, issuer: rig.issuer }]);
  assert.deepEqual((await rig.requests('oauth', mark)).map(line), [AS_METADATA, 'GET /authorize 400 invalid_request']);
  assert.equal((await rig.oauthCounters()).registrations, 0, 'no fallback to /register');
  assert.equal(host.fetches, 0);

  // The AS fixed (null: the start-up value), the same app simply tries again: it works with
  // the client information it kept.
  await rig.profile({ client_id_metadata_documents: null });
  const client = track(await connect(rig, provider));
  await echo(client, 'once the AS fetches');
  assert.equal(host.fetches, 1);
  assert.equal(provider.savedClients.length, 1, 'the URL client was kept, not saved again');
  return 'metadata says true but the AS fetches no documents → the SDK sends the URL anyway; /authorize is a 400 page the SDK never sees: connect rejects with UnauthorizedError, no DCR fallback; once the AS fetches, a new connect works';
});

cimd('not-https', 'clientMetadataUrl that is not https', async ({ rig, host, track }) => {
  // The SDK checks the URL before anything else once it holds no client information: an http
  // URL, or an https one whose path is "/", is an OAuthError invalid_client_metadata out of
  // connect (v1: its InvalidClientMetadataError class),
  // with nothing sent to /register or /authorize; even where the AS does not support documents
  // at all and DCR would have worked (the check comes before the fallback).
  const http = host.url.replace(/^https:/, 'http:');
  const root = new URL('/', host.url).href;
  const mark = await rig.mark();
  for (const [declared, url] of [[true, http], [true, root], [false, http]]) {
    await rig.profile({ client_id_metadata_document_supported: declared });
    const provider = new DocumentProvider({ clientMetadataUrl: url });
    const { client, transport } = newClient(rig.mcpUrl, provider);
    track(client);
    await assert.rejects(client.connect(transport), (error) =>
      error instanceof OAuthError && error.code === 'invalid_client_metadata' &&
      error.message === `clientMetadataUrl must be a valid HTTPS URL with a non-root pathname, got: ${url}`);
    assert.deepEqual(provider.savedClients, []);
    assert.equal(provider.authorizations.length + provider.pages.length, 0);
  }
  const paths = (await rig.requests('oauth', mark)).map((event) => event.path);
  assert.ok(!paths.includes('/register') && !paths.includes('/authorize'), `${paths}`);
  assert.equal(host.requests.length, 0);
  return 'an http clientMetadataUrl (or https with path "/") → connect rejects with OAuthError invalid_client_metadata "clientMetadataUrl must be a valid HTTPS URL with a non-root pathname", no /register or /authorize, also when the AS declares no support (no DCR fallback)';
});

// Fetch faults. The SDK cannot tell an unusable document from any other reason a consent did
// not come back: at /authorize the AS answers an error page (never a redirect), which only the
// browser shows.

cimd('fault-unreachable', 'document host unreachable once', async ({ rig, host, track }) => {
  await rig.documentFault({ fault: 'unreachable', times: 1 });
  const provider = new DocumentProvider({ clientMetadataUrl: host.url });
  const mark = await rig.mark();

  // connect rejects with UnauthorizedError like any pending authorization; the page says why.
  await connectNeedingAuthorization(rig, provider, track);
  assert.equal(provider.authorizations.length, 0, 'no callback: the user sees an error page');
  assert.equal(provider.pages.length, 1);
  assert.equal(provider.pages[0].status, 400);
  assert.equal(provider.pages[0].text, `${REFUSED} client metadata document ${host.url}: fetching it failed: unreachable: localhost (the unreachable fetch fault)`);
  assert.deepEqual(provider.savedClients, [{ client_id: host.url, issuer: rig.issuer }]);
  const oauth = await rig.requests('oauth', mark);
  assert.deepEqual(oauth.map(cimdLine), [AS_METADATA, 'GET /authorize 400 invalid_client refused']);
  const authorize = oauth[1];
  assert.equal(authorize.client_id, host.url);
  assert.equal(authorize.note, `client metadata document ${host.url}: fetching it failed: unreachable: localhost (the unreachable fetch fault)`);
  assert.equal(host.fetches, 0, 'the fault stood in for the host');
  assert.deepEqual((await rig.documents()).faults, [], 'spent');

  // Recovery: the app's next connect (same provider, so the same URL client) authorizes and works.
  const client = track(await connect(rig, provider));
  await echo(client, 'after the outage');
  assert.equal(host.fetches, 1);
  const counters = await rig.oauthCounters();
  assert.deepEqual([counters.registrations, counters.document_refusals], [0, 1]);
  return 'unreachable at /authorize → 400 page; connect rejects with UnauthorizedError, no DCR fallback, no retry; the next connect (fault spent) authorizes with the same URL client and works';
});

cimd('fault-redirect-uri-missing', 'document without the redirect URI until fixed', async ({ rig, host, track }) => {
  await rig.documentFault({ fault: 'redirect-uri-missing', url: host.url });
  const provider = new DocumentProvider({ clientMetadataUrl: host.url });
  const mark = await rig.mark();

  // The document itself is valid (it lists another redirect URI), so the AS journals it as
  // fetched and refuses the request's redirect_uri (invalid_request, a page: never a redirect to
  // a URI the document does not vouch for). What a fault made is not cached, so each attempt
  // fetches again. The SDK stops at UnauthorizedError each time: one /authorize per attempt, no
  // loop of its own, no DCR.
  for (let attempt = 1; attempt <= 2; attempt += 1) {
    await connectNeedingAuthorization(rig, provider, track);
    assert.equal(provider.pages.length, attempt);
    assert.equal(provider.pages.at(-1).status, 400);
    assert.equal(provider.pages.at(-1).text, `${REFUSED} redirect_uri '${REDIRECT_URL}' is not among the redirect_uris of the client's metadata document (https://elsewhere.example/callback); refusing to redirect there`);
  }
  assert.equal(provider.authorizations.length, 0);
  const oauth = await rig.requests('oauth', mark);
  // The second attempt reuses the discovery state the same provider kept: one AS metadata fetch.
  assert.deepEqual(oauth.map(cimdLine), [
    AS_METADATA, 'GET /authorize 400 invalid_request fetched', 'GET /authorize 400 invalid_request fetched',
  ]);
  assert.equal(host.fetches, 2);
  assert.equal((await rig.oauthCounters()).document_refusals, 0, 'the document was fine; the request was not');
  const [rule] = (await rig.documents()).faults;
  assert.equal(rule.fired, 2);

  // The document fixed (the fault cleared): the next connect works.
  await rig.clearDocumentFaults();
  const client = track(await connect(rig, provider));
  await echo(client, 'with the redirect URI listed');
  assert.equal(host.fetches, 3);
  assert.equal((await rig.oauthCounters()).registrations, 0);
  return 'redirect_uris without the client\'s → every /authorize is a 400 page; each connect rejects with UnauthorizedError (one /authorize each, no loop, no DCR); once the document lists it, the next connect works';
});

cimd('fault-client-id-mismatch-at-token', 'document turns unusable between consent and code exchange', async ({ rig, host, track }) => {
  const provider = new DocumentProvider({ clientMetadataUrl: host.url });
  const transport = await connectNeedingAuthorization(rig, provider, track);
  const callback = provider.takeCallback();
  // The fault is for the next fetch, and a fault bypasses the cache: the /token lookup takes it.
  await rig.documentFault({ fault: 'client-id-mismatch', url: host.url, times: 1 });
  const mark = await rig.mark();

  // /token answers 401 invalid_client; auth() takes that for a stale registration: it
  // invalidates the client and the tokens (v1: 'all') and makes a second pass, which has a code
  // but no client any more and throws a plain Error. finishAuth rejects with it.
  await assert.rejects(transport.finishAuth(callback), (error) =>
    !(error instanceof UnauthorizedError) && !(error instanceof OAuthError) &&
    error.message === 'Existing OAuth client information is required when exchanging an authorization code');
  assert.deepEqual(provider.invalidations, ['client', 'tokens']);
  assert.equal(provider.clientInformation(), undefined);
  assert.equal(provider.tokens(), undefined);
  const oauth = await rig.requests('oauth', mark);
  // No AS metadata around it (v1 fetches it before each pass): the discovery state serves both.
  assert.deepEqual(oauth.map(cimdLine), ['POST /token 401 authorization_code invalid_client refused']);
  assert.equal(oauth[0].note, `client metadata document ${host.url}: the document's client_id 'https://elsewhere.example/client-metadata.json' is not the URL it was fetched from ('${host.url}'); they must be equal, character for character`);

  // Recovery: the app connects again; the SDK, holding no client, takes the URL again.
  const client = track(await connect(rig, provider));
  await echo(client, 'after the mismatch');
  assert.equal(provider.savedClients.length, 2);
  assert.ok(provider.savedClients.every((saved) => saved.client_id === host.url));
  // One fetch at the first /authorize, one (spoiled) at /token, one at the new /authorize.
  assert.equal(host.fetches, 3);
  assert.equal((await rig.oauthCounters()).registrations, 0);
  return 'client-id-mismatch at the code exchange → 401 invalid_client; the SDK invalidates client and tokens and its retry throws "Existing OAuth client information is required when exchanging an authorization code" out of finishAuth; a new connect takes the URL again, re-consents and works';
});

cimd('fault-not-json-at-refresh', 'document not JSON when refreshing', async ({ rig, host, track }) => {
  const provider = new DocumentProvider({ clientMetadataUrl: host.url });
  const client = track(await connect(rig, provider));
  await rig.revoke();
  await rig.documentFault({ fault: 'not-json', url: host.url });
  const mark = await rig.mark();

  // 401 → refresh → 401 invalid_client → invalidateCredentials('client') and ('tokens') (v1:
  // 'all') → a second pass with no client and no tokens: the URL again, a new authorization,
  // whose /authorize the same fault refuses (a page). The call rejects with UnauthorizedError:
  // one refresh, one /authorize, no loop.
  await assert.rejects(echo(client, 'while the document is broken'), SAYS_NOTHING);
  assert.deepEqual(provider.invalidations, ['client', 'tokens']);
  assert.equal(provider.tokens(), undefined, 'the tokens were dropped with the client');
  assert.equal(provider.pages.length, 1);
  assert.ok(provider.pages[0].text.startsWith(`${REFUSED} client metadata document ${host.url}: the document is not JSON (`), provider.pages[0].text);
  const oauth = await rig.requests('oauth', mark);
  assert.deepEqual(oauth.map(cimdLine), [
    'POST /token 401 refresh_token invalid_client refused', 'GET /authorize 400 invalid_client refused',
  ]);
  assert.ok(oauth[0].note.startsWith(`client metadata document ${host.url}: the document is not JSON (`), oauth[1].note);

  // The document fixed: without tokens the app must authorize again (the old refresh token,
  // still valid at the AS, was thrown away by the SDK).
  await rig.clearDocumentFaults();
  const again = track(await connect(rig, provider));
  await echo(again, 'after the fix');
  assert.equal(provider.authorizations.length, 2, 'a second consent');
  assert.ok(provider.savedClients.every((saved) => saved.client_id === host.url));
  assert.equal((await rig.oauthCounters()).registrations, 0);
  return 'not-json during a refresh → 401 invalid_client; the SDK drops client and tokens (invalidateCredentials client, tokens), takes the URL again and starts one authorization, refused by the same fault (page); the call rejects with UnauthorizedError, no loop; after the fix a new consent is needed';
});

cimd('fault-slow', 'document host slower than the fetch deadline once', async ({ rig, host, track }) => {
  await rig.documentFault({ fault: 'slow', times: 1 });
  const provider = new DocumentProvider({ clientMetadataUrl: host.url });
  const started = Date.now();
  await connectNeedingAuthorization(rig, provider, track);
  const took = Date.now() - started;
  assert.ok(took >= 1_000 && took < 5_000, `the page came after the 1 s deadline, took ${took} ms`);
  assert.equal(provider.pages.length, 1);
  assert.equal(provider.pages[0].text, `${REFUSED} client metadata document ${host.url}: fetching it failed: no complete answer within 1s`);
  const client = track(await connect(rig, provider));
  await echo(client, 'after the slow fetch');
  assert.equal(host.fetches, 1);
  return 'fetch over the deadline (FETCH_TIMEOUT_MS=1000) → 400 page after 1 s; connect rejects with UnauthorizedError, the SDK waits no longer than the AS; the next connect works';
}, { env: { FETCH_TIMEOUT_MS: '1000' } });

// The client ID metadata document (CIMD, SEP-991) tests both TypeScript suites run
// (typescript/ and typescript-v2/ cimd.test.mjs), for whichever SDK their caller hands in: the
// provider's `clientMetadataUrl` names a JSON document this test hosts over HTTPS on loopback,
// and the rig's AS fetches it as the client's registration. Each test runs on a rig of its own
// with a document host of its own, so every count is its own. What the SDKs do differently here
// (how often they fetch the AS metadata, what they invalidate on invalid_client, their error for
// an unusable URL) is the caller's `expect`, where each suite says what its SDK does.
//
// Run by run.mjs once per scheme (SIM_SCHEME=http|https, as scenarios.test.mjs). The document
// is https in both: the SDKs refuse any other. Over HTTPS the rig has CERTS_DIR (from
// `mcp-oauth-sim certs`) and so trusts its CA for the fetch by default; over HTTP it is told
// FETCH_CA_FILE=<certs>/ca.pem. Each passing test writes <results dir>/cimd-<scheme>-<slug>.json.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DocumentHost, withClientMetadataUrl } from './document-host.mjs';
import { REDIRECT_URL } from './headless-provider.mjs';
import { line, makeCerts, startRig } from './rig.mjs';
import { runScheme } from './scenario-harness.mjs';
import { echo, settledConnect, whoami } from './sdk-calls.mjs';

const TEST_TIMEOUT_MS = 30_000;

/**
 * Defines the CIMD tests for one SDK. `sdk`: `client`, `version` and `resultsDir` for the result
 * files; from its suite `HeadlessProvider` (which the document's provider extends),
 * `documentClientName` (the `client_name` of the hosted document), `newClient`,
 * `connectWithAuth` and `UnauthorizedError`; `finishAuthorization(transport, provider)`, its
 * way of completing the authorization the provider's browser got a callback for (the suite's
 * sdk.mjs). `expect`, what the SDK does:
 * - `metadataFetches`: 'every pass' (the AS metadata fetched before every auth() pass) or 'first
 *   pass' (once per provider, which keeps the discovery state);
 * - `invalidClientDrops`: `{ calls, said }`, the invalidateCredentials scopes it passes on a 401
 *   invalid_client at /token, and how the note says so;
 * - `invalidClientMetadata`: `{ is(error), said }`, its error for a clientMetadataUrl that is not
 *   https with a path, and its name in the note;
 * - `sdkErrors`: its error classes, none of which the plain Error of a second pass without a
 *   client is.
 */
export function cimdTests(sdk, expect) {
  const { scheme: SCHEME, certsDir } = runScheme();
  let CERTS_DIR = certsDir;
  if (SCHEME === 'http' && !CERTS_DIR) {
    // Over HTTP only the document host needs a certificate (the rig verifies it; the SDK never
    // fetches the document), so this process needs no NODE_EXTRA_CA_CERTS.
    CERTS_DIR = makeCerts();
    process.on('exit', () => rmSync(CERTS_DIR, { recursive: true, force: true }));
  }
  // Over HTTPS the rig's CERTS_DIR/ca.pem is the fetch's trust by default: the test relies on
  // that default rather than naming the file.
  const FETCH_TRUST = SCHEME === 'http' ? { FETCH_CA_FILE: join(CERTS_DIR, 'ca.pem') } : {};
  const DocumentProvider = withClientMetadataUrl(sdk.HeadlessProvider);

  /**
   * One test: a document host and a rig of its own; `body({ rig, host, track })` returns the note
   * for the results file; every client closed, rig and host stopped whatever happens.
   */
  function cimd(slug, name, body, { env } = {}) {
    test(`${SCHEME} CIMD ${name}`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const resultFile = join(sdk.resultsDir, `cimd-${SCHEME}-${slug}.json`);
      rmSync(resultFile, { force: true }); // a failing run must not leave an old pass behind
      const host = await new DocumentHost({ certsDir: CERTS_DIR, clientName: sdk.documentClientName }).start();
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
        mkdirSync(sdk.resultsDir, { recursive: true });
        const result = { client: sdk.client, version: sdk.version, scheme: SCHEME, scenario: `cimd-${slug}`, name, passed: true, note };
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

  // A test changes the rig only once the SDK's background GET has been answered (sdk-calls.mjs).
  const connect = (rig, provider) => settledConnect(rig, () => sdk.connectWithAuth(rig.mcpUrl, provider));

  /**
   * One connect that is expected to stop at authorization: the SDK ran its flow and the browser
   * got either a redirect or a page. Returns the transport (for finishAuth) after asserting the
   * UnauthorizedError.
   */
  async function connectNeedingAuthorization(rig, provider, track) {
    const { client, transport } = sdk.newClient(rig.mcpUrl, provider);
    track(client);
    await assert.rejects(client.connect(transport), SAYS_NOTHING);
    return transport;
  }

  /** The UnauthorizedError of a pending authorization: nothing in it about the document. */
  const SAYS_NOTHING = (error) => error instanceof sdk.UnauthorizedError && error.message === 'Unauthorized';

  /** A journal line with how the AS knew the client: `GET /authorize 302 document fetched`. */
  const cimdLine = (event) => [line(event), event.registration, event.document].filter((part) => part != null).join(' ');
  const AS_METADATA = 'GET /.well-known/oauth-authorization-server 200';
  /**
   * The AS journal lines of consecutive auth() passes (`passes`, each a list of lines) with the AS
   * metadata fetches the SDK makes around them: before every pass, or only before the first pass
   * of a `fresh` provider (one that has discovered nothing yet) for an SDK that keeps the
   * discovery state.
   */
  const discovered = (passes, { fresh }) => passes.flatMap((lines, index) =>
    (expect.metadataFetches === 'every pass' || (fresh && index === 0) ? [AS_METADATA, ...lines] : lines));
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

    // The AS fetched the document at /authorize and reused it at /token; nothing registered.
    const oauth = await rig.requests('oauth', mark);
    assert.deepEqual(oauth.map(cimdLine), [
      ...discovered([['GET /authorize 302 document fetched'], ['POST /token 200 authorization_code document cached']], { fresh: true }),
    ]);
    const authorize = oauth.find((event) => event.path === '/authorize');
    assert.equal(authorize.client_id, host.url);
    assert.equal(authorize.client_name, sdk.documentClientName);
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
      ...discovered([['POST /token 200 refresh_token document cached']], { fresh: false }),
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
        ...discovered([['POST /register 201', 'GET /authorize 302 dynamic'], ['POST /token 200 authorization_code dynamic']], { fresh: true }),
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
    assert.deepEqual((await rig.requests('oauth', mark)).map(line), discovered([['GET /authorize 400 invalid_request']], { fresh: true }));
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
    // URL, or an https one whose path is "/", is an error out of connect
    // (expect.invalidClientMetadata), with nothing sent to /register or /authorize; even where
    // the AS does not support documents at all and DCR would have worked (the check comes
    // before the fallback).
    const http = host.url.replace(/^https:/, 'http:');
    const root = new URL('/', host.url).href;
    const mark = await rig.mark();
    for (const [declared, url] of [[true, http], [true, root], [false, http]]) {
      await rig.profile({ client_id_metadata_document_supported: declared });
      const provider = new DocumentProvider({ clientMetadataUrl: url });
      const { client, transport } = sdk.newClient(rig.mcpUrl, provider);
      track(client);
      await assert.rejects(client.connect(transport), (error) =>
        expect.invalidClientMetadata.is(error) &&
        error.message === `clientMetadataUrl must be a valid HTTPS URL with a non-root pathname, got: ${url}`);
      assert.deepEqual(provider.savedClients, []);
      assert.equal(provider.authorizations.length + provider.pages.length, 0);
    }
    const paths = (await rig.requests('oauth', mark)).map((event) => event.path);
    assert.ok(!paths.includes('/register') && !paths.includes('/authorize'), `${paths}`);
    assert.equal(host.requests.length, 0);
    return `an http clientMetadataUrl (or https with path "/") → connect rejects with ${expect.invalidClientMetadata.said} "clientMetadataUrl must be a valid HTTPS URL with a non-root pathname", no /register or /authorize, also when the AS declares no support (no DCR fallback)`;
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
    assert.deepEqual(oauth.map(cimdLine), discovered([['GET /authorize 400 invalid_client refused']], { fresh: true }));
    const authorize = oauth.find((event) => event.path === '/authorize');
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
    assert.deepEqual(oauth.map(cimdLine), discovered([
      ['GET /authorize 400 invalid_request fetched'], ['GET /authorize 400 invalid_request fetched'],
    ], { fresh: true }));
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
    // The fault is for the next fetch, and a fault bypasses the cache: the /token lookup takes it.
    await rig.documentFault({ fault: 'client-id-mismatch', url: host.url, times: 1 });
    const mark = await rig.mark();

    // /token answers 401 invalid_client; auth() takes that for a stale registration: it
    // invalidates the credentials (expect.invalidClientDrops) and makes a second pass, which has a
    // code but no client any more and throws a plain Error. finishAuth rejects with it.
    await assert.rejects(sdk.finishAuthorization(transport, provider), (error) =>
      !expect.sdkErrors.some((type) => error instanceof type) &&
      error.message === 'Existing OAuth client information is required when exchanging an authorization code');
    assert.deepEqual(provider.invalidations, expect.invalidClientDrops.calls);
    assert.equal(provider.clientInformation(), undefined);
    assert.equal(provider.tokens(), undefined);
    const oauth = await rig.requests('oauth', mark);
    assert.deepEqual(oauth.map(cimdLine), discovered([['POST /token 401 authorization_code invalid_client refused'], []], { fresh: false }));
    assert.equal(oauth.find((event) => event.path === '/token').note, `client metadata document ${host.url}: the document's client_id 'https://elsewhere.example/client-metadata.json' is not the URL it was fetched from ('${host.url}'); they must be equal, character for character`);

    // Recovery: the app connects again; the SDK, holding no client, takes the URL again.
    const client = track(await connect(rig, provider));
    await echo(client, 'after the mismatch');
    assert.equal(provider.savedClients.length, 2);
    assert.ok(provider.savedClients.every((saved) => saved.client_id === host.url));
    // One fetch at the first /authorize, one (spoiled) at /token, one at the new /authorize.
    assert.equal(host.fetches, 3);
    assert.equal((await rig.oauthCounters()).registrations, 0);
    return `client-id-mismatch at the code exchange → 401 invalid_client; the SDK invalidates ${expect.invalidClientDrops.said} and its retry throws "Existing OAuth client information is required when exchanging an authorization code" out of finishAuth; a new connect takes the URL again, re-consents and works`;
  });

  cimd('fault-not-json-at-refresh', 'document not JSON when refreshing', async ({ rig, host, track }) => {
    const provider = new DocumentProvider({ clientMetadataUrl: host.url });
    const client = track(await connect(rig, provider));
    await rig.revoke();
    await rig.documentFault({ fault: 'not-json', url: host.url });
    const mark = await rig.mark();

    // 401 → refresh → 401 invalid_client → invalidateCredentials (expect.invalidClientDrops)
    // → a second pass with no client and no tokens: the URL again, a new authorization, whose
    // /authorize the same fault refuses (a page). The call rejects with UnauthorizedError: one
    // refresh, one /authorize, no loop.
    await assert.rejects(echo(client, 'while the document is broken'), SAYS_NOTHING);
    assert.deepEqual(provider.invalidations, expect.invalidClientDrops.calls);
    assert.equal(provider.tokens(), undefined, 'the tokens were dropped with the client');
    assert.equal(provider.pages.length, 1);
    assert.ok(provider.pages[0].text.startsWith(`${REFUSED} client metadata document ${host.url}: the document is not JSON (`), provider.pages[0].text);
    const oauth = await rig.requests('oauth', mark);
    assert.deepEqual(oauth.map(cimdLine), discovered([
      ['POST /token 401 refresh_token invalid_client refused'], ['GET /authorize 400 invalid_client refused'],
    ], { fresh: false }));
    const refused = oauth.find((event) => event.path === '/token');
    assert.ok(refused.note.startsWith(`client metadata document ${host.url}: the document is not JSON (`), refused.note);

    // The document fixed: without tokens the app must authorize again (the old refresh token,
    // still valid at the AS, was thrown away by the SDK).
    await rig.clearDocumentFaults();
    const again = track(await connect(rig, provider));
    await echo(again, 'after the fix');
    assert.equal(provider.authorizations.length, 2, 'a second consent');
    assert.ok(provider.savedClients.every((saved) => saved.client_id === host.url));
    assert.equal((await rig.oauthCounters()).registrations, 0);
    return `not-json during a refresh → 401 invalid_client; the SDK drops client and tokens (invalidateCredentials ${expect.invalidClientDrops.calls.join(', ')}), takes the URL again and starts one authorization, refused by the same fault (page); the call rejects with UnauthorizedError, no loop; after the fix a new consent is needed`;
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
}

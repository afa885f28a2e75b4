// What the v1 and v2 TypeScript suites share for clients without a user (issue #18): the
// client_credentials grant (a secret, or private_key_jwt), the RFC 7523 jwt-bearer grant for a
// workload's identity (WIF), and enterprise-managed authorization (an IdP's RFC 8693 exchange of
// an ID token for an ID-JAG, then jwt-bearer at the AS).
//
// Nothing here imports an SDK (each suite has its own node_modules): the providers below are
// plain objects of the `OAuthClientProvider` shape both SDKs take, for the flows an SDK has no
// provider of its own for. They are the application's code, built on the SDK's lowest-level
// hook, `prepareTokenRequest` (as the conformance suite's reference client does for WIF), so a
// test using one says so (`provider: 'application'` in its result file). They record what the
// SDK asked of them and never refuse a second attempt: whether the SDK retries after a refusal
// is what the tests observe.
//
// Below the helpers, `machineClientTests`: the client-credentials tests both suites run, each
// suite passing its SDK's providers and what that SDK was seen to do.
//
// Node builtins only.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { BINARY, line, startRig } from './rig.mjs';

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const ID_JAG_TYPE = 'urn:ietf:params:oauth:token-type:id-jag';

// The four situations of the conformance suite without a user, as the rig names them.
export const WITHOUT_USER = ['client-credentials-basic', 'client-credentials-jwt', 'wif-jwt-bearer', 'enterprise-managed-authorization'];

/**
 * `mcp-oauth-sim scenario …` against `rig`, as a user at a terminal would run it; an HTTPS rig
 * is found (and its certificate checked) through the certificates directory it serves.
 */
export function scenarioCli(rig, args) {
  const ports = ['--oauth-port', new URL(rig.issuer).port, '--mcp-port', new URL(rig.mcpUrl).port];
  const env = rig.certsDir ? { ...process.env, CERTS_DIR: rig.certsDir } : process.env;
  return spawnSync(BINARY, ['scenario', ...args, ...ports], { encoding: 'utf8', timeout: 20_000, cwd: rig.cwd, env });
}

/** `scenario fault oauth '<rule>'`: returns what the CLI printed. */
export function faultByCli(rig, rule) {
  const added = scenarioCli(rig, ['fault', 'oauth', JSON.stringify(rule)]);
  if (added.status !== 0) throw new Error(`scenario fault oauth failed (${added.status ?? added.error}): ${added.stderr}`);
  return added.stdout;
}

/**
 * A node:test test on a fresh rig of `scheme` (HTTPS: the certificates in `certsDir`):
 * `body(rig, track)`, where `track(client)` registers an SDK client to close; every client is
 * closed and the rig stopped whatever happens, and a failure prints the rig's output.
 */
export function rigTest(name, body, { scheme, certsDir, timeoutMs = 30_000, env } = {}) {
  test(name, { timeout: timeoutMs }, async (t) => {
    const rig = await startRig({ scheme, certsDir, env });
    if (scheme === 'https') rig.certsDir = certsDir;
    const clients = [];
    const stopRig = () => rig.stop();
    t.signal.addEventListener('abort', stopRig); // timed out: the body may never return
    try {
      await body(rig, (client) => (clients.push(client), client));
    } catch (error) {
      t.diagnostic(`rig output:\n${rig.log.join('\n')}`);
      throw error;
    } finally {
      t.signal.removeEventListener('abort', stopRig);
      await Promise.allSettled(clients.map((client) => client.close()));
      await rig.stop();
    }
  });
}

/**
 * A fetch for the SDK's transport (`{ fetch }`) that keeps every POST to a `/token` endpoint in
 * `seen`, in order, as `{ url, form (URLSearchParams), headers }`, so a test can read the client
 * assertion or the Basic header the SDK sent.
 */
export function recordingFetch() {
  const seen = [];
  const recording = async (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if ((init.method ?? 'GET').toUpperCase() === 'POST' && url.pathname.endsWith('/token')) {
      seen.push({ url, form: new URLSearchParams(String(init.body ?? '')), headers: new Headers(init.headers) });
    }
    return fetch(input, init);
  };
  return { fetch: recording, seen };
}

/** The claims of a compact JWS (not verified: the AS did that). */
export function jwtClaims(jwt) {
  const [header, payload] = jwt.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
  return { header, payload };
}

/**
 * Stages conformance situation `name` (`scenario conformance NAME --json`) and returns the
 * context the suite's harness would give its client (`{}` for a situation that needs none).
 */
export function stageConformance(rig, name) {
  const staged = scenarioCli(rig, ['conformance', name, '--json']);
  if (staged.status !== 0) throw new Error(`staging ${name} failed (${staged.status ?? staged.error}): ${staged.stderr}`);
  return JSON.parse(staged.stdout).context ?? {};
}

/**
 * `scenario conformance check NAME --json`: the verdict, the ids of the checks that FAIL or
 * WARN (in order, once each), those checks as `id: detail`, and whether the command exited 0.
 */
export function judgeConformance(rig, name) {
  const checked = scenarioCli(rig, ['conformance', 'check', name, '--json']);
  let verdict;
  try {
    verdict = JSON.parse(checked.stdout);
  } catch {
    throw new Error(`check ${name} printed no verdict (${checked.status}): ${checked.stderr}`);
  }
  const bad = verdict.checks.filter((check) => check.status === 'FAILURE' || check.status === 'WARNING');
  return {
    verdict,
    raw: checked.stdout,
    exitedZero: checked.status === 0,
    failing: [...new Set(bad.map((check) => check.id))],
    problems: bad.map((check) => `${check.id}: ${check.detail}`),
  };
}

/**
 * Connects `client` on `transport`, lists the tools and calls `whoami` (and echo), recording
 * each step; stops at the first error, which it returns beside the steps rather than throws.
 */
export async function connectAndCall(client, transport, { echo = true } = {}) {
  const steps = [];
  let identity;
  try {
    await client.connect(transport);
    steps.push('connected');
    const { tools } = await client.listTools();
    steps.push(`tools/list succeeded (${tools.length} tools)`);
    if (echo) {
      await client.callTool({ name: 'echo', arguments: { message: 'conformance' } });
      steps.push('tools/call echo succeeded');
    }
    identity = (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent;
    steps.push(`tools/call whoami succeeded (subject ${identity?.subject})`);
    return { steps, identity };
  } catch (error) {
    steps.push(`stopped: ${error?.constructor?.name ?? 'Error'}: ${error?.message ?? error}`);
    return { steps, identity, error };
  }
}

/** The client's token requests since `mark` (journal events), oldest first. */
export async function tokenRequests(rig, mark) {
  return (await rig.requests('oauth', mark)).filter((event) => event.path === '/token');
}

/** `POST /control/clients` on the AS: a client that may use only the client_credentials grant. */
export function registerMachineClient(rig, client) {
  return rig.control('oauth', 'clients', { grant_types: ['client_credentials'], ...client });
}

/** A fresh ES256 (P-256) private key as PKCS#8 PEM, registered nowhere: a wrong key. */
export function strayEs256Pem() {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
}

// An Ed25519 private key in a PKCS#8 document: the seed is the OCTET STRING inside the
// privateKey OCTET STRING (RFC 8410 §7), after the algorithm's OID 1.3.101.112.
const ED25519_SEED = Buffer.from('06032b657004220420', 'hex');

/**
 * A PKCS#8 PEM private key as a private JWK (what the SDKs' `importJWK` path takes). An Ed25519
 * document Node's OpenSSL cannot read (the rig's `generate_key: "EdDSA"` PEM is a version-2
 * document, RFC 5958, with the public key in `[1]`, which OpenSSL 3.0 refuses: "wrong tag") is
 * read by hand: the seed from the document, `x` from the public JWK the rig gave beside it.
 */
export function pemToJwk(pem, publicJwk) {
  try {
    return createPrivateKey(pem).export({ format: 'jwk' });
  } catch (error) {
    const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
    const at = der.indexOf(ED25519_SEED);
    if (at < 0 || publicJwk?.crv !== 'Ed25519') throw error;
    const seed = der.subarray(at + ED25519_SEED.length, at + ED25519_SEED.length + 32);
    return { kty: 'OKP', crv: 'Ed25519', x: publicJwk.x, d: seed.toString('base64url') };
  }
}

/** The provider methods a flow without a user needs, in memory; records what the SDK asked. */
class MachineProvider {
  constructor({ clientInformation, clientMetadata }) {
    this.stored = { clientInformation, tokens: undefined, discovery: undefined };
    this.metadata = clientMetadata;
    /** The scope the SDK passed to each prepareTokenRequest call. */
    this.attempts = [];
    /** Every invalidateCredentials(scope) call. */
    this.invalidations = [];
  }

  get redirectUrl() {
    return undefined;
  }

  get clientMetadata() {
    return this.metadata;
  }

  clientInformation() {
    return this.stored.clientInformation;
  }

  saveClientInformation(information) {
    this.stored.clientInformation = information;
  }

  tokens() {
    return this.stored.tokens;
  }

  saveTokens(tokens) {
    this.stored.tokens = tokens;
  }

  redirectToAuthorization() {
    throw new Error('a client without a user has no authorization to redirect to');
  }

  saveCodeVerifier() {}

  codeVerifier() {
    throw new Error('a client without a user has no code verifier');
  }

  /** Drops tokens when asked; the configured identity stays (nothing could re-create it). */
  invalidateCredentials(scope) {
    this.invalidations.push(scope);
    if (scope === 'all' || scope === 'tokens') this.stored.tokens = undefined;
  }
}

/**
 * RFC 7523 jwt-bearer with an assertion the workload was given (WIF): `grant_type=jwt-bearer`,
 * `assertion`, no client authentication (`none`: the SDK sends `client_id` in the form).
 */
export class AssertionGrantProvider extends MachineProvider {
  constructor({ clientId, assertion, expectedIssuer }) {
    super({
      clientInformation: { client_id: clientId, ...(expectedIssuer ? { issuer: expectedIssuer } : {}) },
      clientMetadata: {
        client_name: 'mcp-oauth-sim workload (jwt-bearer)',
        redirect_uris: [],
        grant_types: [JWT_BEARER],
        token_endpoint_auth_method: 'none',
      },
    });
    this.assertion = assertion;
  }

  prepareTokenRequest(scope) {
    this.attempts.push(scope);
    const params = new URLSearchParams({ grant_type: JWT_BEARER, assertion: this.assertion });
    if (scope) params.set('scope', scope);
    return params;
  }
}

/**
 * RFC 8693 at the IdP: the ID token for an ID-JAG whose audience is the AS issuer and whose
 * resource is the MCP server's; answers the IdP's JSON, or throws its error.
 */
export async function requestIdJag({ tokenEndpoint, idToken, idpClientId, audience, resource, scope }) {
  const form = new URLSearchParams({
    grant_type: TOKEN_EXCHANGE,
    requested_token_type: ID_JAG_TYPE,
    audience,
    resource,
    subject_token: idToken,
    subject_token_type: ID_TOKEN_TYPE,
    client_id: idpClientId,
  });
  if (scope) form.set('scope', scope);
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form,
    signal: AbortSignal.timeout(5_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`token exchange at the IdP: ${response.status} ${text}`);
  return JSON.parse(text);
}

/**
 * Enterprise-managed authorization for an SDK without a cross-app-access provider (v1): the
 * SDK discovers (PRM, AS metadata) and hands the provider what it found through
 * `saveDiscoveryState`; `prepareTokenRequest` then exchanges the ID token at the IdP (audience
 * the AS issuer, resource the PRM's) and returns the jwt-bearer grant with the ID-JAG. The
 * client secret sits in the client information, so the SDK authenticates the AS request with
 * the method the AS metadata lists (client_secret_basic).
 */
export class IdJagExchangeProvider extends MachineProvider {
  constructor({ clientId, clientSecret, idpClientId, idToken, idpTokenEndpoint, expectedIssuer }) {
    super({
      clientInformation: { client_id: clientId, client_secret: clientSecret, ...(expectedIssuer ? { issuer: expectedIssuer } : {}) },
      clientMetadata: {
        client_name: 'mcp-oauth-sim enterprise client (ID-JAG)',
        redirect_uris: [],
        grant_types: [JWT_BEARER],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    });
    this.idp = { idpClientId, idToken, tokenEndpoint: idpTokenEndpoint };
    /** Every IdP answer, in order. */
    this.exchanges = [];
  }

  saveDiscoveryState(state) {
    this.stored.discovery = state;
  }

  discoveryState() {
    return this.stored.discovery;
  }

  async prepareTokenRequest(scope) {
    this.attempts.push(scope);
    const discovery = this.stored.discovery;
    const audience = discovery?.authorizationServerMetadata?.issuer ?? discovery?.authorizationServerUrl;
    const resource = discovery?.resourceMetadata?.resource;
    if (!audience || !resource) throw new Error('the SDK saved no discovery state (AS issuer, PRM resource) before the token request');
    const answer = await requestIdJag({ ...this.idp, audience: String(audience), resource, scope });
    this.exchanges.push(answer);
    const params = new URLSearchParams({ grant_type: JWT_BEARER, assertion: answer.access_token });
    if (scope) params.set('scope', scope);
    return params;
  }
}

/** The `scope` of the MCP server's 401 to a request without a token (what a client reads first). */
export async function challengeScope(rig) {
  const response = await fetch(rig.mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    signal: AbortSignal.timeout(5_000),
  });
  await response.text();
  return /scope="([^"]*)"/.exec(response.headers.get('www-authenticate') ?? '')?.[1];
}

// ---------------------------------------------------------------------------------------------
// The client-credentials tests both suites run (their client-credentials.test.mjs), on one
// scheme. `sdk` is what differs between the SDKs: how to build a client and its two providers,
// and what the SDK was seen to do (`expect`, the findings, asserted here):
//
//   name                 label in the test names
//   newClient(mcpUrl, provider, { fetch })      → { client, transport }
//   secretProvider({ clientId, clientSecret, issuer }), keyProvider({ clientId, privateKey, algorithm, issuer })
//   expect.scope(challenge)        the `scope` the SDK sends with client_credentials (null: none),
//                                  given the 401's
//   expect.invalidClient(error)    the error a 401 invalid_client leaves the application with
//   expect.invalidClientTries      how many times the SDK sends refused credentials
//   expect.unavailable(error)      the error of a 503 temporarily_unavailable
//   expect.boundElsewhere(error)   the error when the credentials' expectedIssuer is another AS
//   idJagProvider(context, rig)   the enterprise situation's provider, from its context
//   expect.idTokenRefused(error)   the error when the IdP refuses the ID token
//   expect.edPemRefusal            a RegExp for the SDK's own refusal of an EdDSA PEM key, or
//                                  null if it signs with one
//   expect.wifExpired(error)       the error after an expired WIF assertion
//   expect.wifTries                jwt-bearer requests sent with it
//   expect.wifFailing              the conformance checks that then FAIL or WARN
// ---------------------------------------------------------------------------------------------

const SECRET_CLIENT = { client_id: 'cc-secret-client', client_secret: 'cc-secret-value', auth_method: 'client_secret_basic' };
const CC_OK = 'POST /token 200 client_credentials';
const CC_INVALID_CLIENT = 'POST /token 401 client_credentials invalid_client';

/** A private_key_jwt client with a key the rig made (`generate_key`): `{ pem, jwk }` (jwk: public). */
async function keyClient(rig, id, alg = 'ES256') {
  const answer = await registerMachineClient(rig, { client_id: id, auth_method: 'private_key_jwt', generate_key: alg });
  const { private_key_pem: pem, jwk } = answer.generated ?? {};
  if (!pem) throw new Error(`POST /control/clients with generate_key answered no private key: ${JSON.stringify(answer)}`);
  return { pem, jwk };
}

export function machineClientTests(sdk, { scheme, certsDir }) {
  const { expect } = sdk;
  const on = (name, body) => rigTest(`${scheme} ${name}`, body, { scheme, certsDir });
  const secretProvider = (rig, clientSecret = SECRET_CLIENT.client_secret) =>
    sdk.secretProvider({ clientId: SECRET_CLIENT.client_id, clientSecret, issuer: rig.issuer });
  const connect = (rig, track, provider, options) => {
    const made = sdk.newClient(rig.mcpUrl, provider, options);
    track(made.client);
    return made;
  };
  const lines = async (rig, mark) => (await tokenRequests(rig, mark)).map(line);

  on('client_credentials with a secret: a token for the client itself; a revoked one is replaced the same way', async (rig, track) => {
    await registerMachineClient(rig, SECRET_CLIENT);
    const challenge = await challengeScope(rig);
    const mark = await rig.mark();
    const recorded = recordingFetch();
    const provider = secretProvider(rig);
    const { client, transport } = connect(rig, track, provider, { fetch: recorded.fetch });
    const { identity, error, steps } = await connectAndCall(client, transport);
    assert.ifError(error, steps.join('\n'));
    assert.equal(identity.subject, SECRET_CLIENT.client_id);
    assert.equal(identity.client_id, SECRET_CLIENT.client_id);
    assert.deepEqual(await lines(rig, mark), [CC_OK]);
    const [sent] = recorded.seen;
    assert.equal(sent.form.get('grant_type'), 'client_credentials');
    assert.equal(sent.form.get('resource'), rig.mcpUrl);
    assert.equal(sent.form.get('scope'), expect.scope(challenge), `the 401 asked for ${challenge}`);
    assert.equal(sent.form.get('client_secret'), null, 'the secret goes in the Basic header only');
    const basic = Buffer.from(sent.headers.get('authorization').replace(/^Basic /, ''), 'base64').toString();
    assert.equal(basic, `${SECRET_CLIENT.client_id}:${SECRET_CLIENT.client_secret}`);
    assert.equal(provider.tokens().refresh_token, undefined, 'client_credentials brings no refresh token');

    // The token is revoked: the next call's 401 makes the SDK ask again, by the same grant.
    await rig.revoke();
    const again = (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent;
    assert.equal(again.subject, SECRET_CLIENT.client_id);
    assert.deepEqual(await lines(rig, mark), [CC_OK, CC_OK]);
  });

  on(`client_credentials with a wrong secret: 401 invalid_client, sent ${expect.invalidClientTries} times, then an error`, async (rig, track) => {
    await registerMachineClient(rig, SECRET_CLIENT);
    const mark = await rig.mark();
    const { client, transport } = connect(rig, track, secretProvider(rig, 'not-the-secret'));
    const { error, steps } = await connectAndCall(client, transport);
    assert.ok(expect.invalidClient(error), steps.join('\n'));
    assert.deepEqual(await lines(rig, mark), Array(expect.invalidClientTries).fill(CC_INVALID_CLIENT));
  });

  on('client_credentials bound to another authorization server (expectedIssuer): the secret is never sent', async (rig, track) => {
    await registerMachineClient(rig, SECRET_CLIENT);
    const mark = await rig.mark();
    const provider = sdk.secretProvider({ clientId: SECRET_CLIENT.client_id, clientSecret: SECRET_CLIENT.client_secret, issuer: 'https://as.elsewhere.example' });
    const { client, transport } = connect(rig, track, provider);
    const { error, steps } = await connectAndCall(client, transport);
    assert.ok(expect.boundElsewhere(error), steps.join('\n'));
    assert.deepEqual(await lines(rig, mark), [], 'no token request');
  });

  on('client_credentials, fault rules (scenario fault oauth): 503 once is not retried; unauthorized_client once is', async (rig, track) => {
    await registerMachineClient(rig, SECRET_CLIENT);
    const match = { grant_type: 'client_credentials' };
    faultByCli(rig, { endpoint: 'token', match, respond: { status: 503 }, times: 1 });
    let mark = await rig.mark();
    const first = connect(rig, track, secretProvider(rig));
    const failed = await connectAndCall(first.client, first.transport);
    assert.ok(expect.unavailable(failed.error), failed.steps.join('\n'));
    assert.deepEqual(await lines(rig, mark), ['POST /token 503 client_credentials temporarily_unavailable fault']);
    // The outage is over: a new connect gets its token.
    mark = await rig.mark();
    const second = connect(rig, track, secretProvider(rig));
    const recovered = await connectAndCall(second.client, second.transport, { echo: false });
    assert.ifError(recovered.error);
    assert.deepEqual(await lines(rig, mark), [CC_OK]);

    // unauthorized_client is one of the errors auth() retries once: a refusal that does not
    // repeat goes unnoticed.
    faultByCli(rig, { endpoint: 'token', match, respond: { status: 400, error: 'unauthorized_client' }, times: 1 });
    mark = await rig.mark();
    const third = connect(rig, track, secretProvider(rig));
    const retried = await connectAndCall(third.client, third.transport, { echo: false });
    assert.ifError(retried.error, retried.steps.join('\n'));
    assert.deepEqual(await lines(rig, mark), ['POST /token 400 client_credentials unauthorized_client fault', CC_OK]);
  });

  on('private_key_jwt (ES256): a signed assertion (iss = sub = client, aud = issuer), a token for the client', async (rig, track) => {
    const id = 'cc-key-client';
    const { pem } = await keyClient(rig, id);
    const mark = await rig.mark();
    const recorded = recordingFetch();
    const provider = sdk.keyProvider({ clientId: id, privateKey: pem, algorithm: 'ES256', issuer: rig.issuer });
    const { client, transport } = connect(rig, track, provider, { fetch: recorded.fetch });
    const { identity, error, steps } = await connectAndCall(client, transport);
    assert.ifError(error, steps.join('\n'));
    assert.equal(identity.subject, id);
    assert.deepEqual(await lines(rig, mark), [CC_OK]);
    const [sent] = recorded.seen;
    assert.equal(sent.headers.get('authorization'), null);
    assert.equal(sent.form.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const { header, payload } = jwtClaims(sent.form.get('client_assertion'));
    assert.deepEqual(header, { alg: 'ES256', typ: 'JWT' });
    assert.equal(payload.iss, id);
    assert.equal(payload.sub, id);
    assert.equal(payload.aud, rig.issuer);
    assert.equal(payload.exp - payload.iat, 300);
    assert.ok(payload.jti);
  });

  on(`private_key_jwt with a key the AS does not know: 401 invalid_client, sent ${expect.invalidClientTries} times, then an error`, async (rig, track) => {
    const id = 'cc-key-client';
    await keyClient(rig, id);
    const mark = await rig.mark();
    const provider = sdk.keyProvider({ clientId: id, privateKey: strayEs256Pem(), algorithm: 'ES256', issuer: rig.issuer });
    const { client, transport } = connect(rig, track, provider);
    const { error, steps } = await connectAndCall(client, transport);
    assert.ok(expect.invalidClient(error), steps.join('\n'));
    assert.deepEqual(await lines(rig, mark), Array(expect.invalidClientTries).fill(CC_INVALID_CLIENT));
  });

  on('private_key_jwt (EdDSA): a PEM key and the same key as a JWK', async (rig, track) => {
    const id = 'cc-ed25519-client';
    const { pem, jwk } = await keyClient(rig, id, 'EdDSA');
    let mark = await rig.mark();
    const first = connect(rig, track, sdk.keyProvider({ clientId: id, privateKey: pem, algorithm: 'EdDSA', issuer: rig.issuer }));
    const withPem = await connectAndCall(first.client, first.transport, { echo: false });
    if (expect.edPemRefusal) {
      assert.match(String(withPem.error?.message), expect.edPemRefusal, withPem.steps.join('\n'));
      assert.deepEqual(await lines(rig, mark), [], 'nothing reached the token endpoint');
    } else {
      assert.ifError(withPem.error);
      assert.equal(withPem.identity.subject, id);
    }
    mark = await rig.mark();
    const second = connect(rig, track, sdk.keyProvider({ clientId: id, privateKey: pemToJwk(pem, jwk), algorithm: 'EdDSA', issuer: rig.issuer }));
    const withJwk = await connectAndCall(second.client, second.transport, { echo: false });
    assert.ifError(withJwk.error, withJwk.steps.join('\n'));
    assert.equal(withJwk.identity.subject, id);
    assert.deepEqual(await lines(rig, mark), [CC_OK]);
  });

  // The enterprise situation with an ID token the IdP refuses (its signature broken), over HTTP
  // only: the error the IdP step leaves the application with, and that nothing is retried.
  if (scheme === 'http') {
    on('enterprise-managed authorization, an ID token the IdP refuses: one exchange, no jwt-bearer, an error', async (rig, track) => {
      const context = stageConformance(rig, 'enterprise-managed-authorization');
      const [header, payload, signature] = context.idp_id_token.split('.');
      const forged = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
      const mark = await rig.mark();
      const { client, transport } = connect(rig, track, sdk.idJagProvider({ ...context, idp_id_token: forged }, rig));
      const { error, steps } = await connectAndCall(client, transport);
      assert.ok(expect.idTokenRefused(error), steps.join('\n'));
      const sent = await tokenRequests(rig, mark);
      assert.deepEqual(sent.map((event) => `${event.issuer ?? 'main'} ${line(event)}`), [
        `idp POST /token 400 ${TOKEN_EXCHANGE} invalid_grant`,
      ]);
    });
  }

  // The WIF situation's expired assertion (the conformance suite's negative variant), over HTTP
  // only as the conformance situations are. Neither SDK has a provider for a workload's
  // assertion: the application's (which never refuses a second attempt) shows what auth() does
  // with invalid_grant.
  if (scheme === 'http') {
    on(`jwt-bearer (WIF) with an expired assertion: invalid_grant, ${expect.wifTries} request(s), then an error`, async (rig, track) => {
      const context = stageConformance(rig, 'wif-jwt-bearer');
      const mark = await rig.mark();
      const provider = new AssertionGrantProvider({ clientId: context.client_id, assertion: context.expired_jwt, expectedIssuer: rig.issuer });
      const { client, transport } = connect(rig, track, provider);
      const { error, steps } = await connectAndCall(client, transport);
      assert.ok(expect.wifExpired(error), steps.join('\n'));
      assert.equal(provider.attempts.length, expect.wifTries);
      const sent = (await tokenRequests(rig, mark)).filter((event) => event.grant_type === JWT_BEARER);
      assert.equal(sent.length, expect.wifTries, JSON.stringify(sent));
      assert.equal(sent[0].error, 'invalid_grant');
      const { failing, raw } = judgeConformance(rig, 'wif-jwt-bearer');
      assert.deepEqual(failing.sort(), [...expect.wifFailing].sort(), raw);
    });
  }
}

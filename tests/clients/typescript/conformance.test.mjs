// The TypeScript SDK's OAuth client in every situation of the MCP conformance suite the rig
// stages, over HTTP. Each test drives the rig as a user would, through the binary's own CLI:
// `mcp-oauth-sim scenario conformance NAME` stages the situation, a reference application on
// the SDK does what the suite's reference client does (connect, tools/list, tools/call), and
// `mcp-oauth-sim scenario conformance check NAME --json` computes the suite's checks from the
// rig's journals. Each test asserts the checks the SDK really fails there (none, for a pass):
// those are findings, listed in the README's conformance table from the files this writes
// ($CLIENT_MATRIX_DIR/typescript/conformance-<name>.json).
//
// The application does what the SDK leaves to it the way the suite's reference client does: on
// UnauthorizedError it completes the authorization the SDK started (finishAuth with the code)
// and connects again, at most three times per run. The SDK's finishAuth takes only the code, so
// whatever it does with `iss` it does without seeing the callback: the provider hands the code
// over without judging `iss` (as the SDK's own examples do).
//
// `basic-cimd` needs a client that has a client ID metadata document: there the provider's
// `clientMetadataUrl` names one this test hosts over HTTPS on loopback (documents.mjs, with
// certificates from `mcp-oauth-sim certs`), and the rig, over HTTP, trusts that CA for its
// fetch through FETCH_CA_FILE.
//
// The four situations without a user (client-credentials-basic, client-credentials-jwt,
// wif-jwt-bearer, enterprise-managed-authorization) are staged with `--json`, whose `context`
// is what the suite's harness gives its client; the application builds its provider from it and
// connects, lists the tools and calls one, with no authorization to complete. v1 has providers
// for client credentials (`client/auth-extensions`: ClientCredentialsProvider,
// PrivateKeyJwtProvider) and none for jwt-bearer: for WIF and for the ID-JAG the application
// writes its own on the SDK's `prepareTokenRequest` hook (../client-credentials-shared.mjs), and
// the result file says so (`provider: 'application'`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { DocumentHost, DocumentProvider } from './documents.mjs';
import { HeadlessProvider, newClient } from './provider.mjs';
import { idJagProvider, keyProvider, secretProvider } from './machine-providers.mjs';
import { BINARY, REPO, makeCerts, startRig } from '../rig.mjs';
import { AssertionGrantProvider, WITHOUT_USER, connectAndCall, stageConformance } from '../client-credentials-shared.mjs';

const SITUATION_TIMEOUT_MS = 30_000;
const MAX_AUTHORIZATIONS = 3;
const CLIENT = '@modelcontextprotocol/sdk (TypeScript)';
const SDK_VERSION = JSON.parse(
  readFileSync(new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url), 'utf8'),
).version;
const MATRIX_DIR = join(process.env.CLIENT_MATRIX_DIR || join(REPO, 'target/client-matrix'), 'typescript');

// What the SDK earns in each situation: the ids of the checks it fails (warnings included). A
// situation the rig lists but this table lacks fails the run, so none goes untested.
const EXPECTED = {
  'metadata-default': [],
  'metadata-var1': [],
  'metadata-var2': [],
  'metadata-var3': [],
  // The AS advertises client_id_metadata_document_supported: true and the provider has a
  // clientMetadataUrl: the SDK sends the URL as client_id, no registration.
  'basic-cimd': [],
  'scope-from-www-authenticate': [],
  'scope-from-scopes-supported': [],
  'scope-omitted-when-undefined': [],
  // The first authorization asks for PRM's scopes_supported (mcp:profile), not the 401's mcp:basic;
  // the one after the 403 asks for mcp:basic, not the mcp:write the 403 names.
  'scope-step-up': ['scope-step-up-initial', 'scope-step-up-escalation'],
  'scope-retry-limit': [],
  'token-endpoint-auth-basic': [],
  'token-endpoint-auth-post': [],
  'token-endpoint-auth-none': [],
  'pre-registration': [],
  '2025-03-26-oauth-metadata-backcompat': [],
  '2025-03-26-oauth-endpoint-fallback': [],
  'resource-mismatch': [],
  'offline-access-scope': [],
  'offline-access-not-supported': [],
  'authorization-server-migration': [],
  'iss-supported': [],
  'iss-not-advertised': [],
  // finishAuth takes only the code: the SDK never sees the redirect's iss, so it exchanges the
  // code whatever iss says (or does not say). The application would have to judge iss itself.
  'iss-supported-missing': ['sep-2468-client-reject-missing-iss'],
  'iss-wrong-issuer': ['sep-2468-client-compare-iss-supported'],
  'iss-unexpected': ['sep-2468-client-compare-iss-unadvertised'],
  'iss-normalized': ['sep-2468-client-no-normalization'],
  // The SDK uses AS metadata whose issuer is not the one PRM named.
  'metadata-issuer-mismatch': ['sep-2468-client-validate-metadata-issuer'],
  // Without a user (see WITHOUT_USER_PROVIDERS).
  'client-credentials-basic': [],
  'client-credentials-jwt': [],
  'wif-jwt-bearer': [],
  'enterprise-managed-authorization': [],
};

// The provider the application builds from the staged context in each situation without a user,
// and whose it is: 'sdk' (one of the SDK's own) or 'application' (written on its
// prepareTokenRequest hook, for a flow the SDK has no provider for). Every credential is bound
// to the rig's issuer (`expectedIssuer`), as a deployment configures it.
const WITHOUT_USER_PROVIDERS = {
  'client-credentials-basic': (context, rig) => ['sdk', secretProvider({
    clientId: context.client_id, clientSecret: context.client_secret, issuer: rig.issuer,
  })],
  'client-credentials-jwt': (context, rig) => ['sdk', keyProvider({
    clientId: context.client_id, privateKey: context.private_key_pem, algorithm: context.signing_algorithm, issuer: rig.issuer,
  })],
  // v1 has no jwt-bearer provider (StaticPrivateKeyJwtProvider sends a client assertion with the
  // client_credentials grant, not the jwt-bearer grant).
  'wif-jwt-bearer': (context, rig) => ['application', new AssertionGrantProvider({
    clientId: context.client_id, assertion: context.valid_jwt, expectedIssuer: rig.issuer,
  })],
  // v1 has no token-exchange or ID-JAG helper: the application's provider does the IdP request
  // itself, from the discovery state the SDK saves, and the SDK sends the jwt-bearer grant.
  'enterprise-managed-authorization': (context, rig) => ['application', idJagProvider(context, rig.issuer)],
};

// Checks that must be SUCCESS (not merely absent from the failures) where a situation stages one.
const REQUIRED_SUCCESS = {
  'basic-cimd': ['cimd-client-id-used'],
  'client-credentials-basic': ['client-credentials-basic-auth'],
  'client-credentials-jwt': ['client-credentials-jwt-verified'],
  'wif-jwt-bearer': ['wif-assertion-verified'],
  'enterprise-managed-authorization': ['complete-flow-token-exchange', 'complete-flow-jwt-bearer'],
};

// Situations whose client has a client ID metadata document (hosted by this test).
const WITH_DOCUMENT = new Set(['basic-cimd']);

// Certificates for the document host, made the first time one is needed.
let certsDir;
function documentCerts() {
  if (!certsDir) {
    certsDir = makeCerts();
    process.on('exit', () => rmSync(certsDir, { recursive: true, force: true }));
  }
  return certsDir;
}

/** `mcp-oauth-sim scenario …` against `rig`, as a user at a terminal would run it. */
function cli(rig, args) {
  const ports = ['--oauth-port', new URL(rig.issuer).port, '--mcp-port', new URL(rig.mcpUrl).port];
  return spawnSync(BINARY, ['scenario', ...args, ...ports], { encoding: 'utf8', timeout: 20_000, cwd: rig.cwd });
}

function listed() {
  const run = spawnSync(BINARY, ['scenario', 'conformance', 'list', '--json'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout).map((entry) => entry.scenario.replace(/^auth\//, ''));
}

/** Resolves once `done()` holds, or after two seconds whatever it says. */
async function settled(done) {
  for (let waited = 0; waited < 2_000 && !done(); waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The reference application: connect, tools/list, tools/call echo, authorizing as asked. */
async function drive(rig, name, { clientMetadataUrl } = {}) {
  const steps = [];
  const preRegistered = name === 'pre-registration';
  const provider = clientMetadataUrl
    ? new DocumentProvider({ clientMetadataUrl })
    : new HeadlessProvider(
      preRegistered ? { clientInformation: { client_id: 'pre-registered-client', client_secret: 'pre-registered-secret' } } : {},
    );
  if (preRegistered) {
    Object.defineProperty(provider, 'clientMetadata', {
      get: () => ({ ...HeadlessProvider.prototype.clientMetadata, token_endpoint_auth_method: 'client_secret_basic' }),
    });
  }
  let authorizations = 0;
  // The code of the authorization last completed: an UnauthorizedError that started no new
  // authorization leaves nothing to complete, and the application stops there.
  let completed = 0;
  const finish = async (transport) => {
    if (provider.authorizations.length === completed) {
      throw new Error('UnauthorizedError without a new authorization to complete');
    }
    completed = provider.authorizations.length;
    authorizations += 1;
    await transport.finishAuth(provider.takeCode());
  };
  const clients = [];
  let client;
  const calls = [
    ['tools/list', (c) => c.listTools()],
    ['tools/call echo', (c) => c.callTool({ name: 'echo', arguments: { message: 'conformance' } })],
  ];
  let next = 0;
  try {
    while (next < calls.length) {
      try {
        if (!client) {
          const made = newClient(rig.mcpUrl, provider);
          clients.push(made.client);
          try {
            const mark = rig.log.length;
            await made.client.connect(made.transport);
            client = made.client;
            steps.push('connected');
            // After initialize the SDK opens its optional GET stream in the background, which
            // may run an auth flow of its own: wait until the rig has answered it (405, or a
            // 401 for a client without a token) so that calls do not race it.
            const before = provider.authorizations.length;
            const answered = await rig.waitForLine(/^\[mcp\] GET \/mcp (405|401) /, mark).catch(() => '');
            // A 401 there (lazy auth: connected without a token) starts that background flow:
            // let it reach the browser before the next call starts a flow of its own, or the
            // two register side by side and the code of one meets the client of the other.
            if (/ 401 /.test(answered)) await settled(() => provider.authorizations.length > before);
          } catch (error) {
            if (!(error instanceof UnauthorizedError)) throw error;
            steps.push('connect: authorization needed');
            if (authorizations >= MAX_AUTHORIZATIONS) {
              steps.push('gave up: authorized three times already');
              return steps;
            }
            await finish(made.transport);
            steps.push('authorized');
            continue;
          }
        }
        const [callName, run] = calls[next];
        await run(client);
        steps.push(`${callName} succeeded`);
        next += 1;
      } catch (error) {
        if (!(error instanceof UnauthorizedError) || authorizations >= MAX_AUTHORIZATIONS) {
          steps.push(`stopped: ${error?.message ?? error}`);
          return steps;
        }
        steps.push(`${calls[next][0]}: authorization needed`);
        const made = newClient(rig.mcpUrl, provider);
        clients.push(made.client);
        try {
          await finish(made.transport);
        } catch (failure) {
          steps.push(`stopped: ${failure?.message ?? failure}`);
          return steps;
        }
        steps.push('authorized');
        client = undefined;
      }
    }
    return steps;
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
  }
}

/** A situation without a user: the provider from the context, then connect and call. */
async function driveWithoutUser(rig, name, context) {
  const [provider, authProvider] = WITHOUT_USER_PROVIDERS[name](context, rig);
  const made = newClient(rig.mcpUrl, authProvider);
  try {
    const { steps } = await connectAndCall(made.client, made.transport);
    return { steps, provider };
  } finally {
    await made.client.close().catch(() => {});
  }
}

const names = listed();
test('the situations without a user each have a provider here', () => {
  assert.deepEqual(Object.keys(WITHOUT_USER_PROVIDERS).sort(), [...WITHOUT_USER].sort());
});
test('every situation the rig stages has an expectation here', () => {
  assert.deepEqual([...names].sort(), Object.keys(EXPECTED).sort());
});

for (const name of names) {
  test(`conformance ${name}`, { timeout: SITUATION_TIMEOUT_MS }, async (t) => {
    const host = WITH_DOCUMENT.has(name) ? await new DocumentHost({ certsDir: documentCerts() }).start() : undefined;
    let rig;
    try {
      rig = await startRig({ scheme: 'http', env: host ? { FETCH_CA_FILE: join(certsDir, 'ca.pem') } : {} });
      let steps;
      let provider;
      if (WITHOUT_USER.includes(name)) {
        ({ steps, provider } = await driveWithoutUser(rig, name, stageConformance(rig, name)));
      } else {
        const staged = cli(rig, ['conformance', name]);
        assert.equal(staged.status, 0, `staging failed: ${staged.stderr}`);
        steps = await drive(rig, name, { clientMetadataUrl: host?.url });
      }
      const checked = cli(rig, ['conformance', 'check', name, '--json']);
      const verdict = JSON.parse(checked.stdout);
      const failing = [
        ...new Set(verdict.checks.filter((check) => check.status === 'FAILURE' || check.status === 'WARNING').map((check) => check.id)),
      ];
      assert.equal(checked.status === 0, failing.length === 0, 'check exits 0 exactly when the suite would pass');
      mkdirSync(MATRIX_DIR, { recursive: true });
      const problems = verdict.checks
        .filter((check) => check.status === 'FAILURE' || check.status === 'WARNING')
        .map((check) => `${check.id}: ${check.detail}`);
      writeFileSync(
        join(MATRIX_DIR, `conformance-${name}.json`),
        `${JSON.stringify({ client: CLIENT, version: SDK_VERSION, scenario: verdict.scenario, passed: failing.length === 0, problems, steps, provider }, null, 2)}\n`,
      );
      assert.deepEqual(failing, EXPECTED[name] ?? [], `${checked.stdout}\nwhat the application saw:\n  ${steps.join('\n  ')}`);
      for (const id of REQUIRED_SUCCESS[name] ?? []) {
        assert.deepEqual(verdict.checks.filter((check) => check.id === id).map((check) => check.status), ['SUCCESS'], checked.stdout);
      }
      // The document was fetched (once: the AS caches it for the token request).
      if (host) assert.equal(host.fetches, 1, JSON.stringify(host.requests));
    } catch (error) {
      if (rig) t.diagnostic(`rig output:\n${rig.log.join('\n')}`);
      throw error;
    } finally {
      await rig?.stop();
      await host?.stop();
    }
  });
}

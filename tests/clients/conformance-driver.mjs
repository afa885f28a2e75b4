// The conformance tests both TypeScript suites run (typescript/ and typescript-v2/
// conformance.test.mjs), for whichever SDK their caller hands in: its OAuth client in every
// situation of the MCP conformance suite the rig stages, over HTTP. Each test drives the rig as
// a user would, through the binary's own CLI: `mcp-oauth-sim scenario conformance NAME` stages
// the situation, a reference application on the SDK does what the suite's reference client does
// (connect, tools/list, tools/call), and `mcp-oauth-sim scenario conformance check NAME --json`
// computes the suite's checks from the rig's journals. Each test asserts the checks the SDK
// really fails there (none, for a pass): those are findings, listed in docs/conformance.md's
// table from the files this writes (<results dir>/conformance-<name>.json).
//
// The application does what the SDK leaves to it the way the suite's reference client does: on
// UnauthorizedError it completes the authorization the SDK started (the SDK's own finish step,
// `sdk.finishAuthorization`) and connects again, at most three times per run.
//
// `basic-cimd` needs a client that has a client ID metadata document: there the provider's
// `clientMetadataUrl` names one this test hosts over HTTPS on loopback (document-host.mjs, with
// certificates from `mcp-oauth-sim certs`), and the rig, over HTTP, trusts
// that CA for its fetch through FETCH_CA_FILE.
//
// The four situations without a user (client-credentials-basic, client-credentials-jwt,
// wif-jwt-bearer, enterprise-managed-authorization) are staged with `--json`, whose `context`
// is what the suite's harness gives its client; the application builds its provider from it
// (the suite's table of them, since which exist is the SDK's) and connects, lists the tools and
// calls one, with no authorization to complete.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DocumentHost, withClientMetadataUrl } from './document-host.mjs';
import { BINARY, makeCerts, startRig } from './rig.mjs';
import {
  AssertionGrantProvider, WITHOUT_USER, connectAndCall, judgeConformance, scenarioCli, stageConformance,
} from './client-credentials-shared.mjs';

const SITUATION_TIMEOUT_MS = 30_000;
const MAX_AUTHORIZATIONS = 3;

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
async function drive(sdk, rig, name, { clientMetadataUrl } = {}) {
  const { HeadlessProvider, UnauthorizedError, newClient } = sdk;
  const steps = [];
  const preRegistered = name === 'pre-registration';
  const provider = clientMetadataUrl
    ? new (withClientMetadataUrl(HeadlessProvider))({ clientMetadataUrl })
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
    await sdk.finishAuthorization(transport, provider);
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
async function driveWithoutUser(sdk, withoutUser, rig, name, context) {
  const [provider, authProvider] = withoutUser[name](context, rig);
  const made = sdk.newClient(rig.mcpUrl, authProvider);
  try {
    const { steps } = await connectAndCall(made.client, made.transport);
    return { steps, provider };
  } finally {
    await made.client.close().catch(() => {});
  }
}

/**
 * The providers of the situations without a user, as every SDK's application builds them from
 * the staged context, each bound to the rig's issuer (`expectedIssuer`) as a deployment binds
 * it: client credentials with the SDK's own providers (its machine-providers.mjs), a workload's
 * assertion with the application's (no SDK has one for it), and `enterprise`, whose is the
 * SDK's to say.
 */
export function withoutUserProviders({ secretProvider, keyProvider }, enterprise) {
  return {
    'client-credentials-basic': (context, rig) => ['sdk', secretProvider({
      clientId: context.client_id, clientSecret: context.client_secret, issuer: rig.issuer,
    })],
    'client-credentials-jwt': (context, rig) => ['sdk', keyProvider({
      clientId: context.client_id, privateKey: context.private_key_pem, algorithm: context.signing_algorithm, issuer: rig.issuer,
    })],
    'wif-jwt-bearer': (context, rig) => ['application', new AssertionGrantProvider({
      clientId: context.client_id, assertion: context.valid_jwt, expectedIssuer: rig.issuer,
    })],
    'enterprise-managed-authorization': enterprise,
  };
}

/**
 * Defines the conformance tests for one SDK. `sdk` is what names and drives it: `client`,
 * `version` and `resultsDir` for the result files; `HeadlessProvider`, `newClient` and
 * `UnauthorizedError` from its suite, and `documentClientName` (the `client_name` of the hosted
 * document); `finishAuthorization
 * (transport, provider)`, its way of completing the authorization the provider's browser got a
 * callback for. `expected` is the ids of the checks it fails per situation (a situation the rig
 * lists but this lacks fails the run, so none goes untested); `withoutUser` builds, per situation
 * without a user, `[whose, provider]` from the staged context and the rig: whose is 'sdk' (one
 * of the SDK's own) or 'application' (written on its prepareTokenRequest hook, for a flow the SDK
 * has no provider for).
 */
export function conformanceTests(sdk, { expected, withoutUser }) {
  const names = listed();
  test('the situations without a user each have a provider here', () => {
    assert.deepEqual(Object.keys(withoutUser).sort(), [...WITHOUT_USER].sort());
  });
  test('every situation the rig stages has an expectation here', () => {
    assert.deepEqual([...names].sort(), Object.keys(expected).sort());
  });

  for (const name of names) {
    test(`conformance ${name}`, { timeout: SITUATION_TIMEOUT_MS }, async (t) => {
      const host = WITH_DOCUMENT.has(name) ? await new DocumentHost({ certsDir: documentCerts(), clientName: sdk.documentClientName }).start() : undefined;
      let rig;
      try {
        rig = await startRig({ scheme: 'http', env: host ? { FETCH_CA_FILE: join(certsDir, 'ca.pem') } : {} });
        let steps;
        let provider;
        if (WITHOUT_USER.includes(name)) {
          ({ steps, provider } = await driveWithoutUser(sdk, withoutUser, rig, name, stageConformance(rig, name)));
        } else {
          const staged = scenarioCli(rig, ['conformance', name]);
          assert.equal(staged.status, 0, `staging failed: ${staged.stderr}`);
          steps = await drive(sdk, rig, name, { clientMetadataUrl: host?.url });
        }
        const { verdict, raw, exitedZero, failing, problems } = judgeConformance(rig, name);
        assert.equal(exitedZero, failing.length === 0, 'check exits 0 exactly when the suite would pass');
        mkdirSync(sdk.resultsDir, { recursive: true });
        writeFileSync(
          join(sdk.resultsDir, `conformance-${name}.json`),
          `${JSON.stringify({ client: sdk.client, version: sdk.version, scenario: verdict.scenario, passed: failing.length === 0, problems, steps, provider }, null, 2)}\n`,
        );
        assert.deepEqual(failing, expected[name] ?? [], `${raw}\nwhat the application saw:\n  ${steps.join('\n  ')}`);
        for (const id of REQUIRED_SUCCESS[name] ?? []) {
          assert.deepEqual(verdict.checks.filter((check) => check.id === id).map((check) => check.status), ['SUCCESS'], raw);
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
}

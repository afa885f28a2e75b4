// What both TypeScript suites' scenarios.test.mjs do around their scenarios (the bodies, which
// assert what each SDK really does, stay in the suites): the scheme of the run, a test per
// scenario on a rig of its own that writes the result file the README's table is made from,
// the AS counters the scenarios compare, and scenario 8's stored credentials.
//
// Run by run.mjs once per scheme: SIM_SCHEME=http|https, and for HTTPS SIM_CERTS_DIR (from
// `mcp-oauth-sim certs`) with NODE_EXTRA_CA_CERTS=$SIM_CERTS_DIR/ca.pem, so every fetch (the
// SDK's and the test's) verifies the rig's certificate against that CA.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRig } from './rig.mjs';

const SCENARIO_TIMEOUT_MS = 30_000;

/**
 * The run's `{ scheme, certsDir }` from SIM_SCHEME and SIM_CERTS_DIR, after asserting that an
 * HTTPS run trusts the rig's CA (NODE_EXTRA_CA_CERTS) with verification on.
 */
export function runScheme() {
  const scheme = process.env.SIM_SCHEME || 'http';
  const certsDir = process.env.SIM_CERTS_DIR;
  assert.ok(scheme === 'http' || scheme === 'https', `SIM_SCHEME must be http or https, not ${scheme}`);
  if (scheme === 'https') {
    assert.ok(certsDir, 'SIM_SCHEME=https needs SIM_CERTS_DIR (run through run.mjs)');
    assert.equal(process.env.NODE_EXTRA_CA_CERTS, join(certsDir, 'ca.pem'), 'NODE_EXTRA_CA_CERTS must name the rig CA');
    assert.notEqual(process.env.NODE_TLS_REJECT_UNAUTHORIZED, '0', 'certificate verification must stay on');
  }
  return { scheme, certsDir };
}

/**
 * The scenario test of one SDK (`client`, `version`, `resultsDir` for the result files) over the
 * run's scheme. `scenario(number, name, body, { env })` is one scenario: a fresh rig,
 * `body(rig, track)` (which returns the note for <resultsDir>/<scheme>-<number>.json), every
 * client closed and the rig stopped whatever happens. `track(client)` registers an SDK client
 * for closing.
 */
export function scenarioTest({ client, version, resultsDir }) {
  const { scheme, certsDir } = runScheme();
  return function scenario(number, name, body, { env } = {}) {
    test(`${scheme} ${number}. ${name}`, { timeout: SCENARIO_TIMEOUT_MS }, async (t) => {
      const resultFile = join(resultsDir, `${scheme}-${number}.json`);
      rmSync(resultFile, { force: true }); // a failing run must not leave an old pass behind
      const rig = await startRig({ scheme, certsDir, env });
      const clients = [];
      const stopRig = () => rig.stop();
      t.signal.addEventListener('abort', stopRig); // timed out: the body may never return
      try {
        assert.ok(rig.mcpUrl.startsWith(`${scheme}://localhost:`), rig.mcpUrl);
        const note = await body(rig, (made) => (clients.push(made), made));
        mkdirSync(resultsDir, { recursive: true });
        const result = { client, version, scheme, scenario: number, name, passed: true, note };
        writeFileSync(resultFile, `${JSON.stringify(result, null, 2)}\n`);
      } catch (error) {
        t.diagnostic(`rig output:\n${rig.log.join('\n')}`);
        throw error;
      } finally {
        t.signal.removeEventListener('abort', stopRig);
        await Promise.allSettled(clients.map((made) => made.close()));
        await rig.stop();
      }
    });
  };
}

/** The difference of two AS counter snapshots in the fields that matter here. */
export function delta(before, after) {
  return {
    registrations: after.registrations - before.registrations,
    authorizations: after.authorizations - before.authorizations,
    consent_denials: after.consent_denials - before.consent_denials,
    code_grants: after.token_requests.authorization_code - before.token_requests.authorization_code,
    refresh_grants: after.token_requests.refresh_token - before.token_requests.refresh_token,
    forced_invalid_grants: after.forced_invalid_grants - before.forced_invalid_grants,
    token_errors: after.token_errors - before.token_errors,
  };
}
export const ZERO = { registrations: 0, authorizations: 0, consent_denials: 0, code_grants: 0, refresh_grants: 0, forced_invalid_grants: 0, token_errors: 0 };
/** The AS counters of a rig that has seen nothing. */
export const FRESH = {
  registrations: 0, authorizations: 0, consent_denials: 0, forced_invalid_grants: 0, token_errors: 0,
  token_requests: { authorization_code: 0, refresh_token: 0 },
};

/** The refresh token scenario 8's rig is seeded with (`env: { SEED_REFRESH_TOKEN: SEED }`). */
export const SEED = `seed-${randomBytes(12).toString('hex')}`;

/**
 * Scenario 8's client storage from an earlier session: a registration at `rig` with the
 * metadata of `Provider` (the suite's HeadlessProvider), and a `Provider` holding it and tokens
 * whose refresh token is the rig's seed, with an access token the rig has never issued (as good
 * as expired), both stamped with the issuer. Resolves to `{ provider, clientInformation }`.
 */
export async function storedCredentials(rig, Provider) {
  const registration = await fetch(`${rig.issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(new Provider().clientMetadata),
    signal: AbortSignal.timeout(5_000),
  });
  assert.equal(registration.status, 201);
  const clientInformation = { ...(await registration.json()), issuer: rig.issuer };
  const provider = new Provider({
    clientInformation,
    tokens: {
      access_token: `stale-${randomBytes(12).toString('hex')}`,
      token_type: 'Bearer',
      refresh_token: SEED,
      issuer: rig.issuer,
    },
  });
  return { provider, clientInformation };
}

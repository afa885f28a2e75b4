// Scenario 4 (refresh-token rotation), which both TypeScript SDKs pass alike: each rotated
// refresh token is stored and the newest presented, and every older one is dead at the AS. The
// suites' scenarios.test.mjs define it here, between their own 3 and 5.

import assert from 'node:assert/strict';
import { echo } from './sdk-calls.mjs';

/**
 * Defines scenario 4 with the suite's `scenario` (scenario-harness.mjs), `HeadlessProvider`
 * and `connect(rig, provider)`.
 */
export function rotationScenario(scenario, { HeadlessProvider, connect }) {
  scenario(4, 'refresh-token rotation', async (rig, track) => {
    const provider = new HeadlessProvider();
    const client = track(await connect(rig, provider));
    await rig.rotate(true);
    const seen = [provider.tokens().refresh_token];
    for (let round = 1; round <= 3; round += 1) {
      await rig.revoke();
      await echo(client, `rotation round ${round}`);
      const current = provider.tokens().refresh_token;
      assert.ok(!seen.includes(current), `round ${round}: the SDK stored the new refresh token`);
      seen.push(current);
    }
    const counters = await rig.oauthCounters();
    assert.equal(counters.token_requests.refresh_token, 3);
    assert.equal(counters.refreshes, 3, 'every refresh succeeded: the SDK always presented the newest token');
    assert.equal(counters.token_errors, 0);
    assert.equal(provider.authorizations.length, 1, 'no new consent');

    // Every rotated-out token, the first one included, is dead at the token endpoint.
    const clientId = provider.clientInformation().client_id;
    for (const [index, old] of seen.slice(0, -1).entries()) {
      const response = await fetch(`${rig.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: old, client_id: clientId }),
        signal: AbortSignal.timeout(5_000),
      });
      assert.equal(response.status, 400, `replayed refresh token #${index + 1}`);
      assert.equal((await response.json()).error, 'invalid_grant');
    }
    // The newest still works for the SDK after the replays.
    await rig.revoke();
    await echo(client, 'after the replays');
    return 'stores each rotated refresh token and presents the newest (3 of 3 refreshes succeed); every older one, replayed, is invalid_grant';
  });
}

// The browser itself, before any page of the rig's is tested: Debian's Chromium starts headless
// with the flags of browser.mjs and reaches a rig on loopback, with scripting on and off. When
// this fails, the browser or its install is at fault, not a page.

import assert from 'node:assert/strict';
import { browserTest } from './harness.mjs';

for (const javaScriptEnabled of [true, false]) {
  browserTest(
    `Chromium, headless, JavaScript ${javaScriptEnabled ? 'on' : 'off'}, reads the rig's metadata on loopback`,
    async ({ rig, page }) => {
      const response = await page.goto(`${rig.issuer}/.well-known/oauth-authorization-server`);
      assert.equal(response.status(), 200);
      const metadata = JSON.parse(await page.locator('body').innerText());
      assert.equal(metadata.issuer, rig.issuer);
    },
    { javaScriptEnabled },
  );
}

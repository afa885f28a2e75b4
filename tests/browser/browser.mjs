// The real browser of these tests: Debian's Chromium (`/usr/bin/chromium`, or $CHROMIUM), headless,
// driven by playwright-core. playwright-core ships no browser and fetches none: it is pointed at
// the installed executable, so nothing is downloaded at test time (.ci/run installs the package).
//
// Every wait is bounded: the launch, each navigation and each action or expectation
// (ACTION_TIMEOUT_MS), so a page that never shows what a test waits for fails that test.

import { existsSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { REPO } from '../clients/rig.mjs';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const LAUNCH_TIMEOUT_MS = 15_000;
export const ACTION_TIMEOUT_MS = 5_000;

// A quiet browser that reaches nothing but the pages a test opens: no sandbox (CI runs as root),
// no GPU, no /dev/shm (small in containers), no component updates, safe browsing or other
// background requests, no first-run pages, no extensions.
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-extensions',
];

/** A 1200×800 viewport: what the screenshots in docs/images are taken at. */
export const VIEWPORT = { width: 1200, height: 800 };

/** Launches headless Chromium; fails at once, naming the fix, when the executable is missing. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    timeout: LAUNCH_TIMEOUT_MS,
  });
}

/**
 * A fresh context (no cookies shared with another test) and a page in it with bounded waits.
 * `javaScriptEnabled: false` makes a browser with scripting off.
 */
export async function newPage(browser, { javaScriptEnabled = true } = {}) {
  const context = await browser.newContext({ viewport: VIEWPORT, javaScriptEnabled });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  const page = await context.newPage();
  return { context, page };
}

const SCREENSHOT_DIR = join(REPO, 'target/browser-screenshots');

/**
 * Saves a PNG of `page` as target/browser-screenshots/<name>.png; with SCREENSHOTS=1 and
 * `docs` it is copied to docs/images/<name>.png too (the README's pictures).
 */
export async function screenshot(page, name, { docs = false } = {}) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, timeout: ACTION_TIMEOUT_MS });
  if (docs && process.env.SCREENSHOTS === '1') {
    const images = join(REPO, 'docs/images');
    mkdirSync(images, { recursive: true });
    copyFileSync(file, join(images, `${name}.png`));
  }
  return file;
}

// The dashboard as the browser tests reach it: its URL from the rig's `[dashboard] URL` line,
// and the moment a page of it is ready (its state drawn, its timeline live).

/** The dashboard's URL, from its `[dashboard] URL` line. */
export async function dashboardUrl(rig) {
  const line = await rig.waitForLine(/^\[dashboard\] \S+$/);
  return line.slice('[dashboard] '.length);
}

/** Opens the dashboard in `page` and waits until its state is drawn and its timeline is live. */
export async function openDashboard(rig, page) {
  await page.goto(await dashboardUrl(rig));
  await live(page);
}

/** Waits until the page has drawn the rig's state and its timeline is live. */
export async function live(page) {
  await page.locator('#timeline-status[data-status="live"]').waitFor();
  await page.locator('[data-state-of="rotate"][data-value]').waitFor(); // set once the state is drawn
}

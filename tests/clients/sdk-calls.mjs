// What an application on either TypeScript SDK does with the rig's MCP server, for the suites'
// scenario and CIMD tests: call its tools through an SDK `Client`, and connect in a way that
// leaves the SDK's background GET stream settled before a test changes the rig.

import assert from 'node:assert/strict';

/** A tool result's text, after asserting it is no tool error. */
export const text = (result) => {
  assert.ok(!result.isError, `tool error: ${JSON.stringify(result.content)}`);
  return result.content.map((part) => part.text).join('');
};
export const echo = async (client, message = 'ping') => assert.equal(text(await client.callTool({ name: 'echo', arguments: { message } })), message);
export const whoami = async (client) => (await client.callTool({ name: 'whoami', arguments: {} })).structuredContent;

// After `initialize` (v2: once `notifications/initialized` is accepted), both SDKs open the
// optional GET stream in the background (connect does not wait for it). The GET carries the token
// too, and meeting a 401 it runs an auth flow of its own, uncoordinated with the one a tool call
// may run at the same moment: flipped too early, a switch makes the two refresh side by side
// (seen with v1: 5 refreshes for 3 forced ones under rotation). So a test flips switches only
// once the rig has answered that GET (405: the rig has no stream).
export const STREAM_REFUSED = /^\[mcp\] GET \/mcp 405 /;

/**
 * `connecting()` (the suite's connectWithAuth: the SDK's connect, authorizing as needed), then
 * wait until the SDK's background GET has been answered; resolves to the connected client.
 */
export async function settledConnect(rig, connecting) {
  const mark = rig.log.length;
  const client = await connecting();
  await rig.waitForLine(STREAM_REFUSED, mark);
  return client;
}

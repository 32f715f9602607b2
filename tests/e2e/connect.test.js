// SPDX-License-Identifier: MIT
// Connect time in Chromium (issue 13): a publisher and a player of one stream; records each one's
// time from its signaling POST to ICE+DTLS connected, the player's first decoded frame, and the
// server's steps (first ICE check, ClientHello, the client's second flight, connected) from its
// debug log. Asserts only generous limits (a shared, noisy machine); scripts/bench-connect.sh
// repeats it and writes the numbers to docs/benchmarks.md.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { startServer } = require('./lib/server');
const { launchChromium } = require('./lib/browser');
const { measureConnect } = require('./lib/connect');

const LIMIT_MS = 15000;

test('chromium: publisher and player connect, player decodes a frame (times recorded)', { timeout: 90000 }, async (t) => {
  const server = await startServer({ extraArgs: ['--log-level', 'debug'] });
  const browser = await launchChromium();
  try {
    const r = await measureConnect(server, browser);
    t.diagnostic('connect: ' + JSON.stringify(r));
    for (const who of ['publisher', 'player']) {
      assert.ok(r[who].connect_ms != null && r[who].connect_ms < LIMIT_MS, who + ' connect: ' + JSON.stringify(r[who]));
      assert.ok(r[who].steps && r[who].steps.connected_ms != null, who + ': the server logged no connection: ' + JSON.stringify(r[who]));
    }
    assert.ok(r.player.first_frame_ms != null && r.player.first_frame_ms < LIMIT_MS, 'first frame: ' + JSON.stringify(r.player));
  } catch (e) {
    console.error(server.tail(80));
    throw e;
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
  }
});

// SPDX-License-Identifier: MIT
// HTTPS end-to-end: the publisher page loaded from the server's HTTPS port (self-signed
// certificate generated at start-up; chromium told to accept it, as a user accepting the
// warning would) is a secure origin, so getUserMedia works without the localhost exception; it
// signals over HTTPS and publishes; a player page, also over HTTPS, decodes the video.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startServer } = require('./lib/server');
const { launchChromium } = require('./lib/browser');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(page, label, fn, timeoutMs) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await page.evaluate(fn);
    if (last && last.ok) return last;
    if (last && last.error) throw new Error(label + ': page error: ' + last.error);
    if (Date.now() - t0 > timeoutMs) throw new Error(label + ': not after ' + timeoutMs + ' ms: ' + JSON.stringify(last));
    await sleep(250);
  }
}

test('https: publisher and player pages over HTTPS (secure origin) publish and play', { timeout: 85000 }, async (t) => {
  const server = await startServer({ https: true });
  t.diagnostic('fanout: ' + server.cmd);
  const chromium = await launchChromium();
  const pages = [];
  try {
    const stream = 'live/e2e-https-' + crypto.randomBytes(4).toString('hex');
    const q = '?autostart=1&url=' + encodeURIComponent('webrtc://127.0.0.1/' + stream);
    const pub = await chromium.newPage({ ignoreHTTPSErrors: true });
    pages.push(pub);
    await pub.goto(server.httpsOrigin + '/publisher.html' + q);
    const ctx = await pub.evaluate(() => ({ secure: window.isSecureContext, protocol: location.protocol }));
    assert.deepEqual(ctx, { secure: true, protocol: 'https:' });
    const p = await waitFor(pub, 'publisher', async () => {
      const f = window.fanout;
      if (!f) return { why: 'no window.fanout' };
      if (f.error) return { error: String(f.error) };
      if (!f.pc || f.state.pc !== 'connected') return { pc: f.state.pc, phase: f.state.phase };
      let frames = 0;
      (await f.pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video') frames += s.framesEncoded || 0; });
      return { ok: frames > 0, frames, api: f.state.api };
    }, 30000);
    assert.match(p.api, /^https:\/\/127\.0\.0\.1:\d+\/rtc\/v1\/publish\//);
    console.log('  publisher over HTTPS connected (' + p.api + '), ' + p.frames + ' frames encoded');
    const play = await chromium.newPage({ ignoreHTTPSErrors: true });
    pages.push(play);
    await play.goto(server.httpsOrigin + '/player.html' + q);
    const f = await waitFor(play, 'player', () => {
      const w = window.fanout;
      if (!w) return { why: 'no window.fanout' };
      if (w.error) return { error: String(w.error) };
      return { ok: w.firstFrameMs != null, firstFrameMs: w.firstFrameMs, phase: w.state.phase };
    }, 30000);
    console.log('  player over HTTPS: first decoded frame ' + f.firstFrameMs + ' ms after the play request');
  } catch (err) {
    console.error('---- fanout log tail:\n' + server.tail(60));
    for (const pg of pages) console.error('---- page console:\n' + pg.console.slice(-20).join('\n'));
    throw err;
  } finally {
    await chromium.close().catch(() => {});
    const st = await server.stop();
    assert.equal(st && st.code, 0, 'fanout exit status ' + JSON.stringify(st));
  }
});

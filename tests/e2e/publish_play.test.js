// SPDX-License-Identifier: MIT
// Real-browser end-to-end tests: www/publisher.html and www/player.html against build/fanout.
//
//   scripts/e2e-deps.sh                       # browsers, node, npm ci (once)
//   cd tests/e2e && node --test               # or: FANOUT_BIN=/path/to/fanout node --test
//
// Tests: (1) chromium publisher -> two chromium players; (2) a player that asks before the
// publisher exists; (3) firefox -> chromium and chromium -> firefox (VP8, the default pick);
// (3) also closes all four PeerConnections and checks that the server ended every session on the
// browsers' DTLS close_notify; (4) chromium publishing H.264, VP9 and AV1 each to chromium and firefox players (firefox-esr
// has no H.264 here: the API must refuse it with an error status the page shows).
// Each test starts its own fanout on free ports (lib/server.js) and kills it afterwards.
// What passes is read from getStats() inside the player pages: video frames decoded at
// >= MIN_FPS averaged over a window of >= WINDOW_MS, and audio RTP packets received and
// growing. E2E_SCREENSHOTS=<dir> saves a PNG of every page at the end of each test;
// E2E_VERBOSE=1 adds the offers to the failure report; FANOUT_ARGS adds server flags.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { launchChromium, launchFirefox } = require('./lib/browser');

const {
  WINDOW_MS, CONNECT_MS, TEST_TIMEOUT_MS, sleep, streamName, withFixture, openPage, waitInPage, publisherSending,
  firstFrame, measurePlayer, checkPlayback,
} = require('./lib/playback');

test('chromium: one publisher, two players decode video and receive audio', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withFixture(t, 'fanout2', async (ctx) => {
    const chromium = await launchChromium();
    ctx.browsers.push(chromium);
    const stream = streamName('fanout2');
    const pub = await openPage(ctx, chromium, 'publisher', 'publisher.html', stream);
    const p = await publisherSending(pub);
    console.log('  publisher connected, ' + p.frames + ' frames encoded');
    const players = [];
    for (const label of ['player1', 'player2']) players.push(await openPage(ctx, chromium, label, 'player.html', stream));
    const ff = await Promise.all(players.map((pl) => firstFrame(pl)));
    ff.forEach((f, i) => console.log('  ' + players[i].label + ': first decoded frame ' + f.firstFrameMs + ' ms after the play request'));
    const ms = await Promise.all(players.map((pl) => measurePlayer(pl, WINDOW_MS)));
    ms.forEach((m, i) => checkPlayback(players[i].label, m));
  });
});

test('chromium: a player that starts before the publisher gets frames once it arrives', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withFixture(t, 'early-player', async (ctx) => {
    const chromium = await launchChromium();
    ctx.browsers.push(chromium);
    const stream = streamName('early');
    const player = await openPage(ctx, chromium, 'player', 'player.html', stream);
    // The API must accept the play request for a stream nobody publishes yet.
    await waitInPage(player, () => {
      const f = window.fanout;
      if (f.error) return { error: f.error };
      return { ok: f.state.sessionid != null || f.state.answer != null, phase: f.state.phase, http: f.state.httpStatus };
    }, CONNECT_MS, 'play answer before publisher');
    // ICE+DTLS do not need the publisher; report (not require) that they completed early.
    await waitInPage(player, () => ({ ok: window.fanout.state.pc === 'connected' || !!window.fanout.error }), 15000, 'player connected')
      .catch(() => {});
    const early = await player.evaluate(() => 'pc ' + window.fanout.state.pc + ', dtls ' + window.fanout.state.dtls + (window.fanout.error ? ', error: ' + window.fanout.error : ''));
    console.log('  player answered before the publisher exists; player ' + early);
    await sleep(2000);
    const tPub = Date.now();
    const pub = await openPage(ctx, chromium, 'publisher', 'publisher.html', stream);
    await publisherSending(pub);
    await firstFrame(player);
    console.log('  player: first frame ' + (Date.now() - tPub) + ' ms after the publisher page was opened');
    checkPlayback('player', await measurePlayer(player, WINDOW_MS));
  });
});

test('interop: firefox publishes to chromium, chromium publishes to firefox', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withFixture(t, 'interop', async (ctx) => {
    const [chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()]);
    ctx.browsers.push(chromium, firefox);
    const s1 = streamName('ff2cr'), s2 = streamName('cr2ff');
    // Firefox with bundlePolicy max-bundle offers its second m-line as port 0 + bundle-only
    // (RFC 8843); the server must treat it as live, not rejected.
    const ffPub = await openPage(ctx, firefox, 'firefox-publisher', 'publisher.html', s1, '&bundle=max-bundle');
    const crPub = await openPage(ctx, chromium, 'chromium-publisher', 'publisher.html', s2);
    await Promise.all([publisherSending(ffPub), publisherSending(crPub)]);
    const crPlay = await openPage(ctx, chromium, 'chromium-player', 'player.html', s1);
    const ffPlay = await openPage(ctx, firefox, 'firefox-player', 'player.html', s2, '&bundle=max-bundle');
    const ff = await Promise.all([firstFrame(crPlay), firstFrame(ffPlay)]);
    console.log('  first frame: firefox->chromium ' + ff[0].firstFrameMs + ' ms, chromium->firefox ' + ff[1].firstFrameMs + ' ms');
    const [m1, m2] = await Promise.all([measurePlayer(crPlay, WINDOW_MS), measurePlayer(ffPlay, WINDOW_MS)]);
    checkPlayback('firefox->chromium', m1);
    checkPlayback('chromium->firefox', m2);

    // Every session has hibernated its DTLS by now (the peers' SRTP/SRTCP proved they completed
    // the handshake; include/fanout/dtls.h): closing the PeerConnections makes both browsers
    // send an encrypted close_notify, which the server must still authenticate and act on.
    for (const p of [crPlay, ffPlay, ffPub, crPub]) await p.evaluate(() => window.fanout.close());
    const want = /^fanout_sessions_ended_total\{reason="peer_closed"\} 4$/m;
    let metrics = '';
    for (let i = 0; i < 100 && !want.test(metrics); i++) {
      await sleep(100);
      metrics = await (await fetch(ctx.server.origin + '/metrics')).text();
    }
    assert.match(metrics, want, 'sessions ended by the browsers\' close_notify:\n' +
      metrics.split('\n').filter((l) => /sessions_ended/.test(l)).join('\n'));
    console.log('  pc.close() in chromium and firefox: 4 sessions ended by close_notify');
  });
});

test('codecs: chromium publishes H.264, VP9, AV1; chromium and firefox players (firefox refuses H.264 visibly)', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withFixture(t, 'codecs', async (ctx) => {
    const [chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()]);
    ctx.browsers.push(chromium, firefox);
    for (const codec of ['h264', 'vp9', 'av1']) {
      const stream = streamName(codec);
      // ?codec= makes the publisher offer only that codec (see www/fanout.js preferCodec)
      const pub = await openPage(ctx, chromium, 'publisher-' + codec, 'publisher.html', stream, '&codec=' + codec);
      await publisherSending(pub);
      const crPlay = await openPage(ctx, chromium, 'chromium-player-' + codec, 'player.html', stream);
      const ffPlay = await openPage(ctx, firefox, 'firefox-player-' + codec, 'player.html', stream);
      if (codec === 'h264') {
        // firefox-esr here has no H.264 (no OpenH264 plugin): the API must refuse with an
        // error status and a message, and the page must show that message.
        const refused = await waitInPage(ffPlay, () => {
          const f = window.fanout, el = document.getElementById('error');
          return { ok: !!f.error, error: null, msg: f.error, http: f.state.httpStatus, shown: !!el && !el.hidden && el.textContent };
        }, CONNECT_MS, 'firefox refusing H.264');
        console.log('  h264 -> firefox refused: HTTP ' + refused.http + ', page shows "' + refused.shown + '"');
        assert.ok(refused.http >= 400, 'firefox H.264 play: expected an HTTP error status, got ' + refused.http);
        assert.ok(refused.shown && refused.shown.length > 0, 'firefox H.264 play: error not shown on the page');
      }
      await firstFrame(crPlay);
      const players = codec === 'h264' ? [crPlay] : [crPlay, ffPlay];
      if (codec !== 'h264') await firstFrame(ffPlay);
      const ms = await Promise.all(players.map((p) => measurePlayer(p, 3000)));
      ms.forEach((m, i) => {
        checkPlayback(codec + ' -> ' + players[i].label.split('-')[0], m, 2.9);
        assert.match(String(m.videoCodec), new RegExp(codec, 'i'), players[i].label + ': decoded ' + m.videoCodec + ', not ' + codec);
      });
      for (const p of [pub, crPlay, ffPlay]) { await p.close().catch(() => {}); ctx.pages.splice(ctx.pages.indexOf(p), 1); }
    }
  });
});

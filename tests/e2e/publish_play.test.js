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
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { startServer } = require('./lib/server');
const pages = require('./lib/pages');
const { waitInPage } = pages;
const { launchChromium, launchFirefox } = require('./lib/browser');

const MIN_FPS = 10;
const WINDOW_MS = 5500;               // measured window (>= 5 s)
const CONNECT_MS = 30000;             // API answer + ICE + DTLS on a slow, shared 2-core box
const FIRST_FRAME_MS = 30000;
const TEST_TIMEOUT_MS = 85000;
const SHOTS = process.env.E2E_SCREENSHOTS || '';
const VERBOSE = !!process.env.E2E_VERBOSE;  // also print the browsers' SDP offers on failure

const { sleep } = pages;
const streamName = (tag) => 'live/e2e-' + tag + '-' + crypto.randomBytes(4).toString('hex');

/**
 * Per-test fixture: the server, the browsers and the pages, with diagnostics on failure.
 * run(body) executes body(ctx); when it throws, the server's log tail and every page's
 * window.fanout state (and console) are printed before the error is rethrown.
 */
async function withFixture(t, name, body) {
  const ctx = { server: null, browsers: [], pages: [] };
  try {
    ctx.server = await startServer();
    t.diagnostic('fanout: ' + ctx.server.cmd);
    await body(ctx);
    if (SHOTS) await screenshots(ctx, name);
  } catch (err) {
    await dumpDiagnostics(ctx, err);
    if (SHOTS) await screenshots(ctx, name).catch(() => {});
    throw err;
  } finally {
    for (const b of ctx.browsers) await b.close().catch(() => {});
    if (ctx.server) {
      const st = await ctx.server.stop();
      if (st && st.signal && st.signal !== 'SIGTERM') console.error('fanout ended by ' + st.signal + '\n' + ctx.server.tail(30));
    }
  }
}

async function screenshots(ctx, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const p of ctx.pages) {
    await p.screenshot(path.join(SHOTS, name + '-' + p.label + '.png')).catch((e) => console.error('screenshot ' + p.label + ': ' + e.message));
  }
}

async function dumpDiagnostics(ctx, err) {
  const out = ['', '==== e2e failure: ' + (err && err.message ? err.message.split('\n')[0] : err)];
  if (ctx.server) {
    out.push('---- fanout (' + ctx.server.cmd + ') log tail:', ctx.server.tail(80) || '(empty)');
  }
  for (const p of ctx.pages) {
    let snap;
    try {
      snap = await withTimeout(p.evaluate(() => (window.fanout && window.fanout.snapshot ? window.fanout.snapshot() : null)), 5000, 'snapshot');
    } catch (e) { snap = 'unavailable: ' + e.message; }
    if (snap && snap.state) {
      // SDP is long: keep it, but after the short fields
      const { offer, answer, ...rest } = snap.state;
      snap.state = rest;
      out.push('---- ' + p.label + ' window.fanout:', JSON.stringify(snap, null, 1));
      if (VERBOSE) out.push('---- ' + p.label + ' offer:', offer || '(none)');
      out.push('---- ' + p.label + ' answer:', answer || '(none)');
    } else {
      out.push('---- ' + p.label + ' window.fanout: ' + JSON.stringify(snap));
    }
    if (p.console.length) out.push('---- ' + p.label + ' console:', p.console.slice(-20).join('\n'));
  }
  console.error(out.join('\n'));
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(what + ': timed out after ' + ms + ' ms')), ms); })])
    .finally(() => clearTimeout(timer));
}

const openPage = (ctx, browser, label, file, stream, extra = '') =>
  pages.openPage(browser, ctx.server, label, file, stream, { extra, list: ctx.pages });

const publisherSending = (page) => waitInPage(page, async () => {
  const f = window.fanout;
  if (!f) return { why: 'no window.fanout' };
  if (f.error) return { error: f.error };
  if (!f.pc || f.state.pc !== 'connected') return { pc: f.state.pc, ice: f.state.ice, dtls: f.state.dtls, phase: f.state.phase };
  let frames = 0;
  (await f.pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video') frames += s.framesEncoded || 0; });
  return { ok: frames > 0, frames };
}, CONNECT_MS, 'publisher connected and encoding');

const firstFrame = (page, timeoutMs = FIRST_FRAME_MS) => waitInPage(page, () => {
  const f = window.fanout;
  if (!f) return { why: 'no window.fanout' };
  if (f.error) return { error: f.error };
  return { ok: f.firstFrameMs != null, firstFrameMs: f.firstFrameMs, pc: f.state.pc, dtls: f.state.dtls, phase: f.state.phase };
}, timeoutMs, 'first decoded video frame');

/**
 * Inside the player page, from getStats(): video framesDecoded and audio packetsReceived
 * (and samples) at the start and end of a window of `ms`; returns deltas and fps.
 */
function measurePlayer(page, ms) {
  return page.evaluate(async (windowMs) => {
    const read = async () => {
      const o = { t: performance.now(), framesDecoded: 0, vPackets: 0, vLost: 0, aPackets: 0, aLost: 0, aSamples: 0, concealed: 0, w: 0, h: 0, vCodec: null, aCodec: null };
      const r = await window.fanout.pc.getStats();
      const codecs = new Map();
      r.forEach((s) => { if (s.type === 'codec') codecs.set(s.id, s.mimeType); });
      r.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        const kind = s.kind || s.mediaType;
        if (kind === 'video') {
          o.framesDecoded += s.framesDecoded || 0; o.vPackets += s.packetsReceived || 0; o.vLost += s.packetsLost || 0;
          o.w = s.frameWidth || o.w; o.h = s.frameHeight || o.h; o.vCodec = codecs.get(s.codecId) || o.vCodec;
        } else if (kind === 'audio') {
          o.aPackets += s.packetsReceived || 0; o.aLost += s.packetsLost || 0;
          o.aSamples += s.totalSamplesReceived || 0; o.concealed += s.concealedSamples || 0;
          o.aCodec = codecs.get(s.codecId) || o.aCodec;
        }
      });
      return o;
    };
    // Firefox creates its inbound audio stats a little after the first video frame: give them
    // up to 3 s to appear before the window starts (checkPlayback still requires them).
    let a = await read();
    for (let i = 0; i < 30 && a.aPackets === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      a = await read();
    }
    await new Promise((r) => setTimeout(r, windowMs));
    const b = await read();
    const sec = (b.t - a.t) / 1000;
    return {
      seconds: Math.round(sec * 100) / 100,
      fps: Math.round(10 * (b.framesDecoded - a.framesDecoded) / sec) / 10,
      framesDecoded: b.framesDecoded, framesInWindow: b.framesDecoded - a.framesDecoded,
      videoPackets: b.vPackets, videoPacketsInWindow: b.vPackets - a.vPackets, videoLost: b.vLost,
      audioPacketsStart: a.aPackets, audioPackets: b.aPackets, audioPacketsInWindow: b.aPackets - a.aPackets, audioLost: b.aLost,
      audioSamplesInWindow: b.aSamples - a.aSamples, concealedInWindow: b.concealed - a.concealed,
      resolution: b.w + 'x' + b.h, videoCodec: b.vCodec, audioCodec: b.aCodec,
      firstFrameMs: window.fanout.firstFrameMs,
    };
  }, ms);
}

function checkPlayback(label, m, minSeconds = 5) {
  console.log('  ' + label + ': ' + m.fps + ' fps over ' + m.seconds + ' s (' + m.framesInWindow + ' frames, ' + m.resolution + ' ' + m.videoCodec +
    ', ' + m.videoPacketsInWindow + ' video pkts, ' + m.videoLost + ' lost), audio ' + m.audioPacketsInWindow + ' pkts in window (' +
    m.audioPackets + ' total, ' + m.audioLost + ' lost, ' + m.audioSamplesInWindow + ' samples, ' + m.concealedInWindow + ' concealed, ' +
    m.audioCodec + '), first frame ' + m.firstFrameMs + ' ms after the play request');
  assert.ok(m.seconds >= minSeconds, label + ': measured window too short: ' + m.seconds + ' s');
  assert.ok(m.fps >= MIN_FPS, label + ': decoded ' + m.fps + ' fps (< ' + MIN_FPS + ') over ' + m.seconds + ' s: ' + JSON.stringify(m));
  assert.ok(m.audioPacketsStart > 0, label + ': no audio packets received before the window: ' + JSON.stringify(m));
  assert.ok(m.audioPacketsInWindow > 0, label + ': audio packets not growing: ' + JSON.stringify(m));
}

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

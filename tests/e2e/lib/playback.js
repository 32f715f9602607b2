// SPDX-License-Identifier: MIT
// What the browser tests share: a per-test fixture (server, browsers, pages, diagnostics on
// failure), opening the publisher/player pages, waiting on window.fanout, and the playback
// measurement read from getStats() inside a player page (video frames decoded at >= MIN_FPS
// over a window, audio RTP packets received and growing). E2E_SCREENSHOTS=<dir> saves a PNG
// of every page at the end of each test; E2E_VERBOSE=1 adds the offers to failure reports.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { startServer } = require('./server');

const MIN_FPS = 10;
const WINDOW_MS = 5500;               // measured window (>= 5 s)
const CONNECT_MS = 30000;             // API answer + ICE + DTLS on a slow, shared 2-core box
const FIRST_FRAME_MS = 30000;
const TEST_TIMEOUT_MS = 85000;
const SHOTS = process.env.E2E_SCREENSHOTS || '';
const VERBOSE = !!process.env.E2E_VERBOSE;  // also print the browsers' SDP offers on failure

const pages = require('./pages');
const { sleep, waitInPage } = pages;
const streamName = (tag) => 'live/e2e-' + tag + '-' + crypto.randomBytes(4).toString('hex');

/**
 * Per-test fixture: the server, the browsers and the pages, with diagnostics on failure.
 * run(body) executes body(ctx); when it throws, the server's log tail and every page's
 * window.fanout state (and console) are printed before the error is rethrown.
 */
async function withFixture(t, name, body, serverOpts) {
  const ctx = { server: null, browsers: [], pages: [] };
  try {
    ctx.server = await startServer(serverOpts);
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

/** A page of the project's (lib/pages.js) in this fixture; `origin`: another server's. */
const openPage = (ctx, browser, label, file, stream, extra = '', origin = null, contextOpts = {}) =>
  pages.openPage(browser, origin ? { origin } : ctx.server, label, file, stream, { extra, list: ctx.pages, contextOpts });

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


module.exports = {
  MIN_FPS, WINDOW_MS, CONNECT_MS, FIRST_FRAME_MS, TEST_TIMEOUT_MS, sleep, streamName, withFixture, withTimeout,
  openPage, waitInPage, publisherSending, firstFrame, measurePlayer, checkPlayback,
};

// SPDX-License-Identifier: MIT
// Media-quality measurements with real browsers (Debian's chromium) against a fanout server:
// the publisher's and the player's UDP paths each go through a LossyRelay (lossy-relay.js), so
// loss and delay can be put on either link. Used by tests/netem/loss.test.js (short, asserted)
// and scripts/bench-media.sh (longer, printed and written to docs/benchmarks.md).
'use strict';
const path = require('node:path');
const E2E = path.resolve(__dirname, '..', 'e2e');
const { FanoutServer } = require(path.join(E2E, 'lib', 'server.js'));
const { launchChromium, CHROMIUM_ARGS } = require(path.join(E2E, 'lib', 'browser.js'));
const { LossyRelay } = require('./lossy-relay.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Rig {
  /** extraArgs: fanout flags; env: FANOUT_* overrides for the server process. */
  /** video: a .y4m file for the fake camera (default: chromium's built-in, simple pattern). */
  async start({ extraArgs = [], env = {}, video = null } = {}) {
    Object.assign(process.env, env);
    this.server = new FanoutServer();
    await this.server.start({ extraArgs });
    const target = { host: '127.0.0.1', port: this.server.rtcPort };
    this.pubLink = await new LossyRelay({ target }).start();
    this.playLink = await new LossyRelay({ target }).start();
    const args = video ? [...CHROMIUM_ARGS, '--use-file-for-fake-video-capture=' + video] : CHROMIUM_ARGS;
    this.browser = await launchChromium({ args });
    this.pages = [];
    return this;
  }
  url(file, stream, link, extra = '') {
    const s = 'webrtc://127.0.0.1:' + this.server.httpPort + '/live/' + stream + '?eip=127.0.0.1:' + link.port;
    return this.server.origin + '/' + file + '?autostart=1&url=' + encodeURIComponent(s) + extra;
  }
  async open(file, stream, link) {
    const page = await this.browser.newPage();
    await page.goto(this.url(file, stream, link));
    this.pages.push(page);
    return page;
  }
  async waitFor(page, fn, timeoutMs, what) {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const v = await page.evaluate(fn);
      if (v) return v;
      await sleep(100);
    }
    throw new Error('timed out waiting for ' + what);
  }
  /** Closes the pages opened so far (so the next run does not share the CPU with them). */
  async closePages() {
    for (const p of this.pages) { try { await p.close(); } catch (e) { /* gone */ } }
    this.pages = [];
  }
  async close() {
    for (const p of this.pages) { try { await p.close(); } catch (e) { /* gone */ } }
    if (this.browser) await this.browser.close();
    this.pubLink && this.pubLink.close();
    this.playLink && this.playLink.close();
    if (this.server) await this.server.stop();
  }
}

/** outbound-rtp video of a publisher page (plus the candidate pair's estimate). */
async function pubStats(page) {
  return page.evaluate(async () => {
    const out = {};
    (await window.fanout.pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        out.bytesSent = (out.bytesSent || 0) + s.bytesSent;
        out.nackCount = (out.nackCount || 0) + (s.nackCount || 0);
        out.retransmitted = (out.retransmitted || 0) + (s.retransmittedPacketsSent || 0);
        out.framesEncoded = (out.framesEncoded || 0) + (s.framesEncoded || 0);
        out.width = s.frameWidth;
        out.limitation = s.qualityLimitationReason;
        out.targetBitrate = s.targetBitrate;
      }
      if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) out.estimate = s.availableOutgoingBitrate;
      if (s.type === 'remote-inbound-rtp' && s.kind === 'video') { out.rtt = s.roundTripTime; out.remoteLoss = s.fractionLost; }
      out.t = performance.now();
    });
    return out;
  });
}

/** inbound-rtp of a player page: video frames/freezes/NACKs, and the A/V playout offset. */
async function playStats(page) {
  return page.evaluate(async () => {
    const out = { firstFrameMs: window.fanout.firstFrameMs };
    const est = {};
    (await window.fanout.pc.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      if (s.estimatedPlayoutTimestamp) est[s.kind] = s.estimatedPlayoutTimestamp;
      if (s.kind !== 'video') return;
      Object.assign(out, {
        framesDecoded: s.framesDecoded || 0, freezeCount: s.freezeCount || 0,
        freezeMs: Math.round(1000 * (s.totalFreezesDuration || 0)), nackCount: s.nackCount || 0,
        packetsLost: s.packetsLost || 0, packetsReceived: s.packetsReceived || 0,
        retransmitted: s.retransmittedPacketsReceived || 0, pliCount: s.pliCount || 0,
        width: s.frameWidth || 0,
      });
    });
    if (est.audio && est.video) out.avOffsetMs = est.video - est.audio;
    return out;
  });
}

const published = (page) => page.evaluate(async () => {
  if (!window.fanout || !window.fanout.pc) return false;
  let n = 0;
  (await window.fanout.pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'video') n += s.framesEncoded || 0; });
  return n > 10;
});
const decoding = (page) => page.evaluate(() => window.fanout && window.fanout.firstFrameMs != null);

/** Publisher's video bitrate (kbps over seconds 8-10 after it starts sending). */
async function publisherBitrate(rig, stream, { loss = 0, delayMs = 0 } = {}) {
  rig.pubLink.set(loss, delayMs);
  const pub = await rig.open('publisher.html', stream, rig.pubLink);
  await rig.waitFor(pub, () => window.fanout && window.fanout.pc && window.fanout.pc.connectionState === 'connected', 20000, 'publisher connected');
  const t0 = Date.now();
  await sleep(8000);
  const a = await pubStats(pub);
  await sleep(Math.max(0, 10000 - (Date.now() - t0)));
  const b = await pubStats(pub);
  return { kbps: Math.round(8 * (b.bytesSent - a.bytesSent) / (b.t - a.t)), estimateKbps: Math.round((b.estimate || 0) / 1000), page: pub, stats: b };
}

/** One publisher, one player for `seconds`, loss on `link` ('play' or 'pub'). */
async function lossRun(rig, stream, { link = 'play', loss = 0.05, delayMs = 20, seconds = 15 } = {}) {
  rig.pubLink.set(link === 'pub' ? loss : 0, link === 'pub' ? delayMs : 0);
  rig.playLink.set(link === 'play' ? loss : 0, link === 'play' ? delayMs : 0);
  const pub = await rig.open('publisher.html', stream, rig.pubLink);
  const end0 = Date.now() + 20000;
  while (!(await published(pub))) { if (Date.now() > end0) throw new Error('publisher not sending'); await sleep(200); }
  const player = await rig.open('player.html', stream, rig.playLink);
  const end1 = Date.now() + 20000;
  while (!(await decoding(player))) { if (Date.now() > end1) throw new Error('player decoded nothing'); await sleep(100); }
  const a = await playStats(player);
  await sleep(seconds * 1000);
  const b = await playStats(player);
  const p = await pubStats(pub);
  return {
    frames: b.framesDecoded - a.framesDecoded, freezeCount: b.freezeCount - a.freezeCount, freezeMs: b.freezeMs - a.freezeMs,
    playerNacks: b.nackCount - a.nackCount, playerRetransmitted: b.retransmitted - a.retransmitted, playerLost: b.packetsLost,
    publisherNacksReceived: p.nackCount, publisherRetransmitted: p.retransmitted, avOffsetMs: b.avOffsetMs,
    relayDropped: { pub: rig.pubLink.stats.dropped, play: rig.playLink.stats.dropped },
  };
}

/** Time to first frame of `joins` players joining one by one (ms, as the page measures it). */
async function joinTimes(rig, stream, joins) {
  const pub = await rig.open('publisher.html', stream, rig.pubLink);
  const end0 = Date.now() + 20000;
  while (!(await published(pub))) { if (Date.now() > end0) throw new Error('publisher not sending'); await sleep(200); }
  await sleep(3000);
  const times = [];
  for (let i = 0; i < joins; i++) {
    const player = await rig.open('player.html', stream, rig.playLink);
    const end = Date.now() + 15000;
    while (!(await decoding(player))) { if (Date.now() > end) throw new Error('join ' + i + ': no frame'); await sleep(20); }
    times.push(await player.evaluate(() => window.fanout.firstFrameMs));
    await player.close();
    rig.pages = rig.pages.filter((p) => p !== player);
    await sleep(700 + Math.random() * 600); // join at a random point of the publisher's GOP
  }
  return times;
}

/** Simulcast: a publisher with three layers (publisher.html?simulcast=1) and one automatic
 * player; `phases` is [[label, loss, seconds], ...] applied to the player link in turn. Per phase:
 * the player's layer (rank) and switches from /api/v1/clients, frames decoded, decoded width and
 * freezes; plus when the layer first changed in that phase (ms from its start). */
async function simulcastRun(rig, stream, phases) {
  const pub = await rig.browser.newPage();
  rig.pages.push(pub);
  await pub.goto(rig.url('publisher.html', stream, rig.pubLink, '&simulcast=1'));
  const end0 = Date.now() + 20000;
  while (!(await published(pub))) { if (Date.now() > end0) throw new Error('publisher not sending'); await sleep(200); }
  await sleep(2000);
  const player = await rig.open('player.html', stream, rig.playLink);
  const end1 = Date.now() + 20000;
  while (!(await decoding(player))) { if (Date.now() > end1) throw new Error('player decoded nothing'); await sleep(100); }
  const info = async () => {
    const j = await (await fetch(rig.server.origin + '/api/v1/clients?count=100')).json();
    const c = j.clients.find((x) => x.type === 'rtc-play' && x.stream.endsWith('/' + stream));
    return { sc: (c && c.simulcast) || {}, bwe: (c && c.bwe) || {} };
  };
  const out = [];
  for (const [label, loss, seconds] of phases) {
    rig.playLink.set(loss, loss ? 20 : 0);
    const a = await playStats(player);
    const i0 = await info();
    let changedMs = null;
    const t0 = Date.now();
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(250);
      const i = await info();
      if (changedMs == null && i.sc.target !== i0.sc.target) changedMs = Date.now() - t0;
    }
    const b = await playStats(player);
    const i1 = await info();
    out.push({ label, loss, seconds, from: i0.sc.layer, layer: i1.sc.layer, switches: (i1.sc.switches || 0) - (i0.sc.switches || 0),
      changedMs, frames: b.framesDecoded - a.framesDecoded, width: b.width, freezeCount: b.freezeCount - a.freezeCount,
      estimateKbps: Math.round((i1.bwe.estimate_bps || 0) / 1000) });
  }
  rig.playLink.set(0, 0);
  return out;
}

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN; };

module.exports = { Rig, publisherBitrate, lossRun, joinTimes, simulcastRun, median, pubStats, playStats };

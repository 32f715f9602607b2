// SPDX-License-Identifier: MIT
// How fast a browser connects: one publisher page, then one player page of the same stream,
// each timed from its signaling POST (www/fanout.js's page log) to ICE+DTLS "connected", and the
// player to its first decoded video frame; with the server at --log-level debug, the server's
// own steps of each session from its log (offer -> first ICE check -> ClientHello -> the
// client's second flight -> connected). Used by connect.test.js (generous limits only) and
// scripts/bench-connect.js (the numbers for docs/benchmarks.md).
'use strict';
const crypto = require('node:crypto');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn in the page until it returns a non-null value or timeoutMs passes. */
async function pollPage(page, fn, timeoutMs, what) {
  const t0 = Date.now();
  for (;;) {
    const v = await page.evaluate(fn);
    if (v && v.error) throw new Error(what + ': page error: ' + v.error);
    if (v && v.ok) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(what + ': not after ' + timeoutMs + ' ms: ' + JSON.stringify(v));
    await sleep(20);
  }
}

/** From the page log ("123ms POST ...", "456ms pc connected"): ms from the POST to connected. */
function pageTimes(snap) {
  const at = (re) => {
    for (const line of snap.log || []) {
      const m = /^(\d+)ms (.*)$/.exec(line);
      if (m && re.test(m[2])) return Number(m[1]);
    }
    return null;
  };
  const post = at(/^POST /), connected = at(/^pc connected/), answer = at(/^answer /);
  return {
    answer_ms: post != null && answer != null ? answer - post : null,
    connect_ms: post != null && connected != null ? connected - post : null,
    first_frame_ms: snap.firstFrameMs != null && post != null ? snap.firstFrameMs - post : null,
  };
}

/** The server's steps for the session `id`, in ms after its offer, from debug log lines. */
function serverSteps(lines, id) {
  const mine = lines.filter((l) => l.includes('[' + id + ' '));
  const ts = (l) => Date.parse(l.slice(0, 24));
  const created = mine.find((l) => / session created/.test(l));
  if (!created) return null;
  const t0 = ts(created);
  const first = (re) => { const l = mine.find((x) => re.test(x)); return l ? ts(l) - t0 : null; };
  const hello = first(/DTLS in: /);
  // the client's second flight: the first handshake datagram after the ClientHello (after its
  // reassembly when it came in fragments)
  const re = mine.findIndex((l) => /ClientHello reassembled/.test(l));
  const firstIn = mine.findIndex((l) => /DTLS in: /.test(l));
  const from = re >= 0 ? re + 1 : firstIn + 1;
  const next = firstIn < 0 ? null : mine.slice(from).find((l) => /DTLS in: /.test(l));
  const flight5 = next ? ts(next) : null;
  // a second candidate pair: the first check from another address (older servers logged each
  // new address as "ICE check ok from A")
  const addrOf = (l) => { const m = /ICE check (?:ok )?from (\S+)/.exec(l); return m ? m[1].replace(/,$/, '') : null; };
  const checks = mine.filter((l) => addrOf(l));
  const firstAddr = checks.length ? addrOf(checks[0]) : null;
  const second = checks.find((l) => addrOf(l) !== firstAddr);
  return {
    first_check_ms: first(/ICE check (ok )?from /),
    second_pair_ms: second ? ts(second) - t0 : null,
    nominated_ms: first(/ICE check from .*USE-CANDIDATE/),
    client_hello_ms: hello,
    client_flight_ms: flight5 != null ? flight5 - t0 : null,
    connected_ms: first(/connected \(DTLS-SRTP\)/),
    checks_before_hello: mine.filter((l) => /ICE check from /.test(l) && (hello == null || ts(l) - t0 <= hello)).length,
  };
}

/**
 * Publishes and plays one stream in `browser` against `server`; returns
 * { publisher: {answer_ms, connect_ms, steps}, player: {answer_ms, connect_ms, first_frame_ms, steps} }.
 */
async function measureConnect(server, browser, { timeoutMs = 30000 } = {}) {
  const stream = 'live/connect-' + crypto.randomBytes(4).toString('hex');
  const url = 'webrtc://127.0.0.1/' + stream;
  const pages = [];
  try {
    const pub = await browser.newPage();
    pages.push(pub);
    await pub.goto(server.origin + '/publisher.html?autostart=1&url=' + encodeURIComponent(url));
    await pollPage(pub, () => { const f = window.fanout; if (!f) return null; if (f.error) return { error: f.error };
      return { ok: f.state.pc === 'connected' }; }, timeoutMs, 'publisher connected');
    const play = await browser.newPage();
    pages.push(play);
    await play.goto(server.origin + '/player.html?autostart=1&url=' + encodeURIComponent(url));
    await pollPage(play, () => { const f = window.fanout; if (!f) return null; if (f.error) return { error: f.error };
      return { ok: f.firstFrameMs != null }; }, timeoutMs, 'player first frame');
    const out = {};
    for (const [name, page] of [['publisher', pub], ['player', play]]) {
      const snap = await page.evaluate(() => window.fanout.snapshot());
      out[name] = { ...pageTimes(snap), steps: serverSteps(server.lines, snap.state.sessionid) };
      if (name === 'publisher') delete out[name].first_frame_ms;
    }
    return out;
  } finally {
    for (const p of pages) await p.close().catch(() => {});
  }
}

module.exports = { measureConnect, serverSteps, pageTimes };

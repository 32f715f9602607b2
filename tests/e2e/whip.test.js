// SPDX-License-Identifier: MIT
// WHIP and WHEP in a real browser: www/publisher.html?proto=whip and www/player.html?proto=whep
// in headless Chromium against build/fanout. Checks: the publisher's answer came from a 201 with
// a Location (/rtc/v1/resource/<id>); the player decodes video (>= MIN_FPS over a window) and
// receives audio; the index page lists the live stream from /api/v1/streams; /api/v1/clients
// shows both sessions; a DELETE on each resource (sent from the pages, PeerConnections still
// open) ends both sessions, as /api/v1/clients and /metrics then show.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startServer } = require('./lib/server');
const { launchChromium } = require('./lib/browser');

const MIN_FPS = 10;
const WAIT_MS = 30000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeoutMs = WAIT_MS) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await fn();
    if (last && last.ok) return last;
    if (last && last.error) throw new Error(what + ': ' + last.error);
    if (Date.now() - t0 > timeoutMs) throw new Error(what + ': not after ' + timeoutMs + ' ms; last ' + JSON.stringify(last));
    await sleep(250);
  }
}

const pageState = (page) => page.evaluate(() => {
  const f = window.fanout;
  if (!f) return { why: 'no window.fanout' };
  return { error: f.error, pc: f.state.pc, phase: f.state.phase, http: f.state.httpStatus, resource: f.state.resource,
    sessionid: f.state.sessionid, firstFrameMs: f.firstFrameMs };
});

async function api(server, path, opts) {
  const res = await fetch(server.origin + path, opts);
  const text = await res.text();
  return { status: res.status, text, json: /json/.test(res.headers.get('content-type') || '') ? JSON.parse(text) : null };
}

test('chromium: WHIP publish, WHEP play, index lists the stream, DELETE ends both sessions', { timeout: 90000 }, async (t) => {
  const server = await startServer();
  t.diagnostic('fanout: ' + server.cmd);
  const chromium = await launchChromium();
  const pages = [];
  try {
    const name = 'e2e-whip-' + crypto.randomBytes(4).toString('hex');
    const key = 'live/' + name;
    const url = encodeURIComponent('webrtc://127.0.0.1/' + key);
    const open = async (label, path) => {
      const p = await chromium.newPage();
      p.label = label;
      pages.push(p);
      await p.goto(server.origin + path);
      return p;
    };

    const pub = await open('publisher', '/publisher.html?autostart=1&proto=whip&url=' + url);
    const ps = await waitFor('WHIP publisher connected', async () => {
      const s = await pageState(pub);
      return { ...s, ok: s.pc === 'connected' };
    });
    assert.equal(ps.http, 201, 'WHIP answer status');
    assert.match(ps.resource, /\/rtc\/v1\/resource\/[A-Za-z0-9]+$/);
    console.log('  WHIP publisher connected, resource ' + ps.resource);

    const play = await open('player', '/player.html?autostart=1&proto=whep&url=' + url);
    const ls = await waitFor('WHEP player first frame', async () => {
      const s = await pageState(play);
      return { ...s, ok: s.firstFrameMs != null };
    });
    assert.equal(ls.http, 201, 'WHEP answer status');
    const m = await play.evaluate(async () => {
      const read = async () => {
        const o = { t: performance.now(), frames: 0, audio: 0 };
        (await window.fanout.pc.getStats()).forEach((s) => {
          if (s.type !== 'inbound-rtp') return;
          if (s.kind === 'video') o.frames += s.framesDecoded || 0;
          if (s.kind === 'audio') o.audio += s.packetsReceived || 0;
        });
        return o;
      };
      const a = await read();
      await new Promise((r) => setTimeout(r, 3000));
      const b = await read();
      const sec = (b.t - a.t) / 1000;
      return { fps: Math.round(10 * (b.frames - a.frames) / sec) / 10, audioStart: a.audio, audioInWindow: b.audio - a.audio };
    });
    console.log('  WHEP player: first frame ' + ls.firstFrameMs + ' ms, ' + m.fps + ' fps, ' + m.audioInWindow + ' audio packets in 3 s');
    assert.ok(m.fps >= MIN_FPS, 'WHEP player decoded ' + m.fps + ' fps');
    assert.ok(m.audioInWindow > 0, 'WHEP player: audio not growing');

    // the index page lists the live stream from /api/v1/streams
    const index = await open('index', '/index.html');
    const row = await waitFor('index lists the stream', () => index.evaluate((k) => {
      const tr = document.querySelector('tr[data-stream="' + k + '"]');
      return tr ? { ok: true, text: tr.textContent, links: [...tr.querySelectorAll('a')].map((a) => a.getAttribute('href')) } : { rows: document.getElementById('streamRows').textContent };
    }, key), 10000);
    assert.match(row.text, /live/);
    assert.ok(row.links.some((h) => /proto=whep/.test(h)), 'index: no WHEP play link');
    console.log('  index lists ' + key + ': ' + row.text);

    let clients = (await api(server, '/api/v1/clients')).json.clients;
    const ids = clients.map((c) => c.id).sort();
    assert.deepEqual(ids, [ps.sessionid, ls.sessionid].sort(), '/api/v1/clients');
    assert.ok(clients.every((c) => c.state === 'connected'), 'clients connected');

    // DELETE from the pages while their PeerConnections are still open
    for (const p of [play, pub]) {
      const st = await p.evaluate(async () => (await fetch(window.fanout.state.resource, { method: 'DELETE' })).status);
      assert.equal(st, 200, p.label + ': DELETE status');
    }
    clients = (await api(server, '/api/v1/clients')).json.clients;
    assert.equal(clients.length, 0, 'sessions left after DELETE: ' + JSON.stringify(clients));
    const again = await pub.evaluate(async () => (await fetch(window.fanout.state.resource, { method: 'DELETE' })).status);
    assert.equal(again, 404, 'second DELETE');
    const metrics = (await api(server, '/metrics')).text;
    assert.match(metrics, /^fanout_sessions_ended_total\{reason="api"\} 2$/m);
    console.log('  DELETE ended both sessions (/api/v1/clients empty, /metrics ended{api} 2)');
  } catch (err) {
    console.error('---- fanout log tail:\n' + server.tail(60));
    for (const p of pages) console.error('---- ' + p.label + ': ' + JSON.stringify(await pageState(p).catch((e) => e.message)) + '\n' + p.console.slice(-10).join('\n'));
    throw err;
  } finally {
    await chromium.close().catch(() => {});
    await server.stop();
  }
});

// SPDX-License-Identifier: MIT
// One stream, two machines, real browsers (issue 10): Debian's redis-server on a free port (no
// persistence) and two fanout nodes sharing it. Chromium publishes camera and microphone to
// node A (SRS API); another Chromium page plays the stream from node B (WHEP), which pulls it
// from A. Checks: the player decodes video (>= MIN_FPS over a window) and receives audio
// (getStats), B's /api/v1/cluster shows the pull from A connected, A's shows the relay it
// serves B; both nodes exit 0 on SIGTERM.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer, freePort } = require('./lib/server');
const { launchChromium } = require('./lib/browser');

const MIN_FPS = 10;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** redis-server on a free loopback port in a temporary directory; resolves once it listens. */
async function startRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-e2e-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  process.on('exit', () => { try { child.kill('SIGKILL'); } catch (e) { /* gone */ } });
  let out = '';
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('redis-server not ready: ' + out)), 10000);
    child.stdout.on('data', (d) => { out += d; if (/Ready to accept connections/.test(out)) { clearTimeout(t); resolve(); } });
    child.once('exit', (c) => { clearTimeout(t); reject(new Error('redis-server exited ' + c + ': ' + out)); });
  });
  return {
    url: 'redis://127.0.0.1:' + port,
    stop: async () => {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function until(what, fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v && v.ok) return v;
    if (v && v.error) throw new Error(what + ': ' + v.error);
    if (Date.now() > end) throw new Error(what + ': not after ' + ms + ' ms (' + JSON.stringify(v) + ')');
    await sleep(250);
  }
}

const stateOf = (page) => page.evaluate(() => {
  const f = window.fanout;
  return f ? { error: f.error, pc: f.state.pc, http: f.state.httpStatus, firstFrameMs: f.firstFrameMs } : {};
});

test('chromium: publish on node A, play on node B (pulled over WHEP), frames decoded and audio received',
  { timeout: 120000 }, async (t) => {
    const redis = await startRedis();
    const node = (id) => ['--set', 'cluster.redis=' + redis.url, '--set', 'cluster.node_id=' + id,
      '--set', 'cluster.heartbeat=1', '--set', 'cluster.secret=e2e-cluster'];
    const a = await startServer({ extraArgs: node('node-a') });
    const b = await startServer({ extraArgs: node('node-b') });
    t.diagnostic('A: ' + a.cmd);
    const chromium = await launchChromium();
    try {
      const key = 'live/e2e-cluster-' + crypto.randomBytes(4).toString('hex');
      const url = encodeURIComponent('webrtc://127.0.0.1/' + key);
      const pubPage = await chromium.newPage();
      await pubPage.goto(a.origin + '/publisher.html?autostart=1&url=' + url);
      await until('publisher on A connected', async () => {
        const s = await stateOf(pubPage);
        return { ...s, ok: s.pc === 'connected' };
      });
      const t0 = Date.now();
      const playPage = await chromium.newPage();
      await playPage.goto(b.origin + '/player.html?autostart=1&proto=whep&url=' + url);
      const ps = await until('player on B: first frame', async () => {
        const s = await stateOf(playPage);
        return { ...s, ok: s.firstFrameMs != null };
      });
      assert.equal(ps.http, 201, 'WHEP on B');
      const m = await playPage.evaluate(async () => {
        const read = async () => {
          const o = { t: performance.now(), frames: 0, audio: 0, audioBytes: 0 };
          (await window.fanout.pc.getStats()).forEach((s) => {
            if (s.type !== 'inbound-rtp') return;
            if (s.kind === 'video') o.frames += s.framesDecoded || 0;
            else if (s.kind === 'audio') { o.audio += s.packetsReceived || 0; o.audioBytes += s.bytesReceived || 0; }
          });
          return o;
        };
        const x = await read();
        await new Promise((r) => setTimeout(r, 3000));
        const y = await read();
        return { fps: (y.frames - x.frames) / ((y.t - x.t) / 1000), audio: y.audio - x.audio, audioBytes: y.audioBytes - x.audioBytes };
      });
      console.log('  player on B: first frame ' + ps.firstFrameMs + ' ms (page ' + (Date.now() - t0) + ' ms), ' +
        m.fps.toFixed(1) + ' fps, ' + m.audio + ' audio packets in 3 s');
      assert.ok(m.fps >= MIN_FPS, 'B decoded ' + m.fps + ' fps');
      assert.ok(m.audio > 50 && m.audioBytes > 0, 'B audio packets in 3 s: ' + m.audio);
      const cb = await (await fetch(b.origin + '/api/v1/cluster')).json();
      const pull = cb.pulls.find((p) => p.stream === key);
      assert.ok(pull && pull.parent === 'node-a' && pull.relay === 'connected', 'B pull: ' + JSON.stringify(cb.pulls));
      const ca = await (await fetch(a.origin + '/api/v1/cluster')).json();
      assert.ok(ca.served.some((s) => s.stream === key && s.node === 'node-b'), 'A serves B: ' + JSON.stringify(ca.served));
      assert.equal(ca.nodes.length, 2, 'two nodes in the registry');
      if (process.env.E2E_DUMP) console.log("--- A ---\n" + a.tail(400) + "\n--- B ---\n" + b.tail(400));
    } catch (e) {
      console.log('--- A ---\n' + a.tail(40) + '\n--- B ---\n' + b.tail(40));
      throw e;
    } finally {
      await chromium.close();
      const sb = await b.stop();
      const sa = await a.stop();
      await redis.stop();
      assert.deepEqual([sa.code, sb.code], [0, 0], 'exit codes');
    }
  });

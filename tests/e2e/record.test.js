// SPDX-License-Identifier: MIT
// Recording from a real browser: Chromium (fake camera and microphone) publishes through
// www/publisher.html for a few seconds with record.enabled on, then stops; the file fanout wrote
// must carry what the browser sent: the codec (VP8 in WebM; H.264, VP9, AV1 in MP4), the camera's
// resolution as the browser encoded it (outbound-rtp frameWidth/frameHeight) and its frame
// rate (frames in the file over the file's duration, within 15 % of the encoder's rate; VP8 and
// H.264), Opus audio, and decode without errors. Needs ffprobe/ffmpeg (scripts/deps.sh --test).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startServer } = require('./lib/server');
const { launchChromium } = require('./lib/browser');

const PUBLISH_MS = 7000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function filesUnder(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function probe(file) {
  const j = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries',
    'stream=codec_type,codec_name,width,height,nb_read_frames:format=duration', '-of', 'json', file]).toString());
  const v = j.streams.find((s) => s.codec_type === 'video');
  const a = j.streams.find((s) => s.codec_type === 'audio');
  return { v, a, duration: Number(j.format.duration) };
}

/* checkRate: the file's frame rate against the encoder's (VP8, H.264); VP9 and AV1 software
 * encoders on a loaded 2-core machine vary their rate too much within a run for that. */
async function publishAndRecord(t, codec, { checkRate = true, publishMs = PUBLISH_MS } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-e2e-rec-'));
  const server = await startServer({ extraArgs: ['--set', 'record.enabled=true', '--set', 'record.dir=' + dir] });
  const browser = await launchChromium();
  try {
    t.diagnostic('fanout: ' + server.cmd);
    const page = await browser.newPage();
    const stream = 'live/e2e-rec-' + crypto.randomBytes(4).toString('hex');
    await page.goto(server.origin + '/publisher.html?autostart=1&codec=' + codec + '&url=' +
      encodeURIComponent('webrtc://127.0.0.1/' + stream));
    // what the encoder sends, measured in the page over the publishing time
    const sent = await page.evaluate(async (ms) => {
      const t0 = performance.now();
      while (!(window.fanout && window.fanout.pc && window.fanout.state.pc === 'connected')) {
        if (window.fanout && window.fanout.error) return { error: window.fanout.error };
        if (performance.now() - t0 > 30000) return { error: 'not connected after 30 s' };
        await new Promise((r) => setTimeout(r, 100));
      }
      const read = async () => {
        let o = null;
        (await window.fanout.pc.getStats()).forEach((s) => {
          if (s.type === 'outbound-rtp' && s.kind === 'video') o = { frames: s.framesEncoded || 0, w: s.frameWidth, h: s.frameHeight, t: performance.now() };
        });
        return o;
      };
      await new Promise((r) => setTimeout(r, 1500));
      const a = await read();
      await new Promise((r) => setTimeout(r, ms));
      const b = await read();
      const settings = window.fanout.localStream.getVideoTracks()[0].getSettings();
      return { fps: (b.frames - a.frames) / ((b.t - a.t) / 1000), w: b.w, h: b.h, camera: settings.width + 'x' + settings.height + '@' + settings.frameRate };
    }, publishMs);
    assert.ok(!sent.error, 'publisher: ' + sent.error);
    // closing the PeerConnection sends DTLS close_notify: the session ends, the file is finished
    await page.evaluate(() => window.fanout.pc.close());
    await page.close();
    for (let i = 0; i < 50 && !/recording: closed/.test(server.tail(200)); i++) await sleep(200);
    assert.match(server.tail(200), /recording: closed/, 'no file closed:\n' + server.tail(60));
    const files = filesUnder(dir);
    assert.equal(files.length, 1, 'files: ' + files.join(', ') + '\n' + server.tail(60));
    const ext = codec === 'VP8' ? '.webm' : '.mp4';
    const ffname = { VP8: 'vp8', H264: 'h264', VP9: 'vp9', AV1: 'av1' }[codec];
    assert.ok(files[0].endsWith(ext), files[0]);
    const p = probe(files[0]);
    const fps = Number(p.v.nb_read_frames) / p.duration;
    console.log('  ' + codec + ': browser sent ' + sent.w + 'x' + sent.h + ' at ' + sent.fps.toFixed(1) + ' fps (camera ' + sent.camera +
      '); ' + path.basename(files[0]) + ': ' + p.v.codec_name + ' ' + p.v.width + 'x' + p.v.height + ', ' + p.v.nb_read_frames +
      ' frames in ' + p.duration.toFixed(2) + ' s = ' + fps.toFixed(1) + ' fps, ' + (p.a ? p.a.codec_name + ' ' + p.a.nb_read_frames + ' frames' : 'no audio'));
    assert.equal(p.v.codec_name, ffname);
    assert.ok(p.a && p.a.codec_name === 'opus', 'no Opus track');
    assert.equal(p.v.width + 'x' + p.v.height, sent.w + 'x' + sent.h, 'resolution');
    if (checkRate) assert.ok(Math.abs(fps - sent.fps) <= sent.fps * 0.15, 'frame rate ' + fps.toFixed(1) + ', the browser sent ' + sent.fps.toFixed(1));
    assert.ok(p.duration >= publishMs / 1000, 'duration ' + p.duration);
    const errors = execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', files[0], '-f', 'null', '-'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    assert.equal(errors, '', 'decode errors');
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('chromium publishes VP8 + Opus: the WebM file has the camera\'s resolution and frame rate', { timeout: 90000 }, async (t) => {
  await publishAndRecord(t, 'VP8');
});

test('chromium publishes H.264 + Opus: the MP4 file has the camera\'s resolution and frame rate', { timeout: 90000 }, async (t) => {
  await publishAndRecord(t, 'H264');
});

test('chromium publishes VP9 and AV1 + Opus: fragmented MP4 files with the camera\'s resolution that decode clean', { timeout: 180000 }, async (t) => {
  await publishAndRecord(t, 'VP9', { checkRate: false, publishMs: 4000 });
  await publishAndRecord(t, 'AV1', { checkRate: false, publishMs: 4000 });
});

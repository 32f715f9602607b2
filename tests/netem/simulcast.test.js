// SPDX-License-Identifier: MIT
// Simulcast with real browsers: headless chromium publishes three layers (rids l, m, h;
// www/publisher.html?simulcast=1) from a 1280x720 y4m fake camera made with ffmpeg (without
// ffmpeg, chromium's own fake device; then the layers are smaller and fewer may arrive). Checks
// that fanout learns the layers (rid -> SSRC, /api/v1/clients simulcast.layers) and that two
// players choosing ?layer=low and ?layer=high on the stream URL each decode their layer: the
// decoded frameWidth differs, and the API shows each on its layer. A third player without
// ?layer= is placed by its bandwidth estimate and decodes too; when the players' link then
// loses 25% (40 ms RTT) it moves down to the lowest layer while the forced ones stay.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const { Rig } = require('./media-probe.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const VIDEO = '/tmp/fanout-simulcast-720p.y4m';

function makeVideo() {
  if (fs.existsSync(VIDEO) && fs.statSync(VIDEO).size > 0) return VIDEO;
  try {
    execFileSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i',
      'testsrc2=size=1280x720:rate=15,noise=alls=20:allf=t', '-t', '2', '-pix_fmt', 'yuv420p', VIDEO]);
    return VIDEO;
  } catch (e) {
    return null;
  }
}

async function clients(rig) {
  const r = await fetch(rig.server.origin + '/api/v1/clients?count=100');
  return (await r.json()).clients;
}

async function inboundVideo(page) {
  return page.evaluate(async () => {
    const out = { frames: 0, width: 0 };
    if (!window.fanout || !window.fanout.pc) return out;
    (await window.fanout.pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        out.frames = s.framesDecoded || 0;
        out.width = s.frameWidth || 0;
        out.height = s.frameHeight || 0;
      }
    });
    return out;
  });
}

test('simulcast: three layers in, players on ?layer=low and ?layer=high decode different sizes', { timeout: 120000 }, async () => {
  const video = makeVideo();
  const rig = await new Rig().start({ video });
  try {
    const stream = 'sim';
    const pub = await rig.browser.newPage();
    rig.pages.push(pub);
    await pub.goto(rig.url('publisher.html', stream, rig.pubLink, '&simulcast=1'));
    let layers = [];
    const end = Date.now() + 30000;
    while (Date.now() < end) {
      const p = (await clients(rig)).find((c) => c.type === 'rtc-publish');
      layers = (p && p.simulcast && p.simulcast.layers) || [];
      if (layers.length === 3 && layers.every((l) => l.packets > 0 && l.ssrc)) break;
      await sleep(500);
    }
    console.log('# publisher layers', JSON.stringify(layers));
    assert.strictEqual(layers.length, 3, 'three simulcast layers negotiated');
    const flowing = layers.filter((l) => l.packets > 0).length;
    assert.ok(flowing >= (video ? 3 : 2), `${flowing} layers flowing`);

    const open = async (layer) => {
      const s = 'webrtc://127.0.0.1:' + rig.server.httpPort + '/live/' + stream + '?eip=127.0.0.1:' +
        rig.playLink.port + (layer ? '&layer=' + layer : '');
      const page = await rig.browser.newPage();
      rig.pages.push(page);
      await page.goto(rig.server.origin + '/player.html?autostart=1&url=' + encodeURIComponent(s));
      return page;
    };
    const low = await open('low');
    const high = await open('high');
    const auto = await open(null);
    // A loaded machine's Chromium may pause its top layer for a while (CPU adaptation); a player
    // forced to "high" then sits on the highest live layer until it comes back. Wait for both.
    let l, h, a, players;
    const end1 = Date.now() + 30000;
    do {
      await sleep(3000);
      [l, h, a] = [await inboundVideo(low), await inboundVideo(high), await inboundVideo(auto)];
      players = (await clients(rig)).filter((c) => c.type === 'rtc-play').map((c) => c.simulcast);
      const on = players.map((p) => p && p.layer);
      if (l.frames > 0 && h.frames > 0 && a.frames > 0 && h.width > l.width && on.includes(0) && on.includes(2)) break;
    } while (Date.now() < end1);
    console.log('# low', JSON.stringify(l), 'high', JSON.stringify(h), 'auto', JSON.stringify(a));
    console.log('# players', JSON.stringify(players));
    assert.ok(l.frames > 0 && h.frames > 0 && a.frames > 0, 'all three players decode');
    assert.ok(l.width > 0 && h.width > l.width, `low ${l.width}px < high ${h.width}px`);
    const on = players.map((p) => p && p.layer).sort();
    assert.ok(on.includes(0) && on.includes(2), 'the API shows players on layers 0 and 2: ' + JSON.stringify(on));

    // The players' link turns bad (25% loss, 40 ms RTT): the automatic player's estimate falls
    // and it moves down a layer (or stays on the lowest) instead of freezing on a big one.
    // (/api/v1/clients lists sessions by age: the players are low, high, automatic.)
    const autoBefore = players[2] && players[2].layer;
    rig.playLink.set(0.25, 20);
    let after = null;
    const end2 = Date.now() + 15000;
    while (Date.now() < end2) {
      await sleep(1000);
      const ps = (await clients(rig)).filter((c) => c.type === 'rtc-play');
      after = ps.map((c) => ({ layer: c.simulcast && c.simulcast.layer, target: c.simulcast && c.simulcast.target, bwe: c.bwe }));
      if (after[2] && after[2].target === 0) break;
    }
    rig.playLink.set(0, 0);
    console.log('# under 25% loss', JSON.stringify(after));
    assert.ok(after[2] && after[2].target === 0, `automatic player moved down from ${autoBefore}: ${JSON.stringify(after[2])}`);
    assert.strictEqual(after[0].target, 0, 'forced low stays low');
    assert.strictEqual(after[1].target, 2, 'forced high stays high');
  } finally {
    await rig.close();
  }
});

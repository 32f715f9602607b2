// SPDX-License-Identifier: MIT
// People always know what is happening (issue 16), checked on the project's own pages in
// headless Chromium (and a Firefox player) against build/fanout:
//  1. a player of a stream nobody publishes says "Waiting for live/... to start" (phase
//     'waiting', never 'connected' or 'playing'), then plays by itself once a publisher starts;
//     at 390 px (a phone) no page scrolls sideways;
//  2. the publisher presses Stop: every player (Chromium and Firefox) shows "The broadcast
//     ended" within 3 s of the click (the page's own clock), the publisher page shows how many
//     watch and draws its chart; Publish again: every player plays again, no click;
//  3. the server restarts: the player says it cannot reach the server and retries, the
//     publisher page stops and re-enables Publish, the index greys its rows out; once the
//     server is back and the publisher publishes again the player plays without a click, and
//     the index's rows are live again;
//  4. camera errors in plain words: permission denied (--deny-permission-prompts), no camera
//     (no fake device), and a page that is not a secure context, which links to its https://
//     copy on the server's HTTPS port.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const os = require('node:os');
const { startServer } = require('./lib/server');
const { launchChromium, launchFirefox, CHROMIUM_ARGS } = require('./lib/browser');
const { openPage, waitInPage, sleep } = require('./lib/pages');

const WAIT_MS = 30000;
const ENDED_WITHIN_MS = 3000;
const streamName = (tag) => 'live/e2e-' + tag + '-' + crypto.randomBytes(4).toString('hex');

/** Server, browsers, pages; on failure the server log and each page's state are printed. */
async function withRig(t, opts, body) {
  const rig = { server: await startServer(opts), browsers: [], pages: [] };
  t.diagnostic('fanout: ' + rig.server.cmd);
  try {
    await body(rig);
  } catch (err) {
    console.error('---- fanout log tail:\n' + rig.server.tail(60));
    for (const p of rig.pages) {
      const snap = await p.evaluate(() => ({
        snap: window.fanout && window.fanout.snapshot && window.fanout.snapshot(),
        page: window.fanoutPage ? { ...window.fanoutPage, chart: undefined } : null,
        banner: document.getElementById('banner') && document.getElementById('banner').textContent,
      })).catch((e) => e.message);
      console.error('---- ' + p.label + ': ' + JSON.stringify(snap, (k, v) => (k === 'offer' || k === 'answer' ? undefined : v)));
    }
    throw err;
  } finally {
    // a browser that does not close in 10 s is left to the process exit (firefox over BiDi can hang)
    await Promise.all(rig.browsers.map((b) => Promise.race([b.close().catch(() => {}), sleep(10000)])));
    await rig.server.stop();
  }
}

/** What a page shows: its phase, the banner text, the error box, Publish/Play enabled. */
const shown = (page) => page.evaluate(() => {
  const f = window.fanout, b = document.getElementById('banner'), e = document.getElementById('error');
  return {
    phase: f.state.phase, pc: f.state.pc, firstFrameMs: f.firstFrameMs, phaseAt: f.phaseAt,
    banner: b && !b.hidden ? b.textContent : '', error: e && !e.hidden ? e.textContent : '',
    startEnabled: !document.getElementById('start').disabled, players: f.audience.players,
    chartPoints: window.fanoutPage && window.fanoutPage.chart ? window.fanoutPage.chart.points.length : null,
  };
});

/** Waits until `page` (a player) decodes frames, counted from now. */
const plays = (page, what) => waitInPage(page, async () => {
  const f = window.fanout;
  if (!f || !f.pc) return { why: 'no session' };
  const read = async () => {
    let n = 0;
    (await f.pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0; });
    return n;
  };
  const a = await read();
  await new Promise((r) => setTimeout(r, 700));
  const b = await read();
  return { ok: f.state.phase === 'playing' && b > a, phase: f.state.phase, frames: b };
}, WAIT_MS, what);

const publishing = (page) => waitInPage(page, () => {
  const f = window.fanout;
  if (f.error) return { error: f.error };
  return { ok: f.state.phase === 'live', phase: f.state.phase, pc: f.state.pc };
}, WAIT_MS, 'publisher live');

test('a player of a stream nobody publishes says it waits for it, then plays once it starts; 390 px fits', { timeout: 150000 }, async (t) => {
  await withRig(t, {}, async (rig) => {
    const chromium = await launchChromium();
    rig.browsers.push(chromium);
    const stream = streamName('waiting');
    const player = await openPage(chromium, rig.server, 'player', 'player.html', stream, { list: rig.pages });
    const w = await waitInPage(player, () => {
      const f = window.fanout, b = document.getElementById('banner');
      return { ok: f.state.phase === 'waiting' && !b.hidden, phase: f.state.phase, banner: b.textContent, error: f.error };
    }, WAIT_MS, 'waiting state');
    assert.match(w.banner, new RegExp('Waiting for ' + stream + ' to start'));
    // it stays so (connected underneath, but it never claims to be connected or playing)
    for (let i = 0; i < 8; i++) {
      const s = await shown(player);
      assert.equal(s.phase, 'waiting', 'phase while nobody publishes: ' + JSON.stringify(s));
      assert.match(s.banner, /Waiting for/);
      await sleep(250);
    }
    console.log('  player of an unpublished stream: "' + w.banner + '" (pc ' + (await shown(player)).pc + ')');
    const pub = await openPage(chromium, rig.server, 'publisher', 'publisher.html', stream, { list: rig.pages });
    await publishing(pub);
    await plays(player, 'player plays once the publisher starts');
    const s = await shown(player);
    assert.equal(s.banner, '', 'no banner while playing');
    for (const p of [player, pub]) { await p.close(); rig.pages.splice(rig.pages.indexOf(p), 1); } // less load for what follows

    // a phone, 390 px wide: no page scrolls sideways (a long stream name in the index included)
    const phone = { viewport: { width: 390, height: 844 } };
    const long = streamName('a-rather-long-stream-name-on-a-phone');
    const pub390 = await openPage(chromium, rig.server, 'publisher-390', 'publisher.html', long, { list: rig.pages, contextOpts: phone });
    await publishing(pub390);
    const play390 = await openPage(chromium, rig.server, 'player-390', 'player.html', long, { list: rig.pages, contextOpts: phone });
    await plays(play390, 'playing at 390 px');
    const index = await chromium.newPage(phone);
    index.label = 'index-390';
    rig.pages.push(index);
    await index.goto(rig.server.origin + '/index.html');
    await waitInPage(index, (k) => ({ ok: !!document.querySelector('tr[data-stream="' + k + '"]') }), 10000, 'index row', long);
    for (const p of [index, pub390, play390]) {
      const w = await p.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      console.log('  ' + p.label + ': content ' + w.scroll + ' px in ' + w.client + ' px');
      assert.ok(w.scroll <= w.client, p.label + ': content ' + w.scroll + ' px wider than the ' + w.client + ' px screen');
    }
  });
});

test('publisher stops: every player shows "ended" within 3 s; it publishes again: they play again', { timeout: 180000 }, async (t) => {
  await withRig(t, {}, async (rig) => {
    const [chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()]);
    rig.browsers.push(chromium, firefox);
    const stream = streamName('ended');
    const pub = await openPage(chromium, rig.server, 'publisher', 'publisher.html', stream, { list: rig.pages });
    await publishing(pub);
    const players = [
      await openPage(chromium, rig.server, 'chromium-player', 'player.html', stream, { list: rig.pages }),
      await openPage(firefox, rig.server, 'firefox-player', 'player.html', stream, { list: rig.pages }),
    ];
    for (const p of players) await plays(p, 'playing');
    // the publisher page counts its audience and charts what it sends
    const ps = await waitInPage(pub, () => ({
      ok: window.fanout.audience.players === 2 && /2 watching/.test(document.getElementById('onair').textContent) &&
        document.getElementById('watching').textContent === '2',
      players: window.fanout.audience.players, onair: document.getElementById('onair').textContent,
    }), 10000, 'publisher shows 2 watching');
    console.log('  publisher page: "' + ps.onair.trim() + '"');
    assert.ok((await shown(pub)).chartPoints >= 3, 'publisher chart has points');
    assert.ok((await shown(players[0])).chartPoints >= 1, 'player chart has points');

    const clickAt = await pub.evaluate(() => { document.getElementById('stop').click(); return Date.now(); });
    for (const p of players) {
      const e = await waitInPage(p, () => {
        const f = window.fanout, b = document.getElementById('banner');
        return { ok: f.state.phase === 'ended' && /broadcast ended/.test(b.textContent) && !b.hidden, at: f.phaseAt.ended,
          phase: f.state.phase, banner: b.textContent };
      }, 10000, 'ended state');
      const ms = e.at - clickAt;
      console.log('  ' + p.label + ': "' + e.banner + '" ' + ms + ' ms after Stop');
      assert.ok(ms <= ENDED_WITHIN_MS, p.label + ': ended shown ' + ms + ' ms after Stop (> ' + ENDED_WITHIN_MS + ')');
    }
    const p = await shown(pub);
    assert.ok(p.startEnabled, 'Publish enabled after Stop');

    await pub.evaluate(() => document.getElementById('start').click());
    await publishing(pub);
    for (const pl of players) await plays(pl, 'playing again after the publisher came back');
    console.log('  both players play again after the publisher came back (no click)');
  });
});

test('server restarts: player retries and plays again without a click; publisher stops; index greys out', { timeout: 180000 }, async (t) => {
  await withRig(t, {}, async (rig) => {
    const chromium = await launchChromium();
    rig.browsers.push(chromium);
    const stream = streamName('restart');
    const pub = await openPage(chromium, rig.server, 'publisher', 'publisher.html', stream, { list: rig.pages });
    await publishing(pub);
    const player = await openPage(chromium, rig.server, 'player', 'player.html', stream, { list: rig.pages });
    await plays(player, 'playing');
    const index = await chromium.newPage();
    index.label = 'index';
    rig.pages.push(index);
    await index.goto(rig.server.origin + '/index.html');
    await waitInPage(index, (k) => {
      const tr = document.querySelector('tr[data-stream="' + k + '"]');
      return { ok: !!tr && /live/.test(tr.children[1].textContent), row: tr && tr.textContent };
    }, 10000, 'index lists the live stream', stream);

    await rig.server.stop(3000, { keep: true });
    const down = await waitInPage(player, () => {
      const b = document.getElementById('banner');
      return { ok: window.fanoutPage.retrying && /Cannot reach the server/.test(b.textContent), banner: b.textContent };
    }, 15000, 'player says it cannot reach the server');
    console.log('  player: "' + down.banner + '"');
    const pd = await waitInPage(pub, () => {
      const e = document.getElementById('error');
      return { ok: !e.hidden && /Lost the connection/.test(e.textContent) && !document.getElementById('start').disabled &&
        document.getElementById('stop').disabled, error: e.textContent, phase: window.fanout.state.phase };
    }, 15000, 'publisher stops and re-enables Publish');
    console.log('  publisher: "' + pd.error + '"');
    const statsBefore = await pub.evaluate(() => window.fanoutPage.chart.points.length);
    const gi = await waitInPage(index, () => ({
      ok: document.getElementById('streams').classList.contains('stale') && /does not answer/.test(document.getElementById('listNote').textContent),
      note: document.getElementById('listNote').textContent,
    }), 10000, 'index greys its rows out');
    console.log('  index: "' + gi.note + '"');
    await sleep(2000);
    assert.equal(await pub.evaluate(() => window.fanoutPage.chart.points.length), statsBefore, 'publisher stats stopped');

    await rig.server.restart();
    await pub.evaluate(() => document.getElementById('start').click());
    await publishing(pub);
    await plays(player, 'player plays again after the restart');
    console.log('  player plays again after the server restart, without a click');
    await waitInPage(index, (k) => {
      const tr = document.querySelector('tr[data-stream="' + k + '"]');
      return { ok: !document.getElementById('streams').classList.contains('stale') && !!tr && /live/.test(tr.children[1].textContent) &&
        document.getElementById('listNote').hidden };
    }, 10000, 'index fresh again', stream);
  });
});

test('camera errors say what to do: permission denied, no camera, not a secure page (links https://)', { timeout: 90000 }, async (t) => {
  await withRig(t, { https: true }, async (rig) => {
    const q = '/publisher.html?autostart=1&url=' + encodeURIComponent('webrtc://127.0.0.1/' + streamName('cam'));
    const errorOf = async (args, origin, what) => {
      const b = await launchChromium({ args });
      rig.browsers.push(b);
      const p = await b.newPage();
      p.label = what;
      rig.pages.push(p);
      await p.goto(origin + q);
      return waitInPage(p, () => {
        const e = document.getElementById('error');
        const a = e.querySelector('a');
        return { ok: !e.hidden && e.textContent.length > 0, text: e.textContent, link: a ? a.href : null,
          start: !document.getElementById('start').disabled };
      }, 15000, what);
    };
    const denied = await errorOf(CHROMIUM_ARGS.filter((a) => a !== '--use-fake-ui-for-media-stream').concat('--deny-permission-prompts'),
      rig.server.origin, 'permission denied');
    console.log('  permission denied: "' + denied.text + '"');
    assert.match(denied.text, /Allow them for this site/);
    assert.match(denied.text, /camera icon in the address bar/);
    assert.ok(denied.start, 'Publish enabled again');
    const none = await errorOf(CHROMIUM_ARGS.filter((a) => a !== '--use-fake-device-for-media-stream'), rig.server.origin, 'no camera');
    console.log('  no camera: "' + none.text + '"');
    assert.match(none.text, /No camera or microphone was found\. Plug one in/);
    const lan = Object.values(os.networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
    if (!lan) { t.diagnostic('no non-loopback IPv4 address: insecure-page case skipped'); return; }
    const insecure = await errorOf(CHROMIUM_ARGS, 'http://' + lan.address + ':' + rig.server.httpPort, 'insecure page');
    console.log('  http://' + lan.address + ' page: "' + insecure.text + '"');
    assert.match(insecure.text, /only to secure pages/);
    assert.equal(new URL(insecure.link).origin, 'https://' + lan.address + ':' + rig.server.httpsPort, 'link to the https page');
    assert.equal(new URL(insecure.link).pathname, '/publisher.html');
  });
});

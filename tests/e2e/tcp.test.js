// SPDX-License-Identifier: MIT
// Browsers over ICE-TCP (RFC 6544: the server's passive TCP candidates, the browsers' active
// ones): (1) Chromium publishes and plays with UDP media off (answers carry TCP candidates
// only); (2) the same through the HTTPS port in one-port mode (rtc.tcp_on_https, UDP and the
// ICE-TCP port off: pages, API and media on one TCP port); (3) Firefox plays over ICE-TCP;
// (4) with UDP media on but UDP to the media port dropped by nftables (a UDP-blocking network;
// root only, its own table, deleted at exit), Chromium falls back to ICE-TCP by itself.
// Each page must decode video and receive audio (getStats), its selected candidate pair must
// be TCP, and the server must show every session's transport as tcp (/api/v1/clients).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { launchChromium, launchFirefox } = require('./lib/browser');
const {
  WINDOW_MS, TEST_TIMEOUT_MS, streamName, withFixture, openPage, publisherSending, firstFrame, measurePlayer,
  checkPlayback, waitInPage,
} = require('./lib/playback');

const TCP_ONLY = ['--set', 'rtc.udp=false'];

/** The selected candidate pair of a page's PeerConnection: protocols and the remote port. */
function selectedPair(page) {
  return waitInPage(page, async () => {
    const r = await window.fanout.pc.getStats();
    let pair = null;
    r.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = r.get(s.selectedCandidatePairId); });
    if (!pair) r.forEach((s) => { if (s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) pair = s; });
    if (!pair) return { why: 'no selected candidate pair yet' };
    const local = r.get(pair.localCandidateId), remote = r.get(pair.remoteCandidateId);
    if (!local || !remote) return { why: 'candidates not in stats' };
    return { ok: true, local: local.protocol + ' ' + (local.tcpType || ''), remote: remote.protocol, port: remote.port };
  }, 10000, 'selected candidate pair');
}

async function expectTcp(page, port) {
  const p = await selectedPair(page);
  console.log('  ' + page.label + ': selected pair local ' + p.local + ', remote ' + p.remote + ' port ' + p.port);
  assert.equal(p.remote, 'tcp', page.label + ': the selected pair is not ICE-TCP: ' + JSON.stringify(p));
  if (port) assert.equal(Number(p.port), port, page.label + ': remote port ' + p.port + ', want ' + port);
}

/** Every session the server has is on an ICE-TCP path. */
async function serverSaysTcp(server, n) {
  const j = await (await fetch(server.origin + '/api/v1/clients?count=100')).json();
  const tr = j.clients.map((c) => c.transport);
  assert.equal(tr.length, n, 'sessions on the server: ' + JSON.stringify(tr));
  assert.ok(tr.every((x) => x === 'tcp'), 'server-side transports: ' + JSON.stringify(tr));
}

test('chromium publishes and plays over ICE-TCP only (UDP media off)', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withFixture(t, 'tcp-only', async (ctx) => {
    const chromium = await launchChromium();
    ctx.browsers.push(chromium);
    const stream = streamName('tcp');
    const pub = await openPage(ctx, chromium, 'publisher', 'publisher.html', stream);
    const p = await publisherSending(pub);
    const answer = await pub.evaluate(() => window.fanout.state.answer);
    assert.ok(!/ udp /.test(answer) && / tcp .* tcptype passive/.test(answer), 'the answer must carry TCP candidates only');
    console.log('  publisher connected over ICE-TCP, ' + p.frames + ' frames encoded');
    const player = await openPage(ctx, chromium, 'player', 'player.html', stream);
    const f = await firstFrame(player);
    console.log('  player: first frame ' + f.firstFrameMs + ' ms after the play request');
    checkPlayback('chromium over ICE-TCP', await measurePlayer(player, WINDOW_MS));
    for (const pg of [pub, player]) await expectTcp(pg, ctx.server.rtcPort);
    await serverSaysTcp(ctx.server, 2);
  }, { extraArgs: TCP_ONLY });
});

test('one port: pages, API and media through the HTTPS port (rtc.tcp_on_https)', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withFixture(t, 'one-port', async (ctx) => {
    const chromium = await launchChromium();
    ctx.browsers.push(chromium);
    const stream = streamName('oneport');
    const origin = ctx.server.httpsOrigin;
    const tls = { ignoreHTTPSErrors: true };
    const pub = await openPage(ctx, chromium, 'publisher', 'publisher.html', stream, '', origin, tls);
    await publisherSending(pub);
    const api = await pub.evaluate(() => window.fanout.state.api);
    assert.match(api, new RegExp('^https://127\\.0\\.0\\.1:' + ctx.server.httpsPort + '/'), 'signaling over the one port');
    const player = await openPage(ctx, chromium, 'player', 'player.html', stream, '', origin, tls);
    await firstFrame(player);
    checkPlayback('chromium, one port', await measurePlayer(player, WINDOW_MS));
    for (const pg of [pub, player]) await expectTcp(pg, ctx.server.httpsPort);
    await serverSaysTcp(ctx.server, 2);
    const m = await (await fetch(ctx.server.origin + '/metrics')).text();
    const handed = Number((m.match(/^fanout_tcp_tls_handed_over_total (\d+)$/m) || [])[1]);
    assert.ok(handed >= 2, 'TLS connections handed to HTTPS on the shared port: ' + handed);
    console.log('  HTTPS port ' + ctx.server.httpsPort + ': ' + handed + ' TLS connections, 2 ICE-TCP sessions');
  }, { https: true, extraArgs: [...TCP_ONLY, '--set', 'rtc.tcp_port=0', '--set', 'rtc.tcp_on_https=true'] });
});

test('firefox plays over ICE-TCP', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  await withFixture(t, 'firefox-tcp', async (ctx) => {
    const [chromium, firefox] = await Promise.all([launchChromium(), launchFirefox()]);
    ctx.browsers.push(chromium, firefox);
    const stream = streamName('fftcp');
    const pub = await openPage(ctx, chromium, 'publisher', 'publisher.html', stream);
    await publisherSending(pub);
    const player = await openPage(ctx, firefox, 'firefox-player', 'player.html', stream, '&bundle=max-bundle');
    await firstFrame(player);
    checkPlayback('firefox over ICE-TCP', await measurePlayer(player, WINDOW_MS));
    await expectTcp(player, ctx.server.rtcPort);
    await serverSaysTcp(ctx.server, 2);
  }, { extraArgs: TCP_ONLY });
});

/** nft as root, or null when it cannot be used here. */
function nft(args) {
  try {
    return execFileSync('nft', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (e) {
    return null;
  }
}

test('a network that drops UDP: chromium falls back to ICE-TCP', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const table = 'fanout_e2e_' + process.pid;
  if (process.getuid() !== 0 || nft(['list', 'tables']) === null) {
    t.skip('needs root and nftables (scripts/e2e-deps.sh installs nftables)');
    return;
  }
  let added = false;
  const drop = () => { if (added) nft(['delete', 'table', 'inet', table]); added = false; };
  process.once('exit', drop);
  try {
    await withFixture(t, 'udp-blocked', async (ctx) => {
      const port = String(ctx.server.rtcPort);
      if (nft(['add', 'table', 'inet', table]) === null) throw new Error('nft add table failed');
      added = true;
      nft(['add', 'chain', 'inet', table, 'input', '{ type filter hook input priority -10 ; }']);
      if (nft(['add', 'rule', 'inet', table, 'input', 'udp', 'dport', port, 'drop']) === null) throw new Error('nft add rule failed');
      console.log('  nftables: UDP to port ' + port + ' dropped (table ' + table + ')');
      const chromium = await launchChromium();
      ctx.browsers.push(chromium);
      const stream = streamName('noudp');
      const pub = await openPage(ctx, chromium, 'publisher', 'publisher.html', stream);
      await publisherSending(pub);
      const answer = await pub.evaluate(() => window.fanout.state.answer);
      assert.ok(/ udp /.test(answer) && / tcp /.test(answer), 'the answer offers both UDP and TCP');
      const player = await openPage(ctx, chromium, 'player', 'player.html', stream);
      await firstFrame(player);
      checkPlayback('chromium, UDP blocked', await measurePlayer(player, WINDOW_MS));
      for (const pg of [pub, player]) await expectTcp(pg, ctx.server.rtcPort);
      await serverSaysTcp(ctx.server, 2);
    });
  } finally {
    drop();
  }
});

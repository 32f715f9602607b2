// SPDX-License-Identifier: MIT
// Loss repair with real browsers: chromium publishes, chromium plays, and one of the two UDP
// paths loses 5% of its datagrams each way with 20 ms delay each way (40 ms RTT) through a
// user-space relay (lossy-relay.js; tc netem is not available on this kernel). Asserted from
// getStats: frames decoded stay >= 90% of a clean run, freezes stay few, and NACKs were sent
// and answered (player link: the player's NACKs get retransmissions from fanout's history;
// publisher link: fanout's NACKs get retransmissions from the publisher). No timing asserts.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { Rig, lossRun } = require('./media-probe.js');

const SECONDS = Number(process.env.LOSS_SECONDS || 8);

test('loss: 5% + 40 ms RTT on the player link, then on the publisher link', { timeout: 150000 }, async () => {
  const rig = await new Rig().start();
  try {
    // Each run alone in the browser: two shared cores cannot encode and decode several
    // streams at full rate, and the clean run would be compared with a starved one.
    const clean = await lossRun(rig, 'clean', { loss: 0, delayMs: 0, seconds: SECONDS });
    await rig.closePages();
    const play = await lossRun(rig, 'lossy-play', { link: 'play', seconds: SECONDS });
    await rig.closePages();
    const pub = await lossRun(rig, 'lossy-pub', { link: 'pub', seconds: SECONDS });
    console.log('# clean', JSON.stringify(clean));
    console.log('# player link', JSON.stringify(play));
    console.log('# publisher link', JSON.stringify(pub));
    assert.ok(clean.frames > 0, 'clean run decoded frames');
    // 90%, as the issue asks: with retransmissions sent twice to lossy players and each run
    // alone in the browser, 10 runs measured 98-102% (docs/benchmarks.md).
    assert.ok(play.frames >= 0.9 * clean.frames, `player link: ${play.frames} frames vs ${clean.frames} clean`);
    assert.ok(play.playerNacks > 0, 'player sent NACKs');
    assert.ok(play.playerRetransmitted > 0, 'fanout answered the player with retransmissions');
    assert.ok(play.freezeCount <= 4, `player link: ${play.freezeCount} freezes`);
    assert.ok(pub.frames >= 0.9 * clean.frames, `publisher link: ${pub.frames} frames vs ${clean.frames} clean`);
    assert.ok(pub.publisherNacksReceived > 0, 'fanout NACKed the publisher');
    assert.ok(pub.publisherRetransmitted > 0, 'the publisher retransmitted');
    assert.ok(pub.freezeCount <= 3, `publisher link: ${pub.freezeCount} freezes`);
  } finally {
    await rig.close();
  }
});

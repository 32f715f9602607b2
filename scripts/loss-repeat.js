// SPDX-License-Identifier: MIT
// Repeats the player-link loss run of tests/netem/loss.test.js N times (default 5), each alone
// in the browser, after one clean run, and prints frames decoded vs clean, freezes, NACKs and
// retransmissions per run, to see the spread that one asserted run cannot show.
//   FANOUT_BIN=build/fanout N=5 node scripts/loss-repeat.js
'use strict';
const path = require('node:path');
const { Rig, lossRun } = require(path.join(__dirname, '..', 'tests', 'netem', 'media-probe.js'));

(async () => {
  const rig = await new Rig().start();
  try {
    const clean = await lossRun(rig, 'clean', { loss: 0, delayMs: 0, seconds: 8 });
    await rig.closePages();
    console.log(`clean: ${clean.frames} frames, ${clean.freezeCount} freezes`);
    for (let i = 0; i < Number(process.env.N || 5); i++) {
      const r = await lossRun(rig, 'lp' + i, { link: 'play', seconds: 8 });
      await rig.closePages();
      console.log(`player link run ${i}: ${r.frames} frames (${(100 * r.frames / clean.frames).toFixed(0)}% of clean), ` +
        `${r.freezeCount} freezes (${r.freezeMs} ms), NACKs ${r.playerNacks}, retransmissions ${r.playerRetransmitted}, lost ${r.playerLost}`);
    }
  } finally {
    await rig.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });

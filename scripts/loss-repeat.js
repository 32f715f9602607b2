// SPDX-License-Identifier: MIT
// Repeats one lossy run of tests/netem/loss.test.js N times (default 5), each alone in the
// browser, after one clean run, and prints frames decoded vs clean, freezes, NACKs and
// retransmissions per run, to see the spread that one asserted run cannot show. LINK=pub puts
// the loss on the publisher's link instead of the player's, and adds the publisher's repair
// counts from /api/v1/clients (gaps NACKed, recovered, given up; keyframes asked for).
//   FANOUT_BIN=build/fanout N=5 [LINK=pub] node scripts/loss-repeat.js
'use strict';
const path = require('node:path');
const { Rig, lossRun } = require(path.join(__dirname, '..', 'tests', 'netem', 'media-probe.js'));

const LINK = process.env.LINK === 'pub' ? 'pub' : 'play';

async function publisherVideo(rig, stream) {
  const j = await (await fetch(rig.server.origin + '/api/v1/clients?count=100')).json();
  const c = j.clients.find((x) => x.type === 'rtc-publish' && x.stream.endsWith('/' + stream));
  const v = c && c.tracks.find((t) => t.kind === 'video');
  return v ? `gaps ${v.lost}, NACKs ${v.nacks}, recovered ${v.recovered}, unrecovered ${v.unrecovered}, PLIs ${v.plis}` : 'publisher gone';
}

(async () => {
  const rig = await new Rig().start();
  try {
    const clean = await lossRun(rig, 'clean', { loss: 0, delayMs: 0, seconds: 8 });
    await rig.closePages();
    console.log(`clean: ${clean.frames} frames, ${clean.freezeCount} freezes`);
    for (let i = 0; i < Number(process.env.N || 5); i++) {
      const stream = 'l' + LINK + i;
      const r = await lossRun(rig, stream, { link: LINK, seconds: 8 });
      const pub = LINK === 'pub' ? '; publisher: ' + (await publisherVideo(rig, stream)) : '';
      await rig.closePages();
      console.log(`${LINK === 'pub' ? 'publisher' : 'player'} link run ${i}: ${r.frames} frames (${(100 * r.frames / clean.frames).toFixed(0)}% of clean), ` +
        `${r.freezeCount} freezes (${r.freezeMs} ms), player NACKs ${r.playerNacks}, retransmissions ${r.playerRetransmitted}, lost ${r.playerLost}${pub}`);
    }
  } finally {
    await rig.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });

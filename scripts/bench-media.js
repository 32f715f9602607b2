// SPDX-License-Identifier: MIT
// Media-quality benchmark (not a test): publisher bitrate after 10 s, time to first frame
// (median of N joins, instant start on and off), A/V playout offset, with and without 5% loss
// + 40 ms RTT, and simulcast layer switches of an automatic player under loss (with $VIDEO720). Prints a markdown section and writes it into docs/benchmarks.md under
// "## Media quality" (replacing only that section). Run through scripts/bench-media.sh.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const m = require(path.join(__dirname, '..', 'tests', 'netem', 'media-probe.js'));

const JOINS = Number(process.env.JOINS || 10);
const VIDEO = process.env.VIDEO || null;

async function withRig(opts, fn) {
  const rig = await new m.Rig().start(opts);
  try { return await fn(rig); } finally { await rig.close(); }
}

(async () => {
  const rows = [];
  for (const [name, loss] of [['clean', 0], ['5% loss + 40 ms RTT (publisher link)', 0.05]]) {
    const r = await withRig({ video: VIDEO }, (rig) => m.publisherBitrate(rig, 'bench-br', { loss, delayMs: loss ? 20 : 0 }));
    rows.push(`| publisher video bitrate at 8-10 s, ${name} | ${r.kbps} kbps (sent), estimate ${r.estimateKbps} kbps, ${r.stats.width}px, limited by ${r.stats.limitation} |`);
    console.error(rows[rows.length - 1]);
  }
  for (const inst of ['1', '0']) {
    for (const [name, loss] of [['clean', 0], ['5% loss + 40 ms RTT (player link)', 0.05]]) {
      const t = await withRig({ env: { FANOUT_RTC_INSTANT_START: inst } }, (rig) => {
        rig.playLink.set(loss, loss ? 20 : 0);
        return m.joinTimes(rig, 'bench-join', JOINS);
      });
      rows.push(`| time to first frame, instant_start=${inst}, ${name} | median ${m.median(t)} ms of ${t.length} joins (min ${Math.min(...t)}, max ${Math.max(...t)}) |`);
      console.error(rows[rows.length - 1]);
    }
  }
  process.env.FANOUT_RTC_INSTANT_START = '1';
  for (const [name, link, loss] of [['clean', 'play', 0], ['5% loss + 40 ms RTT, player link', 'play', 0.05], ['5% loss + 40 ms RTT, publisher link', 'pub', 0.05]]) {
    const r = await withRig({}, (rig) => m.lossRun(rig, 'bench-loss', { link, loss, delayMs: loss ? 20 : 0, seconds: 15 }));
    rows.push(`| 15 s playback, ${name} | ${r.frames} frames decoded, ${r.freezeCount} freezes (${r.freezeMs} ms), player NACKs ${r.playerNacks} / retransmissions received ${r.playerRetransmitted}, publisher NACKed ${r.publisherNacksReceived} / retransmitted ${r.publisherRetransmitted}, A/V playout offset ${r.avOffsetMs} ms |`);
    console.error(rows[rows.length - 1]);
  }
  // Simulcast: an automatic player on a 1280x720 publisher with three layers, its link clean,
  // then losing 25%, then clean again.
  if (process.env.VIDEO720) {
    const r = await withRig({ video: process.env.VIDEO720 }, (rig) => m.simulcastRun(rig, 'bench-sim',
      [['clean', 0, 10], ['25% loss + 40 ms RTT', 0.25, 10], ['clean again', 0, 15]]));
    const names = ['low', 'mid', 'high'];
    for (const p of r) {
      rows.push(`| simulcast (3 layers, 1280x720), automatic player, ${p.seconds} s ${p.label} | layer ${names[p.from] || '-'} → ${names[p.layer] || '-'} (${p.width}px), ${p.switches} switch(es)${p.changedMs != null ? `, first change after ${p.changedMs} ms` : ''}, ${p.frames} frames decoded, ${p.freezeCount} freezes, estimate ${p.estimateKbps} kbps |`);
      console.error(rows[rows.length - 1]);
    }
  }
  const section = ['## Media quality', '',
    `Measured by \`scripts/bench-media.sh\` on ${new Date().toISOString().slice(0, 10)} (${require('node:os').cpus().length} cores, shared; headless chromium publisher and players on loopback; loss and delay from a user-space UDP relay, tests/netem/lossy-relay.js). Bitrate runs use a noisy 640x480 y4m as the camera so the encoder has something to spend bits on. A/V playout offset: video minus audio estimatedPlayoutTimestamp in the player (0 = in sync; it includes the jitter-buffer difference between the two tracks).`, '',
    '| what | result |', '| --- | --- |', ...rows, ''].join('\n');
  console.log(section);
  const file = path.join(__dirname, '..', 'docs', 'benchmarks.md');
  let doc = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const re = /## Media quality\n[\s\S]*?(?=\n## |$)/;
  doc = re.test(doc) ? doc.replace(re, section) : doc.replace(/\n*$/, '\n\n') + section;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, doc);
})().catch((e) => { console.error(e); process.exit(1); });

// SPDX-License-Identifier: MIT
// Captures real SDP offers from Debian's chromium (playwright-core) and firefox-esr (puppeteer-core,
// WebDriver BiDi) into tests/data/sdp/, and, when given an answer program, feeds the answer that
// program prints for each offer back into the browser's setRemoteDescription to prove it is accepted.
//
//   cd /tmp/somewhere && npm i playwright-core puppeteer-core
//   NODE_PATH=/tmp/somewhere/node_modules node scripts/capture-offers.js <out-dir> [answer-prog]
//
// answer-prog is run as `answer-prog <publish|play> <offer-file> <candidate-address> [novideo]` and
// must print the answer SDP. Besides the three offers saved per browser, two more are answered
// only: a play answered with an IPv6 candidate, and a publish whose video m-line the answer
// rejects (the answer program is asked to allow no video codec).
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');
const { execFileSync } = require('child_process');

const outDir = process.argv[2] || 'tests/data/sdp';
const answerProg = process.argv[3];

const PAGE = `<!doctype html><title>capture</title><script>
window.makeOffer = async (kind) => {
  const pc = new RTCPeerConnection();
  if (kind.startsWith('publish')) {
    const s = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    for (const t of s.getTracks()) {
      const init = { direction: 'sendonly', streams: [s] };
      // Three simulcast layers, low to high, as www/publisher.html asks with ?simulcast=1.
      if (kind === 'publish-simulcast' && t.kind === 'video')
        init.sendEncodings = [{ rid: 'l', scaleResolutionDownBy: 4 }, { rid: 'm', scaleResolutionDownBy: 2 }, { rid: 'h' }];
      pc.addTransceiver(t, init);
    }
    if (kind === 'publish-dc') pc.createDataChannel('chat');
  } else {
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.addTransceiver('video', { direction: 'recvonly' });
  }
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  window.pcs = window.pcs || {};
  window.pcs[kind] = pc;
  window.tracks = window.tracks || {};
  window.tracks[kind] = [];
  pc.ontrack = (e) => window.tracks[kind].push(e.track.kind + ':' + e.streams.map((x) => x.id).join(','));
  return pc.localDescription.sdp;
};
window.applyAnswer = async (kind, sdp) => {
  const pc = window.pcs[kind];
  try {
    await pc.setRemoteDescription({ type: 'answer', sdp });
  } catch (e) {
    return 'REJECTED: ' + e;
  }
  await new Promise((r) => setTimeout(r, 100));
  const dirs = pc.getTransceivers().map((t) => (t.mid ?? '-') + '=' + t.currentDirection).join(' ');
  return 'accepted (' + dirs + (window.tracks[kind].length ? '; tracks ' + window.tracks[kind].join(' ') : '') + ')';
};
</script>`;

function serve() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(PAGE);
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

const EXTRA = { 'play-ipv6': ['::1'], 'publish-novideo': ['127.0.0.1', 'novideo'] };

async function run(name, page, kinds) {
  const results = [];
  for (const kind of kinds) {
    if (EXTRA[kind] && !answerProg) continue;
    const sdp = await page.evaluate((k) => window.makeOffer(k), kind);
    const file = path.join(outDir, `${name}-${kind}.sdp`);
    fs.writeFileSync(file, sdp);
    let verdict = 'captured';
    if (answerProg) {
      const role = kind.startsWith('publish') ? 'publish' : 'play';
      let answer;
      try {
        answer = execFileSync(answerProg, [role, file, ...(EXTRA[kind] || ['127.0.0.1'])],
          { encoding: 'utf8' });
      } catch (e) {
        answer = null;
        verdict = 'answer program failed: ' + (e.stderr || e.message);
      }
      if (answer !== null) {
        fs.writeFileSync(file.replace(/\.sdp$/, '.answer.txt'), answer);
        verdict = await page.evaluate(([k, a]) => window.applyAnswer(k, a), [kind, answer]);
      }
    }
    results.push(`${name} ${kind}: ${verdict}`);
  }
  return results;
}

const KINDS = process.env.KINDS ? process.env.KINDS.split(',') : ['publish', 'play', 'publish-dc', 'play-ipv6', 'publish-novideo', 'publish-simulcast'];

(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  const srv = await serve();
  const url = `http://127.0.0.1:${srv.address().port}/`;
  const out = [];

  const { chromium } = require('playwright-core');
  const cb = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--disable-background-networking'],
  });
  const cp = await cb.newPage();
  await cp.goto(url);
  out.push(...(await run('chrome', cp, KINDS)));
  await cb.close();

  const puppeteer = require('puppeteer-core');
  const fb = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: '/usr/bin/firefox-esr',
    headless: true,
    extraPrefsFirefox: {
      'media.navigator.streams.fake': true,
      'permissions.default.camera': 1,
      'permissions.default.microphone': 1,
    },
  });
  const fp = await fb.newPage();
  await fp.goto(url);
  out.push(...(await run('firefox', fp, KINDS)));
  await fb.close();
  srv.close();
  console.log(out.join('\n'));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});

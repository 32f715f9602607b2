// SPDX-License-Identifier: MIT
// Connect-time benchmark in Chromium (issue 13): RUNS rounds of tests/e2e/lib/connect.js's
// measureConnect (a publisher page, then a player page of its stream), each round against a
// fresh server of every binary in FANOUT_BINS (label=path,...; alternated round by round), and
// prints one JSON line per measurement on stdout. scripts/bench-connect.sh builds the binaries
// and turns the lines into the docs/benchmarks.md section.
'use strict';
const path = require('node:path');
const e2e = path.join(__dirname, '..', 'tests', 'e2e');
module.paths.unshift(path.join(e2e, 'node_modules'));
const { startServer } = require(path.join(e2e, 'lib', 'server'));
const { launchChromium } = require(path.join(e2e, 'lib', 'browser'));
const { measureConnect } = require(path.join(e2e, 'lib', 'connect'));

(async () => {
  const runs = Number(process.env.RUNS || 5);
  const bins = (process.env.FANOUT_BINS || 'fanout=' + path.join(__dirname, '..', 'build', 'fanout'))
    .split(',').map((s) => { const i = s.indexOf('='); return { label: s.slice(0, i), bin: s.slice(i + 1) }; });
  const extra = (process.env.SERVER_ARGS || '').split(/\s+/).filter(Boolean);
  for (let run = 1; run <= runs; run++) {
    for (const { label, bin } of bins) {
      process.env.FANOUT_BIN = bin;
      // each binary with its own tree's configuration (a revision before new settings existed)
      const conf = path.resolve(path.dirname(bin), '..', 'conf', 'fanout.conf');
      const confArgs = require('node:fs').existsSync(conf) ? ['-c', conf] : [];
      const server = await startServer({ extraArgs: [...confArgs, '--log-level', 'debug', ...extra] });
      const browser = await launchChromium();
      try {
        const r = await measureConnect(server, browser);
        console.log(JSON.stringify({ server: label, run, ...r }));
      } catch (e) {
        console.error(label + ' run ' + run + ': ' + e.message);
      } finally {
        await browser.close().catch(() => {});
        await server.stop();
      }
    }
  }
})().catch((e) => { console.error(e); process.exit(1); });

// SPDX-License-Identifier: MIT
// The README checked against the server: every transcript in README.md (the console blocks
// marked <!-- transcript: NAME -->: start-up lines, configuration errors, HTTPS, the SRS API,
// the pages' status, errors, WHIP/WHEP, the operator API, /metrics) is run against a fresh
// build/fanout and must show what the server really answers (lib/readme.js says what is masked).
// A failure prints the README's version and the server's; scripts/readme-transcripts.sh
// --update rewrites the stale transcripts.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { runTranscripts } = require('./lib/readme');

test('README transcripts match the server', { timeout: 120000 }, async () => {
  const { results } = await runTranscripts({ log: (l) => console.log('  ' + l) });
  assert.ok(results.length >= 8, 'README has ' + results.length + ' transcripts');
  const stale = results.filter((r) => !r.ok);
  assert.equal(stale.length, 0, stale.map((r) => r.report).join('\n') +
    stale.length + ' stale README transcript(s): run scripts/readme-transcripts.sh --update and review the diff');
});

// SPDX-License-Identifier: MIT
// Issue 15's page-side findings in real browsers (docs/security.md, "HTTP side"):
//  (1) item 3, the review's attack: a page of another origin on this machine (another loopback
//      port) cannot read /api/v1/clients or /metrics nor kick a session; a DNS-rebinding page
//      (a name mapped to 127.0.0.1 by chromium's resolver, the page served under that name) is
//      refused too; the same page can still signal (CORS on /rtc/). Item 14: that page cannot
//      frame publisher.html (frame-ancestors 'none').
//  (2) item 4: publisher.html?autostart=1&api=<another server> sends nothing there and does not
//      start; it names the server and publishes there only after the user's click.
//  (3) item 14: the pages run under their Content-Security-Policy in chromium and firefox: no
//      violation, their scripts work (the index lists streams), and the policy is enforced (an
//      inline script is refused).
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const crypto = require('node:crypto');
const { startServer, freePort } = require('./lib/server');
const { launchChromium, launchFirefox } = require('./lib/browser');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Node-side GET of the server's operator API (loopback, no Origin: allowed). */
async function clients(server) {
  const j = await (await fetch(server.origin + '/api/v1/clients?count=100')).json();
  assert.equal(j.code, 0, 'node GET /api/v1/clients: ' + JSON.stringify(j));
  return j.clients;
}

/** Polls fn (node side) until it returns truthy or timeoutMs passes; returns the last value. */
async function until(fn, timeoutMs) {
  const t0 = Date.now();
  let v;
  while (!(v = await fn()) && Date.now() - t0 < timeoutMs) await sleep(200);
  return v;
}

/** A plain HTTP server standing for another site's page on this machine. */
async function attackerSite() {
  const port = await freePort();
  const srv = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>another site</title><p>another site</p>');
  });
  await new Promise((resolve) => srv.listen(port, '127.0.0.1', resolve));
  return { origin: 'http://127.0.0.1:' + port, close: () => new Promise((r) => srv.close(r)) };
}

/** A publish session made from node (the SRS API with a Chrome offer), to be kicked. */
async function nodePublish(server, stream) {
  const sdp = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', 'data', 'sdp', 'chrome-publish.sdp'), 'utf8');
  const res = await fetch(server.origin + '/rtc/v1/publish/', {
    method: 'POST',
    body: JSON.stringify({ streamurl: 'webrtc://127.0.0.1/' + stream, sdp: sdp.replace(/\r?\n/g, '\r\n') }),
  });
  const j = await res.json();
  assert.equal(j.code, 0, 'node publish: ' + JSON.stringify(j));
  return j.sessionid;
}

test('operator API: another origin on this machine, and a DNS-rebinding page, get nothing; signaling stays cross-origin', { timeout: 120000 }, async (t) => {
  const server = await startServer();
  const site = await attackerSite();
  const port = new URL(server.origin).port;
  // chromium resolves rebind.test to 127.0.0.1 itself: what a rebinding DNS answer does
  const chromium = await launchChromium({ args: [...require('./lib/browser').CHROMIUM_ARGS, '--host-resolver-rules=MAP rebind.test 127.0.0.1'] });
  try {
    const sid = await nodePublish(server, 'live/sec-victim-' + crypto.randomBytes(3).toString('hex'));
    const page = await chromium.newPage();
    await page.goto(site.origin + '/');
    const r = await page.evaluate(async ({ api, sid }) => {
      const tryFetch = async (url, init) => {
        try {
          const res = await fetch(url, init);
          return { status: res.status, body: (await res.text()).slice(0, 200) };
        } catch (e) { return { blocked: String(e) }; }
      };
      return {
        clients: await tryFetch(api + '/api/v1/clients'),
        metrics: await tryFetch(api + '/metrics'),
        kick: await tryFetch(api + '/api/v1/clients/' + sid, { method: 'DELETE' }),
        signaling: await tryFetch(api + '/rtc/v1/play/', { method: 'POST', body: 'garbage' }),
      };
    }, { api: server.origin, sid });
    console.log('  from ' + site.origin + ': ' + JSON.stringify(r));
    assert.ok(r.clients.blocked, 'another origin read /api/v1/clients: ' + JSON.stringify(r.clients));
    assert.ok(r.metrics.blocked, 'another origin read /metrics: ' + JSON.stringify(r.metrics));
    assert.ok(r.kick.blocked, 'another origin DELETEd a client: ' + JSON.stringify(r.kick));
    assert.ok((await clients(server)).some((c) => c.id === sid), 'the session was kicked');
    assert.equal(r.signaling.status, 400, 'signaling from another origin: ' + JSON.stringify(r.signaling));
    assert.match(r.signaling.body, /"code":1001/);

    // frame-ancestors 'none': the publisher page does not load inside another site's frame
    await page.evaluate((src) => new Promise((resolve) => {
      const f = document.createElement('iframe');
      f.src = src;
      f.onload = resolve;
      setTimeout(resolve, 3000);
      document.body.appendChild(f);
    }), server.origin + '/publisher.html');
    const child = page.raw.frames().find((f) => f !== page.raw.mainFrame());
    const framed = child ? await child.evaluate(() => typeof window.Fanout).catch((e) => 'error: ' + e.message) : 'no frame';
    console.log('  publisher.html in another site\'s iframe: window.Fanout is ' + framed);
    assert.notEqual(framed, 'object', 'publisher.html ran inside another site\'s frame');

    // DNS rebinding: a page served under rebind.test (now 127.0.0.1) reads "its own" /api/v1
    const rebound = await chromium.newPage();
    await rebound.goto('http://rebind.test:' + port + '/');
    const rr = await rebound.evaluate(async () => {
      const res = await fetch('/api/v1/clients');
      return { status: res.status, body: (await res.text()).slice(0, 200) };
    });
    console.log('  DNS rebinding (http://rebind.test:' + port + '/api/v1/clients): ' + JSON.stringify(rr));
    assert.equal(rr.status, 403, 'the rebinding page read the API: ' + JSON.stringify(rr));
    assert.match(rr.body, /"code":1015/);
  } catch (err) {
    console.error('---- fanout log tail:\n' + server.tail(40));
    throw err;
  } finally {
    await chromium.close().catch(() => {});
    await site.close();
    const st = await server.stop();
    assert.equal(st && st.code, 0, 'fanout exit status ' + JSON.stringify(st));
  }
});

test('publisher.html: a foreign ?api= is not used nor autostarted until the user says so', { timeout: 150000 }, async (t) => {
  const [home, other] = [await startServer(), await startServer()];
  const chromium = await launchChromium();
  let page;
  try {
    const stream = 'live/sec-api-' + crypto.randomBytes(3).toString('hex');
    page = await chromium.newPage();
    await page.goto(home.origin + '/publisher.html?autostart=1&api=' + encodeURIComponent(other.origin) +
      '&url=' + encodeURIComponent('webrtc://127.0.0.1/' + stream));
    await sleep(3000);
    const sent = await clients(other);
    assert.equal(sent.length, 0, 'the other server got a session without a question: ' + JSON.stringify(sent.map((c) => c.type + ' ' + c.stream)));
    const before = await page.evaluate(() => {
      const text = (id) => { const e = document.getElementById(id); return e && !e.hidden ? e.textContent.replace(/\s+/g, ' ').trim() : null; };
      return { phase: window.fanout.state.phase, camera: !!window.fanout.localStream, target: text('target'), warning: text('foreign') };
    });
    console.log('  after 3 s: ' + JSON.stringify(before));
    assert.equal((await clients(home)).length, 0, 'autostart went on toward this server');
    assert.equal(before.phase, 'idle');
    assert.equal(before.camera, false, 'the camera was opened');
    assert.ok(before.warning && before.warning.includes(other.origin), 'the page does not name the other server: ' + JSON.stringify(before));
    assert.ok(before.target && before.target.includes(home.origin), 'the target shown is not this server: ' + before.target);

    // the user's yes: publish there
    await page.raw.click('#useForeign');
    const got = await until(async () => (await clients(other)).find((c) => c.type === 'rtc-publish'), 20000);
    assert.ok(got, 'no publish session on the other server after the click');
    const after = await page.evaluate(() => ({ api: window.fanout.state.api, target: document.getElementById('target').textContent }));
    console.log('  after "Publish to that server": ' + JSON.stringify(after));
    assert.ok(after.api.startsWith(other.origin + '/rtc/v1/publish/'), after.api);
    assert.ok(after.target.includes(other.origin), after.target);
    await page.close();

    // a same-origin ?api= still autostarts
    page = await chromium.newPage();
    await page.goto(home.origin + '/publisher.html?autostart=1&api=' + encodeURIComponent(home.origin) +
      '&url=' + encodeURIComponent('webrtc://127.0.0.1/' + stream));
    assert.ok(await until(async () => (await clients(home)).find((c) => c.type === 'rtc-publish'), 20000),
      'a same-origin ?api= did not autostart');
    console.log('  same-origin ?api= autostarts');
  } catch (err) {
    if (page) console.error('---- page console:\n' + page.console.slice(-20).join('\n'));
    throw err;
  } finally {
    await chromium.close().catch(() => {});
    for (const s of [home, other]) {
      const st = await s.stop();
      assert.equal(st && st.code, 0, 'fanout exit status ' + JSON.stringify(st));
    }
  }
});

// Installed before the page's own scripts: counts the CSP violations the page causes.
function watchViolations() {
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || ''));
  });
}

async function checkPagesUnderCsp(browser, server) {
  const results = [];
  for (const file of ['index.html', 'publisher.html', 'player.html']) {
    const page = await browser.newPage();
    if (page.raw.addInitScript) await page.raw.addInitScript(watchViolations);
    else await page.raw.evaluateOnNewDocument(watchViolations);
    await page.goto(server.origin + '/' + file);
    await sleep(file === 'index.html' ? 1500 : 500);
    const r = await page.evaluate(() => {
      const own = window.__cspViolations.slice();
      // the policy is enforced: an inline script is refused
      window.__inlineRan = false;
      const s = document.createElement('script');
      s.textContent = 'window.__inlineRan = true';
      document.head.appendChild(s);
      return {
        own, inlineRan: window.__inlineRan, scripts: typeof window.Fanout === 'object',
        session: !!window.fanout, live: (document.getElementById('liveStatus') || {}).textContent || null,
        rows: document.querySelectorAll('#streamRows tr[data-stream]').length,
      };
    });
    results.push({ file, ...r });
    await page.close();
  }
  for (const r of results) {
    console.log('  ' + browser.name + ' ' + r.file + ': ' + JSON.stringify(r));
    assert.deepEqual(r.own, [], browser.name + ' ' + r.file + ': CSP violations');
    assert.equal(r.inlineRan, false, browser.name + ' ' + r.file + ': an inline script ran (no CSP in force)');
    assert.ok(r.scripts, browser.name + ' ' + r.file + ': fanout.js did not run');
    if (r.file !== 'index.html') assert.ok(r.session, browser.name + ' ' + r.file + ': the page script did not run');
    else {
      assert.match(r.live, /updated/, browser.name + ' index: the live list did not load: ' + r.live);
      assert.ok(r.rows >= 1, browser.name + ' index: the live stream is not listed');
    }
  }
}

test('pages run under their CSP in chromium and firefox (no violation, scripts work, inline code refused)', { timeout: 180000 }, async (t) => {
  // the node-made session (no ICE) must outlive firefox's start-up
  const server = await startServer({ extraArgs: ['--set', 'rtc.pending_timeout=300'] });
  const browsers = [];
  try {
    await nodePublish(server, 'live/sec-csp');
    browsers.push(await launchChromium());
    await checkPagesUnderCsp(browsers[0], server);
    browsers.push(await launchFirefox());
    await checkPagesUnderCsp(browsers[1], server);
  } catch (err) {
    console.error('---- fanout log tail:\n' + server.tail(40));
    throw err;
  } finally {
    for (const b of browsers) await b.close().catch(() => {});
    const st = await server.stop();
    assert.equal(st && st.code, 0, 'fanout exit status ' + JSON.stringify(st));
  }
});

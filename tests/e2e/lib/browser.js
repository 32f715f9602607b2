// SPDX-License-Identifier: MIT
// Launch the browsers the e2e tests drive: Debian's chromium through playwright-core and
// Debian's firefox-esr through puppeteer-core 24 (WebDriver BiDi). Both use fake camera
// and microphone, allow loopback ICE, and need no STUN/TURN server.
'use strict';
const fs = require('node:fs');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX_BIN || '/usr/bin/firefox-esr';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--disable-background-networking',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--disable-gpu',
  '--no-first-run',
];

// Prefs for firefox-esr (checked with 153.7 against fanout's 127.0.0.1 ICE-lite candidate):
//  - media.navigator.streams.fake: getUserMedia returns a generated 640x480 video + tone.
//  - media.peerconnection.ice.loopback: NEEDED. Without it Firefox never sends a binding
//    request to a 127.0.0.1 candidate (stays at "answer", no "ice checking").
//  - permissions.default.camera/microphone = 1: NEEDED too. Without a granted camera/mic
//    permission Firefox gathers in default-address-only mode, which excludes loopback: ICE
//    never starts either (media.navigator.permission.disabled alone is not enough).
//  - media.navigator.permission.disabled: no prompt (belt and braces; not needed with the above).
//  - media.peerconnection.ice.obfuscate_host_addresses: not needed (the server is ICE-lite and
//    ignores our candidates); off so that logs and getStats show real addresses.
//  - media.autoplay.*: not needed for the muted player video; kept so unmuting works headless.
const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
};

async function launchChromium(opts = {}) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(CHROMIUM + ' missing: run scripts/e2e-deps.sh');
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, ...opts });
  return {
    name: 'chromium',
    raw: browser,
    // One context (own window) per page so that no page is a background tab.
    // contextOpts: playwright context options, e.g. { ignoreHTTPSErrors: true } for the
    // server's self-signed HTTPS certificate.
    async newPage(contextOpts = {}) {
      const ctx = await browser.newContext({ viewport: { width: 1200, height: 860 }, ...contextOpts });
      const page = await ctx.newPage();
      return wrapPage(page, () => ctx.close());
    },
    close: () => browser.close(),
  };
}

async function launchFirefox(opts = {}) {
  if (!fs.existsSync(FIREFOX)) throw new Error(FIREFOX + ' missing: run scripts/e2e-deps.sh');
  const puppeteer = require('puppeteer-core');
  const browser = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: FIREFOX,
    headless: true,
    extraPrefsFirefox: FIREFOX_PREFS,
    defaultViewport: null, // no emulation at all by default (see newPage)
    ...opts,
  });
  return {
    name: 'firefox',
    raw: browser,
    async newPage() {
      const page = await browser.newPage();
      // Viewport emulation is cosmetic (screenshots); Firefox ESR 140 (Debian 12's main archive)
      // lacks the BiDi command puppeteer 24 uses for it (emulation.setScreenOrientationOverride).
      await page.setViewport({ width: 1200, height: 860 }).catch(() => {});
      return wrapPage(page, () => page.close());
    },
    close: () => browser.close(),
  };
}

/** Same small surface for playwright and puppeteer pages; keeps the console for diagnostics. */
function wrapPage(page, closeFn) {
  const consoleLines = [];
  page.on('console', (m) => {
    try { consoleLines.push(m.type() + ': ' + m.text()); } catch (e) { /* ignore */ }
    if (consoleLines.length > 200) consoleLines.shift();
  });
  page.on('pageerror', (e) => consoleLines.push('pageerror: ' + (e && e.message)));
  return {
    raw: page,
    console: consoleLines,
    goto: (url) => page.goto(url, { waitUntil: 'load', timeout: 30000 }),
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    screenshot: (file) => page.screenshot({ path: file }),
    close: closeFn,
  };
}

module.exports = { launchChromium, launchFirefox, CHROMIUM_ARGS, FIREFOX_PREFS };

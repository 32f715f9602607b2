// SPDX-License-Identifier: MIT
// Driving the project's pages (www/) from the tests: open one on a server, and wait for a
// condition evaluated inside it, failing early when the page reports an error.
'use strict';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens www/<file> of `server` in a new page of `browser` for stream key `stream`, with
 * ?autostart=1 unless `autostart` is false, plus `extra` query text ('&codec=vp9'). The page
 * gets `label` (for reports) and is added to `list` when given.
 */
async function openPage(browser, server, label, file, stream, { extra = '', autostart = true, list = null, contextOpts } = {}) {
  const page = await browser.newPage(contextOpts);
  page.label = label;
  if (list) list.push(page);
  const url = 'webrtc://127.0.0.1/' + stream;
  await page.goto(server.origin + '/' + file + '?' + (autostart ? 'autostart=1&' : '') + 'url=' + encodeURIComponent(url) + extra);
  return page;
}

/**
 * Polls fn (run in the page, may be async) every 250 ms until it returns {ok: true, ...};
 * throws on {error} or after timeoutMs with the last answer.
 */
async function waitInPage(page, fn, timeoutMs, what, arg) {
  const t0 = Date.now();
  let last;
  for (;;) {
    last = await page.evaluate(fn, arg);
    if (last && last.ok) return last;
    if (last && last.error) throw new Error(page.label + ': ' + what + ': page error: ' + last.error);
    if (Date.now() - t0 > timeoutMs) throw new Error(page.label + ': ' + what + ': not after ' + timeoutMs + ' ms; last ' + JSON.stringify(last));
    await sleep(250);
  }
}

module.exports = { openPage, waitInPage, sleep };

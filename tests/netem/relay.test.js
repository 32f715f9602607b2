// SPDX-License-Identifier: MIT
// The lossy relay itself, without a browser: datagrams cross it both ways, and closing it while
// delayed datagrams are still in flight drops them quietly (CI once failed on a send from a
// timer after the relay had closed: ERR_SOCKET_DGRAM_NOT_RUNNING after the test had passed).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const dgram = require('node:dgram');
const { LossyRelay } = require('./lossy-relay.js');

const bound = async () => {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  return s;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('lossy relay: forwards both ways, then closes with datagrams in flight', async () => {
  const echo = await bound();
  echo.on('message', (m, ri) => echo.send(m, ri.port, ri.address));
  const relay = await new LossyRelay({ target: { host: '127.0.0.1', port: echo.address().port }, delayMs: 40 }).start();
  const client = await bound();
  const got = [];
  const first = new Promise((r) => client.on('message', (m) => { got.push(String(m)); r(); }));
  let uncaught = null;
  const onUncaught = (e) => { uncaught = e; };
  process.on('uncaughtException', onUncaught);
  try {
    client.send('one', relay.port, '127.0.0.1');
    await first;
    assert.deepStrictEqual(got, ['one']);
    assert.strictEqual(relay.stats.up, 1);
    assert.strictEqual(relay.stats.down, 1);
    // 'two' is held 40 ms in each direction; close the relay while it is held.
    client.send('two', relay.port, '127.0.0.1');
    await sleep(10);
    relay.close();
    await sleep(150);
    assert.deepStrictEqual(got, ['one'], 'nothing crosses a closed relay');
    assert.strictEqual(uncaught, null, `no error after close: ${uncaught && uncaught.code}`);
    assert.strictEqual(relay.stats.errors, 0);
  } finally {
    process.off('uncaughtException', onUncaught);
    client.close();
    echo.close();
  }
});

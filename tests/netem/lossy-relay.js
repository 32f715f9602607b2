// SPDX-License-Identifier: MIT
// A UDP relay that emulates a lossy, delayed link in user space: browsers are given the relay's
// address as fanout's ICE candidate (?eip=127.0.0.1:PORT), the relay forwards each client's
// datagrams to fanout from a socket of its own and the answers back, dropping `loss` of them and
// delaying the rest by `delayMs` each way. Used instead of tc netem, which needs kernel qdiscs
// (this machine's kernel has none: `tc qdisc add ... netem` says "unknown qdisc kind").
'use strict';
const dgram = require('node:dgram');

class LossyRelay {
  constructor({ target, loss = 0, delayMs = 0 }) {
    this.target = target; // { host, port }
    this.loss = loss;
    this.delayMs = delayMs;
    this.clients = new Map();
    this.stats = { up: 0, down: 0, dropped: 0, errors: 0 };
    this.timers = new Set();
    this.closed = false;
  }
  async start() {
    this.sock = dgram.createSocket('udp4');
    this.sock.on('message', (msg, rinfo) => this._fromClient(msg, rinfo));
    this.sock.on('error', () => this.stats.errors++);
    await new Promise((r) => this.sock.bind(0, '127.0.0.1', r));
    this.port = this.sock.address().port;
    return this;
  }
  set(loss, delayMs) { this.loss = loss; this.delayMs = delayMs; }
  // Delayed datagrams still in flight when the relay closes are dropped: sending on a closed
  // socket throws ERR_SOCKET_DGRAM_NOT_RUNNING from a timer, after the test has ended.
  _pass(fn) {
    if (this.closed) return;
    if (this.loss > 0 && Math.random() < this.loss) { this.stats.dropped++; return; }
    if (this.delayMs <= 0) { fn(); return; }
    const t = setTimeout(() => { this.timers.delete(t); fn(); }, this.delayMs); /* close() clears it */
    this.timers.add(t);
  }
  _fromClient(msg, rinfo) {
    if (this.closed) return;
    const key = rinfo.address + ':' + rinfo.port;
    let up = this.clients.get(key);
    if (!up) {
      up = dgram.createSocket('udp4');
      up.on('error', () => this.stats.errors++);
      up.on('message', (m) => { this.stats.down++; this._pass(() => this.sock.send(m, rinfo.port, rinfo.address)); });
      up.bind(0, '127.0.0.1');
      this.clients.set(key, up);
    }
    this.stats.up++;
    this._pass(() => up.send(msg, this.target.port, this.target.host));
  }
  close() {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.clients.values()) s.close();
    this.clients.clear();
    if (this.sock) this.sock.close();
  }
}
module.exports = { LossyRelay };

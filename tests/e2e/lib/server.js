// SPDX-License-Identifier: MIT
// Start and stop a fanout server for the e2e tests: free ports, wait for "fanout ready",
// keep its log, kill it when the test (or the node process) ends.
//
// Binary: $FANOUT_BIN (absolute, or relative to the repo root), default build/fanout.
// Config: conf/fanout.conf with HTTPS off (fixed port 1990, certificate written under conf/),
// unless start({ https: true }): then on a free port with a self-signed certificate in a
// temporary directory (httpsOrigin). $FANOUT_ARGS adds flags (e.g. '--log-level debug'). The server runs with the repo root as its working
// directory so that it finds www/.
'use strict';
const { spawn } = require('node:child_process');
const dgram = require('node:dgram');
const net = require('node:net');
const path = require('node:path');
const fs = require('node:fs');
const os = require('node:os');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const live = new Set();

process.on('exit', () => { for (const c of live) { try { c.kill('SIGKILL'); } catch (e) { /* gone */ } } });
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => { for (const c of live) { try { c.kill('SIGKILL'); } catch (e) { /* gone */ } } process.exit(130); });
}

function tcpFree(port) {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}
function udpFree(port) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => { s.close(); resolve(false); });
    s.bind({ port, address: '0.0.0.0', exclusive: true }, () => s.close(() => resolve(true)));
  });
}
/** A port the kernel just handed out for TCP, checked to be free for UDP too (ICE-TCP shares it). */
async function freePort(avoid = []) {
  for (let i = 0; i < 50; i++) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen({ port: 0, host: '127.0.0.1' }, () => { const p = s.address().port; s.close(() => resolve(p)); });
    });
    if (avoid.includes(port)) continue;
    if (await udpFree(port) && await tcpFree(port)) return port;
  }
  throw new Error('no free port found');
}

/** Extra server flags from $FANOUT_ARGS, e.g. FANOUT_ARGS='--log-level debug'. */
function envArgs() { return (process.env.FANOUT_ARGS || '').split(/\s+/).filter(Boolean); }

function fanoutBin() {
  const b = process.env.FANOUT_BIN || 'build/fanout';
  return path.isAbsolute(b) ? b : path.join(REPO_ROOT, b);
}

class FanoutServer {
  constructor() {
    this.child = null;
    this.lines = [];
    this.httpPort = null;
    this.rtcPort = null;
    this.exit = null;
    this.httpsPort = null;
    this.tlsDir = null;
  }

  get origin() { return 'http://127.0.0.1:' + this.httpPort; }
  get httpsOrigin() { return this.httpsPort ? 'https://127.0.0.1:' + this.httpsPort : null; }

  /**
   * Start; resolves once "fanout ready" appears on stderr (or rejects with the log). `again`:
   * on the ports (and HTTPS certificate) of the previous start, as a restarted server.
   */
  async start({ timeoutMs = 20000, extraArgs = [], https = false, again = false } = {}) {
    const bin = fanoutBin();
    if (!fs.existsSync(bin)) throw new Error('fanout binary not found: ' + bin + ' (build it, or set FANOUT_BIN)');
    if (!again) {
      this.httpPort = await freePort();
      this.rtcPort = await freePort([this.httpPort]);
    }
    this.startOpts = { timeoutMs, extraArgs, https };
    this.exit = null;
    const args = ['-c', 'conf/fanout.conf', '--http-port', String(this.httpPort), '--rtc-port', String(this.rtcPort),
      '--candidate', '127.0.0.1', ...(await this.httpsArgs(https, again)), ...envArgs(), ...extraArgs];
    this.cmd = [bin, ...args].join(' ');
    const child = spawn(bin, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(child);
    let ready = false;
    const readyP = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fanout not ready after ' + timeoutMs + ' ms\n' + this.tail())), timeoutMs);
      const onLine = (src) => (line) => {
        this.lines.push(src + line);
        if (this.lines.length > 5000) this.lines.splice(0, 1000);
        if (!ready && src === '' && /fanout ready/.test(line)) { ready = true; clearTimeout(timer); resolve(); }
      };
      splitLines(child.stderr, onLine(''));
      splitLines(child.stdout, onLine('[stdout] '));
      child.once('error', (e) => { clearTimeout(timer); reject(e); });
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.exit = { code, signal };
        this.lines.push('[fanout exited: code ' + code + ', signal ' + signal + ']');
        if (!ready) { clearTimeout(timer); reject(new Error('fanout exited before ready (code ' + code + ', signal ' + signal + ')\n' + this.tail())); }
      });
    });
    await readyP;
    return this;
  }

  async httpsArgs(on, again) {
    if (!on) return ['--no-https'];
    if (!again || !this.tlsDir) {
      this.httpsPort = await freePort([this.httpPort, this.rtcPort]);
      this.tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-e2e-tls-'));
    }
    return ['--set', 'https.enabled=true', '--https-port', String(this.httpsPort),
      '--set', 'https.cert=' + path.join(this.tlsDir, 'https.crt'), '--set', 'https.key=' + path.join(this.tlsDir, 'https.key')];
  }

  /** The last n lines of the server's stdout+stderr. */
  tail(n = 60) { return this.lines.slice(-n).join('\n'); }

  /** The same server again on the same ports after stop() (or after it died). */
  async restart() {
    return this.start({ ...this.startOpts, again: true });
  }

  /** SIGTERM (or `signal`), then SIGKILL after graceMs. Resolves with the exit status; the
   * HTTPS certificate directory stays when `keep` (for restart()). */
  async stop(graceMs = 3000, { signal = 'SIGTERM', keep = false } = {}) {
    const child = this.child;
    if (!child || this.exit) return this.exit;
    const done = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.kill(signal);
    const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch (e) { /* gone */ } }, graceMs);
    const r = await done;
    clearTimeout(t);
    if (this.tlsDir && !keep) {
      fs.rmSync(this.tlsDir, { recursive: true, force: true });
      this.tlsDir = null;
    }
    return r;
  }
}

function splitLines(stream, cb) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { cb(buf.slice(0, i)); buf = buf.slice(i + 1); }
  });
  stream.on('end', () => { if (buf) cb(buf); });
}

async function startServer(opts) { const s = new FanoutServer(); await s.start(opts); return s; }

module.exports = { FanoutServer, startServer, freePort, REPO_ROOT, fanoutBin };

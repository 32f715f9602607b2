// SPDX-License-Identifier: MIT
// The README's transcripts, run for real: every fenced block right after a line
// `<!-- transcript: NAME -->` is executed against a fresh fanout and compared with what it
// shows, so the README cannot drift from the server.
//
//   node tests/e2e/lib/readme.js            check (exit 1 and a diff when a transcript is stale)
//   node tests/e2e/lib/readme.js --update   rewrite the stale transcripts in README.md
//   (scripts/readme-transcripts.sh wraps both; tests/e2e/readme.test.js runs the check)
//
// A block is a console session: lines starting with "$ " are commands (a line ending in "\"
// continues on the next), the lines up to the next command are its output (stdout and stderr).
// The block named "startup" is instead the log the server printed until "fanout ready".
// The commands run in order in one bash, in a scratch directory that looks like a checkout
// (build/fanout, conf/fanout.conf, www/, tests/, scripts/), against one server started there as
// `build/fanout -c conf/fanout.conf` on the documented ports as far as the README can tell:
// the harness runs it on free ports and maps them to 1985, 1990 and 8000 both ways, with
// CANDIDATE="192.0.2.10 127.0.0.1" (the documentation address of the examples).
// Compared after normalizing what changes from run to run: times, process ids and other
// measured numbers (VOLATILE_KEYS), session ids (16 letters and digits), the SDP origin id, DTLS
// fingerprints, Content-Length, the number of send threads (one per CPU); and without the
// headers every answer carries (NOISE_HEADERS: Date, Server, CORS, security headers), which the
// README leaves out. The ids the README's
// output shows are mapped to the run's, so a later command (DELETE .../<id>) uses the real one.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { freePort, REPO_ROOT, fanoutBin } = require('./server');

const DOC_PORTS = { http: 1985, https: 1990, rtc: 8000 };
const DOC_CANDIDATE = '192.0.2.10 127.0.0.1';
const NOISE_HEADERS = /^(Date|Server|Access-Control-[A-Za-z-]+|X-Content-Type-Options|Content-Security-Policy|X-Frame-Options|Referrer-Policy|Cross-Origin-[A-Za-z-]+|Vary|Connection|Keep-Alive|Strict-Transport-Security|Permissions-Policy):/i;
const VOLATILE_KEYS = ['pid', 'ppid', 'mem_kbyte', 'mem_percent', 'cpu_percent', 'srs_uptime', 'uptime_ms', 'vsize_kbyte',
  'threads', 'cpu_seconds', 'cpus', 'mem_ram_kbyte', 'load_1m', 'load_5m', 'load_15m', 'now_ms', 'live_ms', 'alive', 'ssrc',
  'connected_ms'];
const ID = /\b(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z0-9])[A-Za-z0-9]{16}\b/g;
const MARK = /<!-- transcript: ([\w-]+) -->\n```[\w]*\n([\s\S]*?)```\n/g;
const COMMAND_TIMEOUT_MS = 20000;

/** What varies between runs, masked; the line otherwise as it is. */
function norm(line) {
  return line
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>')
    .replace(/o=- \d+ /g, 'o=- <n> ')
    .replace(/([0-9A-F]{2}:){31}[0-9A-F]{2}/g, '<fingerprint>')
    .replace(new RegExp('("(?:' + VOLATILE_KEYS.join('|') + ')":\\s*)"?-?[0-9.e+]+"?', 'g'), '$1<n>')
    .replace(/^(Content-Length:)\s*\d+/i, '$1 <n>')
    .replace(/\b\d+ send threads?\b/g, '<n> send threads')
    .replace(/(does not resolve to an IPv4 address) \([^)]*\)/, '$1 (<resolver>)')
    .replace(ID, '<id>')
    .trimEnd();
}

/** The README's transcript blocks: {name, start, end (of the body in the text), body}. */
function blocks(text) {
  const out = [];
  for (const m of text.matchAll(MARK)) {
    const bodyStart = m.index + m[0].indexOf('\n', m[0].indexOf('```')) + 1;
    out.push({ name: m[1], body: m[2], start: bodyStart, end: bodyStart + m[2].length });
  }
  return out;
}

/** A console block's commands: [{command, expected: [lines]}]. */
function commands(body) {
  const lines = body.replace(/\n$/, '').split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('$ ')) {
      if (!out.length) throw new Error('transcript output before any command: ' + lines[i]);
      out[out.length - 1].expected.push(lines[i]);
      continue;
    }
    let cmd = lines[i].slice(2);
    while (cmd.endsWith('\\') && i + 1 < lines.length) cmd += '\n' + lines[++i];
    out.push({ command: cmd, expected: [] });
  }
  return out;
}

/** A bash that runs one command at a time and returns its combined output. */
class Shell {
  constructor(cwd, env) {
    this.proc = spawn('bash', ['--noprofile', '--norc'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.buf = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => { this.buf += d; if (this.wake) this.wake(); });
    this.proc.stderr.on('data', (d) => { this.buf += d; });
    this.proc.stdin.write('exec 2>&1\n');
    this.n = 0;
  }

  async run(command) {
    const mark = '__transcript_end_' + (++this.n) + '__';
    this.buf = '';
    this.proc.stdin.write(command + '\nprintf "\\n' + mark + '\\n"\n');
    const t0 = Date.now();
    while (!this.buf.includes(mark + '\n')) {
      if (Date.now() - t0 > COMMAND_TIMEOUT_MS) throw new Error('command did not finish in ' + COMMAND_TIMEOUT_MS + ' ms: ' + command);
      await new Promise((r) => { this.wake = r; setTimeout(r, 100); });
    }
    return this.buf.slice(0, this.buf.indexOf('\n' + mark)).replace(/\n+$/, '');
  }

  close() { this.proc.kill('SIGKILL'); }
}

/** A scratch directory laid out like a checkout, for the commands and the server. */
function scratch(bin) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fanout-readme-'));
  fs.mkdirSync(path.join(dir, 'build'));
  fs.symlinkSync(bin, path.join(dir, 'build', 'fanout'));
  fs.mkdirSync(path.join(dir, 'conf'));
  fs.copyFileSync(path.join(REPO_ROOT, 'conf', 'fanout.conf'), path.join(dir, 'conf', 'fanout.conf'));
  for (const d of ['www', 'tests', 'scripts']) fs.symlinkSync(path.join(REPO_ROOT, d), path.join(dir, d));
  return dir;
}

/** Starts the server in `dir`; resolves {child, lines} once it is ready. */
function startServer(dir, ports) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, FANOUT_HTTP_PORT: String(ports.http), FANOUT_HTTPS_PORT: String(ports.https),
      FANOUT_RTC_PORT: String(ports.rtc), CANDIDATE: DOC_CANDIDATE };
    const child = spawn(path.join(dir, 'build', 'fanout'), ['-c', 'conf/fanout.conf'], { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    const lines = [];
    let buf = '';
    const timer = setTimeout(() => reject(new Error('fanout not ready:\n' + lines.join('\n'))), 20000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!child.ready) lines.push(line);
        if (!child.ready && /fanout ready/.test(line)) { child.ready = true; clearTimeout(timer); resolve({ child, lines }); }
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); if (!child.ready) reject(new Error('fanout exited ' + code + ':\n' + lines.join('\n'))); });
  });
}

/** Maps the README's ports to the run's in a command, and the run's back in its output. */
function portMapper(ports) {
  const pairs = Object.keys(DOC_PORTS).map((k) => [String(DOC_PORTS[k]), String(ports[k])]);
  return {
    toRun: (s) => pairs.reduce((t, [doc, run]) => t.replace(new RegExp('((?:localhost|127\\.0\\.0\\.1|\\]):)' + doc + '\\b', 'g'), '$1' + run), s),
    toDoc: (s) => pairs.reduce((t, [doc, run]) => t.replace(new RegExp('\\b' + run + '\\b', 'g'), doc), s),
  };
}

/** The run's output as the README shows it: ports mapped back, scratch paths and noise headers out. */
function docLines(out, ports, dir) {
  const map = portMapper(ports);
  return map.toDoc(out.replace(/\r/g, '').split(dir + '/').join('').split(dir).join('.')).split('\n')
    .filter((l) => !NOISE_HEADERS.test(l));
}

/**
 * Whether two line lists match after norm(); the ids the README shows on matching lines are
 * bound to the run's (ids: README id -> {run, block: the transcript that showed it}).
 */
function compare(expected, actual, ids, block) {
  if (expected.length !== actual.length) return false;
  for (let i = 0; i < expected.length; i++) if (norm(expected[i]) !== norm(actual[i])) return false;
  for (let i = 0; i < expected.length; i++) {
    const a = expected[i].match(ID) || [], b = actual[i].match(ID) || [];
    a.forEach((id, k) => { if (b[k] && !ids.has(id)) ids.set(id, { run: b[k], block }); });
  }
  return true;
}

function diff(name, command, expected, actual) {
  return '---- transcript "' + name + '"' + (command ? ', $ ' + command : '') + '\n-- README shows:\n' + expected.join('\n') +
    '\n-- the server gives:\n' + actual.join('\n') + '\n';
}

/**
 * Runs every transcript of the README at `readme` with fanout `bin`. Returns {results: [{name,
 * ok, report}], text: the README with the stale transcripts rewritten}.
 */
async function runTranscripts({ readme = path.join(REPO_ROOT, 'README.md'), bin = fanoutBin(), log = () => {} } = {}) {
  const text = fs.readFileSync(readme, 'utf8');
  const dir = scratch(bin);
  const ports = { http: await freePort() };
  ports.https = await freePort([ports.http]);
  ports.rtc = await freePort([ports.http, ports.https]);
  const map = portMapper(ports);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(FANOUT_|CANDIDATE$)/.test(k)));
  let server = null, shell = null;
  const results = [];
  const replacements = [];
  try {
    server = await startServer(dir, ports);
    shell = new Shell(dir, env);
    const ids = new Map(); // README id -> {run: this run's, block: where the README shows it}
    const stale = new Set(); // transcripts being rewritten: their ids become this run's
    // a command as the rewritten README shows it: ids of rewritten transcripts replaced
    const shown = (cmd) => [...ids].reduce((t, [doc, v]) => (stale.has(v.block) ? t.split(doc).join(v.run) : t), cmd);
    for (const b of blocks(text)) {
      let ok = true, report = '', fresh = [];
      if (b.name === 'startup') {
        const expected = b.body.replace(/\n$/, '').split('\n');
        fresh = docLines(server.lines.join('\n'), ports, dir);
        ok = compare(expected, fresh, ids, b.name);
        if (!ok) report = diff(b.name, null, expected, fresh);
      } else {
        for (const c of commands(b.body)) {
          const cmd = [...ids].reduce((t, [doc, v]) => t.split(doc).join(v.run), c.command);
          const out = await shell.run(map.toRun(cmd));
          const actual = out === '' ? [] : docLines(out, ports, dir);
          fresh.push({ command: c.command, actual });
          if (!compare(c.expected, actual, ids, b.name)) {
            ok = false;
            report += diff(b.name, c.command, c.expected, actual);
          }
        }
        if (!ok) stale.add(b.name);
        fresh = fresh.flatMap((f) => ['$ ' + shown(f.command), ...f.actual]);
      }
      log((ok ? 'ok   ' : 'STALE') + ' transcript ' + b.name);
      results.push({ name: b.name, ok, report });
      if (!ok) replacements.push({ start: b.start, end: b.end, body: fresh.join('\n') + '\n' });
    }
  } finally {
    if (shell) shell.close();
    if (server) server.child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  let out = text;
  for (const r of replacements.reverse()) out = out.slice(0, r.start) + r.body + out.slice(r.end);
  return { results, text: out };
}

if (require.main === module) {
  (async () => {
    const update = process.argv.includes('--update');
    const readme = path.join(REPO_ROOT, 'README.md');
    const { results, text } = await runTranscripts({ readme, log: (l) => console.log(l) });
    const stale = results.filter((r) => !r.ok);
    if (update && stale.length) {
      fs.writeFileSync(readme, text);
      console.log('rewrote ' + stale.length + ' transcript(s) in README.md: ' + stale.map((r) => r.name).join(', '));
    } else if (stale.length) {
      stale.forEach((r) => console.log(r.report));
      console.log(stale.length + ' stale transcript(s); scripts/readme-transcripts.sh --update rewrites them');
      process.exit(1);
    } else {
      console.log('all ' + results.length + ' README transcripts match the server');
    }
  })().catch((e) => { console.error(e); process.exit(2); });
}

module.exports = { runTranscripts, norm, commands, blocks };

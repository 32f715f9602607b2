/* SPDX-License-Identifier: MIT */
/*
 * ui.js — what publisher.html and player.html share on screen, on top of fanout.js: the page's
 * query parameters, the status/stats tables, the sentence that says what is happening (the
 * banner over the video), the error box with its link, a one-minute bitrate/frame-rate chart
 * drawn on a <canvas>, the server's https:// address, and the retry delays. Plain script, no
 * dependencies; adds to window.Fanout.
 */
(function (global) {
  'use strict';
  const F = global.Fanout;

  function pageParams() {
    const q = new URLSearchParams(global.location.search);
    const host = global.location.hostname || 'localhost';
    return {
      url: q.get('url') || ('webrtc://' + host + F.DEFAULT_APP_STREAM),
      api: q.get('api') || '',
      codec: q.get('codec') || '',
      bundlePolicy: q.get('bundle') || '',
      proto: /^(whip|whep)$/i.test(q.get('proto') || '') ? 'whip' : '',
      autostart: /^(1|true|yes)$/i.test(q.get('autostart') || ''),
      simulcast: /^(1|true|yes)$/i.test(q.get('simulcast') || ''),
    };
  }

  function fmt(v, unit) { return v == null || Number.isNaN(v) ? '–' : (v + (unit || '')); }

  /** The stream key of a webrtc:// URL, or the URL itself when it does not parse. */
  function keyOf(url) {
    try { return F.parseStreamUrl(url).key; } catch (e) { return String(url || ''); }
  }

  /**
   * One sentence for what a session is doing, for people (the banner): '' while all is well
   * (playing, publishing). A page may override it (e.g. while it waits to retry).
   */
  function sentence(session) {
    const st = session.state, key = keyOf(st.streamurl);
    const pub = session.kind === 'publish';
    switch (st.phase) {
      case 'idle': return pub ? 'Press Publish to send your camera and microphone.' : 'Press Play to watch.';
      case 'getUserMedia': return 'Waiting for the camera and microphone (allow them if the browser asks)…';
      case 'requesting': case 'negotiating': return 'Connecting to the server…';
      case 'connected': return pub ? 'Connected: starting to send…' : 'Connected…';
      case 'waiting': return 'Waiting for ' + key + ' to start: it plays by itself as soon as someone publishes it.';
      case 'starting': return key + ' is live: the picture is on its way…';
      case 'ended': return 'The broadcast ended — waiting for it to resume.';
      case 'stalled': return 'No picture or sound is arriving (the publisher’s network, or yours) — waiting…';
      case 'failed': return session.error || 'Failed.';
      default: return '';
    }
  }

  /** Fills an error box: the message, then the link when there is one (e.g. the https:// page). */
  function showError(el, text, link) {
    if (!el) return;
    el.textContent = text || '';
    if (text && link) {
      el.appendChild(document.createTextNode(' '));
      const a = document.createElement('a');
      a.href = link;
      a.textContent = link;
      el.appendChild(a);
    }
    el.hidden = !text;
  }

  /** Render a session's state and stats into the page's status/stats tables. */
  function render(session, els) {
    const st = session.state;
    // only what changed: a rewrite of the same text still invalidates the page's layout
    const set = (id, text, cls) => {
      const e = els[id];
      if (!e) return;
      if (e.textContent !== text) e.textContent = text;
      if (cls !== undefined && e.className !== cls) e.className = cls;
    };
    const good = (v) => (v === 'connected' || v === 'completed' ? 'ok' : (v === 'failed' || v === 'closed' ? 'bad' : 'wait'));
    set('phase', st.phase, st.phase === 'failed' ? 'bad' : (/^(connected|playing|live)$/.test(st.phase) ? 'ok' : 'wait'));
    set('pcState', st.pc, good(st.pc));
    set('iceState', st.ice, good(st.ice));
    set('dtlsState', st.dtls, good(st.dtls));
    set('session', st.sessionid || '–');
    set('api', st.api || '–');
    set('watching', session.audience && session.audience.players != null ? String(session.audience.players) : '–');
    if (els.error) showError(els.error, session.error || '', session.errorLink);
    const s = session.stats();
    const v = (s && s.video) || {}, a = (s && s.audio) || {};
    set('vCodec', fmt(v.codec));
    set('vKbps', fmt(v.kbps, ' kbps'));
    set('vFps', fmt(v.fps));
    set('vRes', v.width ? v.width + '×' + v.height : '–');
    const loss = (o) => (o.lossPct == null ? fmt(o.lost) : o.lossPct + ' % (' + fmt(o.lost) + ')');
    set('vLoss', loss(v));
    set('vFrames', fmt(session.kind === 'play' ? v.framesDecoded : v.framesEncoded));
    set('aCodec', fmt(a.codec));
    set('aKbps', fmt(a.kbps, ' kbps'));
    set('vPackets', fmt(v.packets));
    set('aPackets', fmt(a.packets));
    set('aLoss', loss(a));
    set('rtt', fmt(s && s.rttMs, ' ms'));
    set('path', s && s.local ? s.local + ' → ' + s.remote : '–');
    set('firstFrame', fmt(session.firstFrameMs, ' ms'));
    set('connectMs', fmt(st.connectedMs, ' ms'));
    if (els.log) els.log.textContent = session.log.slice(-12).join('\n');
  }

  /** The ids render() fills (a page may lack some of them). */
  const TABLE_IDS = ['phase', 'watching', 'pcState', 'iceState', 'dtlsState', 'connectMs', 'firstFrame', 'session', 'path',
    'rtt', 'vCodec', 'aCodec', 'vKbps', 'aKbps', 'vFps', 'vRes', 'vFrames', 'vPackets', 'aPackets', 'vLoss', 'aLoss', 'api',
    'error', 'log'];

  /** Collect elements with ids into an object (default: TABLE_IDS). */
  function byIds(ids) {
    ids = ids || TABLE_IDS;
    const o = {};
    ids.forEach((id) => { o[id] = document.getElementById(id); });
    return o;
  }

  /**
   * The banner over the video: `text` ('' hides it), `tone` 'wait' (amber, with a spinner),
   * 'info' or 'bad'.
   */
  function banner(el, text, tone) {
    if (!el) return;
    el.hidden = !text;
    el.className = 'banner ' + (tone || 'wait');
    const t = el.querySelector('.text') || el;
    t.textContent = text || '';
  }

  /**
   * Seconds to wait before retry number `attempt` (0, 1, ...): 1, 2, 4, 8, 16, then 30, each
   * ±20 % so that the players of a restarted server do not all come back in the same instant.
   */
  function retryDelay(attempt) {
    const base = Math.min(30, Math.pow(2, Math.max(0, attempt)));
    return Math.max(0.5, base * (0.8 + 0.4 * Math.random()));
  }

  /**
   * This page on the server's HTTPS port (GET /rtc/v1/info/ says which), with the same path and
   * query; null when HTTPS is off or the server does not answer.
   */
  async function httpsPageUrl(api) {
    const r = await F.getJson(F.apiOrigin(api) + '/rtc/v1/info/', 3000);
    if (!r.ok || !r.json.https_port) return null;
    const u = new URL(global.location.href);
    u.protocol = 'https:';
    u.port = String(r.json.https_port);
    return u.toString();
  }

  /* ---------- the one-minute chart ---------- */

  const WINDOW_MS = 60000;

  /** A round ceiling for a chart scale: 1, 2 or 5 times a power of ten, at least `min`. */
  function niceMax(v, min) {
    v = Math.max(v, min);
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }

  function kbpsText(k) { return k >= 1000 ? (Math.round(k / 100) / 10) + ' Mbps' : Math.round(k) + ' kbps'; }

  /**
   * Bitrate (filled, left scale) and frame rate (line, right scale) over the last minute on a
   * <canvas>, one point a second (push() from the stats callback).
   */
  class Chart {
    constructor(canvas) {
      this.canvas = canvas;
      this.points = [];
    }

    push(kbps, fps) {
      const now = Date.now();
      this.points.push({ t: now, kbps: kbps == null ? null : kbps, fps: fps == null ? null : fps });
      while (this.points.length && now - this.points[0].t > WINDOW_MS) this.points.shift();
      this.draw();
    }

    clear() { this.points = []; this.draw(); }

    draw() {
      const c = this.canvas;
      if (!c || !c.getContext || global.document.hidden) return;
      const dpr = global.devicePixelRatio || 1;
      const w = c.clientWidth || 300, h = c.clientHeight || 90;
      if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
        c.width = Math.round(w * dpr);
        c.height = Math.round(h * dpr);
      }
      const g = c.getContext('2d');
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, w, h);
      if (!this.colors) { // the stylesheet's colours, read once
        const css = getComputedStyle(c), v = (name, dflt) => css.getPropertyValue(name).trim() || dflt;
        this.colors = { blue: v('--accent', '#2f6fed'), orange: v('--chart-fps', '#d9822b'), muted: v('--muted', '#667085'), line: v('--line', '#e3e6eb') };
      }
      const { blue, orange, muted, line } = this.colors;
      const top = 16, bottom = h - 4, span = bottom - top;
      g.strokeStyle = line;
      g.lineWidth = 1;
      for (let i = 0; i <= 2; i++) {
        const y = Math.round(top + span * i / 2) + 0.5;
        g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
      }
      const pts = this.points, now = pts.length ? pts[pts.length - 1].t : Date.now();
      const kmax = niceMax(Math.max(0, ...pts.map((p) => p.kbps || 0)), 100);
      // a new player's first second counts the instant-start burst (hundreds of fps): 60 at most
      const fmax = Math.min(60, niceMax(Math.max(0, ...pts.map((p) => p.fps || 0)), 10));
      const x = (t) => w - (now - t) / WINDOW_MS * w;
      const series = (key, max) => pts.filter((p) => p[key] != null).map((p) => [x(p.t), bottom - span * Math.min(1, p[key] / max)]);
      const kb = series('kbps', kmax), fp = series('fps', fmax);
      if (kb.length > 1) {
        g.beginPath();
        g.moveTo(kb[0][0], bottom);
        kb.forEach(([px, py]) => g.lineTo(px, py));
        g.lineTo(kb[kb.length - 1][0], bottom);
        g.closePath();
        g.globalAlpha = 0.15; g.fillStyle = blue; g.fill(); g.globalAlpha = 1;
        g.beginPath();
        kb.forEach(([px, py], i) => (i ? g.lineTo(px, py) : g.moveTo(px, py)));
        g.strokeStyle = blue; g.lineWidth = 1.5; g.stroke();
      }
      if (fp.length > 1) {
        g.beginPath();
        fp.forEach(([px, py], i) => (i ? g.lineTo(px, py) : g.moveTo(px, py)));
        g.strokeStyle = orange; g.lineWidth = 1.5; g.stroke();
      }
      const last = pts.length ? pts[pts.length - 1] : null;
      g.font = '600 11px system-ui, sans-serif';
      g.textBaseline = 'top';
      g.fillStyle = blue;
      g.textAlign = 'left';
      g.fillText((last && last.kbps != null ? kbpsText(last.kbps) : '– kbps') + '  (max ' + kbpsText(kmax) + ')', 2, 1);
      g.fillStyle = orange;
      g.textAlign = 'right';
      g.fillText((last && last.fps != null ? last.fps : '–') + ' fps  (max ' + fmax + ')', w - 2, 1);
      if (!pts.length) {
        g.fillStyle = muted;
        g.textAlign = 'center';
        g.font = '11px system-ui, sans-serif';
        g.fillText('the last minute of bitrate and frame rate appears here', w / 2, top + span / 2 - 6);
      }
    }
  }

  /** Total kbps and video fps of a stats summary (fanout.js refreshStats), for the chart. */
  function chartPoint(s) {
    if (!s) return [null, null];
    const v = s.video || {}, a = s.audio || {};
    const kbps = v.kbps == null && a.kbps == null ? null : (v.kbps || 0) + (a.kbps || 0);
    return [kbps, v.fps == null ? null : v.fps];
  }

  Object.assign(F, {
    pageParams: pageParams, render: render, byIds: byIds, sentence: sentence, banner: banner,
    showError: showError, retryDelay: retryDelay, httpsPageUrl: httpsPageUrl, Chart: Chart,
    chartPoint: chartPoint, keyOf: keyOf,
  });
})(window);

/* SPDX-License-Identifier: MIT */
/*
 * index.html: links to the publisher and player pages for the stream URL typed in, and the
 * server's streams, refreshed every 3 s from the public list (GET /rtc/v1/streams/: names,
 * state, audience; status.c), with codecs and bitrates added from the operator API when this
 * browser may read it (on the server machine, /api/v1/streams). A private list (auth.secret set,
 * http.stream_list auto or off) is explained instead. When the server stops answering the rows
 * stay, greyed out, with the time of the last good answer, until it answers again.
 */
(function () {
  'use strict';
  const F = window.Fanout;
  const params = F.pageParams();
  const urlIn = document.getElementById('url');
  urlIn.value = params.url;
  const update = () => {
    const q = new URLSearchParams({ url: urlIn.value.trim() });
    if (params.api) q.set('api', params.api);
    document.getElementById('pub').href = 'publisher.html?' + q;
    document.getElementById('play').href = 'player.html?' + q;
  };
  urlIn.addEventListener('input', update);
  document.getElementById('form').addEventListener('submit', (e) => e.preventDefault());
  update();

  const table = document.getElementById('streams'), rows = document.getElementById('streamRows');
  const status = document.getElementById('liveStatus'), note = document.getElementById('listNote');
  const base = F.apiOrigin(params.api);
  let operator = null;      // null: not tried; false: refused (not loopback); true: readable
  let lastGood = null;      // Date of the last answer

  const STATES = {
    live: ['live', 'st-live'], starting: ['starting', 'st-wait'], stalled: ['no media', 'st-wait'],
    ended: ['ended', 'st-off'], waiting: ['not started', 'st-off'],
  };
  const cell = (tr, text, cls) => { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td); return td; };
  const kbps = (v) => (v ? v + ' kbps' : '–');
  const link = (td, text, href) => { const a = document.createElement('a'); a.textContent = text; a.href = href; td.appendChild(a); td.appendChild(document.createTextNode(' ')); };

  function say(el, text) { el.textContent = text || ''; el.hidden = !text; }

  /** Codecs and bitrates by stream id from the operator API, or null when it is not ours to read. */
  async function operatorDetails() {
    if (operator === false) return null;
    const r = await F.getJson(base + '/api/v1/streams?count=1000', 3000);
    if (!r.ok) { if (!r.unreachable) operator = false; return null; }
    operator = true;
    const by = new Map();
    r.json.streams.forEach((s) => by.set(s.id, s));
    return by;
  }

  function draw(list, details) {
    rows.textContent = '';
    table.classList.toggle('public', !details);
    const host = location.hostname || 'localhost';
    // live ones first, then the rest, each by name (the server sorts by name)
    const order = (s) => (s.state === 'live' ? 0 : s.state === 'starting' || s.state === 'stalled' ? 1 : 2);
    list.slice().sort((a, b) => order(a) - order(b)).forEach((st) => {
      const d = details && details.get(st.id);
      const tr = document.createElement('tr');
      tr.dataset.stream = st.id;
      tr.className = order(st) === 2 ? 'off' : '';
      cell(tr, st.id, 'name');
      const [label, cls] = STATES[st.state] || [st.state, 'st-off'];
      cell(tr, label, cls);
      cell(tr, String(st.players), 'num');
      cell(tr, d && d.video ? d.video.codec : '–', 'op');
      cell(tr, d && d.audio ? d.audio.codec : '–', 'op');
      cell(tr, kbps(d && d.kbps && d.kbps.recv_30s), 'op num');
      cell(tr, kbps(d && d.kbps && d.kbps.send_30s), 'op num');
      const td = cell(tr, '', 'links');
      const q = new URLSearchParams({ url: 'webrtc://' + host + '/' + st.id, autostart: '1' });
      if (params.api) q.set('api', params.api);
      link(td, st.state === 'live' ? 'play' : 'wait for it', 'player.html?' + q);
      q.set('proto', 'whep');
      link(td, 'WHEP', 'player.html?' + q);
      rows.appendChild(tr);
    });
    if (!list.length) { const tr = document.createElement('tr'); cell(tr, 'No streams yet: publish one above.').colSpan = 8; rows.appendChild(tr); }
  }

  async function refresh() {
    const [pub, details] = await Promise.all([F.getJson(base + '/rtc/v1/streams/?count=200', 3000), operatorDetails()]);
    if (pub.unreachable) {
      table.classList.add('stale');
      status.textContent = '';
      say(note, 'The server does not answer' + (lastGood ? ' since ' + lastGood.toLocaleTimeString() + ': the list below is from then' : '') +
        '. Trying again every 3 s.');
    } else if (pub.ok || details) {
      table.classList.remove('stale');
      lastGood = new Date();
      let list = pub.ok ? pub.json.streams : [];
      if (!pub.ok) { // a private list we may read as the operator
        list = [...details.values()].map((s) => ({ id: s.id, state: s.publish && s.publish.active ? 'live' : 'waiting', players: s.players }));
      }
      say(note, pub.ok ? '' : 'The public stream list is off on this server; you see it because you may use the operator API.');
      draw(list, details);
      const live = list.filter((s) => s.state === 'live').length;
      status.textContent = live + ' live of ' + list.length + ' · updated ' + lastGood.toLocaleTimeString();
    } else {
      table.classList.remove('stale');
      rows.textContent = '';
      say(note, pub.status === 401
        ? 'This server keeps its stream list private (auth.secret is set, http.stream_list is not on): open a stream by its URL above, with the link its publisher gives you.'
        : 'The stream list is not available: ' + pub.msg);
      status.textContent = '';
    }
    setTimeout(refresh, 3000);
  }
  refresh();

  // The camera needs a secure page: point at the https:// one when this is not.
  if (!window.isSecureContext) {
    F.httpsPageUrl(params.api).then((u) => {
      const el = document.getElementById('secureNote');
      el.textContent = 'Publishing needs the camera, which browsers give only to https:// pages (or http://localhost). ';
      if (u) {
        const a = document.createElement('a');
        const to = new URL(u);
        to.pathname = '/publisher.html';
        to.search = '?' + new URLSearchParams({ url: urlIn.value.trim() });
        a.href = to.toString();
        a.textContent = 'Open the publisher over https';
        el.appendChild(a);
        el.appendChild(document.createTextNode(' (its certificate may be self-signed: accept the warning once).'));
      } else {
        el.appendChild(document.createTextNode('This server has no HTTPS port (https.enabled).'));
      }
      el.hidden = false;
    });
  }
})();

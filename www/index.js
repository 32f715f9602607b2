/* SPDX-License-Identifier: MIT */
/* index.html's script: the landing page (stream URL links; live streams from
 * /api/v1/streams on this origin). In a file, not inline, so that the
 * pages' Content-Security-Policy (http.csp) can refuse every inline script. */
(function () {
  'use strict';
  const params = window.Fanout.pageParams();
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

  // Live streams from the operator API, refreshed every 3 s.
  const rows = document.getElementById('streamRows'), status = document.getElementById('liveStatus');
  const apiBase = params.api ? new URL(params.api, location.href).origin : '';
  const cell = (tr, text) => { const td = document.createElement('td'); td.textContent = text; tr.appendChild(td); return td; };
  const kbps = (v) => (v ? v + ' kbps' : '–');
  const link = (td, text, href) => { const a = document.createElement('a'); a.textContent = text; a.href = href; td.appendChild(a); td.appendChild(document.createTextNode(' ')); };
  async function refresh() {
    try {
      const res = await fetch(apiBase + '/api/v1/streams?count=1000');
      const j = await res.json();
      if (j.code !== 0) throw new Error(j.msg || ('code ' + j.code));
      rows.textContent = '';
      const host = location.hostname || 'localhost';
      for (const st of j.streams) {
        const tr = document.createElement('tr');
        tr.dataset.stream = st.id;
        cell(tr, st.id);
        cell(tr, st.publish && st.publish.active ? 'live' : 'waiting');
        cell(tr, st.video ? st.video.codec : '–');
        cell(tr, st.audio ? st.audio.codec : '–');
        cell(tr, String(st.players));
        cell(tr, kbps(st.kbps && st.kbps.recv_30s));
        cell(tr, kbps(st.kbps && st.kbps.send_30s));
        const td = cell(tr, '');
        const q = new URLSearchParams({ url: 'webrtc://' + host + '/' + st.id, autostart: '1' });
        if (params.api) q.set('api', params.api);
        link(td, 'play', 'player.html?' + q);
        q.set('proto', 'whep');
        link(td, 'play (WHEP)', 'player.html?' + q);
        rows.appendChild(tr);
      }
      if (!j.streams.length) { const tr = document.createElement('tr'); cell(tr, 'no streams yet').colSpan = 8; rows.appendChild(tr); }
      status.textContent = j.total + ' · updated ' + new Date().toLocaleTimeString();
    } catch (e) {
      status.textContent = 'API unavailable: ' + e.message;
    }
    setTimeout(refresh, 3000);
  }
  refresh();
})();

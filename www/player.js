/* SPDX-License-Identifier: MIT */
/* player.html's script: a stream into the video element. In a file, not inline, so that the
 * pages' Content-Security-Policy (http.csp) can refuse every inline script. */
(function () {
  'use strict';
  const F = window.Fanout;
  const params = F.pageParams();
  const els = F.byIds(['phase', 'pcState', 'iceState', 'dtlsState', 'connectMs', 'firstFrame', 'session', 'path', 'rtt',
    'vCodec', 'aCodec', 'vKbps', 'aKbps', 'vFps', 'vRes', 'vFrames', 'vPackets', 'aPackets', 'vLoss', 'aLoss', 'api', 'error', 'log']);
  const urlIn = document.getElementById('url'), protoIn = document.getElementById('proto');
  protoIn.value = params.proto;
  const startBtn = document.getElementById('start'), stopBtn = document.getElementById('stop');
  const video = document.getElementById('video');
  video.muted = true; video.autoplay = true; video.playsInline = true;
  urlIn.value = params.url;

  const render = (s) => F.render(s, els);
  let session = null;
  const newSession = () => {
    session = new F.FanoutSession('play', {
      api: params.api, codec: params.codec, bundlePolicy: params.bundlePolicy, proto: params.proto,
      onchange: render, onstats: render,
      ontrack: (ev, s) => {
        if (video.srcObject !== s.remoteStream) video.srcObject = s.remoteStream;
        video.play().catch(() => { /* autoplay refused: controls are there */ });
      },
    });
    window.fanout = session;
    render(session);
    return session;
  };
  newSession();

  async function start() {
    if (session.state.phase !== 'idle') { session.close(); newSession(); }
    startBtn.disabled = true; stopBtn.disabled = false;
    const s = session;
    s.opts.proto = protoIn.value;
    try {
      const url = urlIn.value.trim();
      const q = new URLSearchParams(location.search);
      q.set('url', url);
      if (protoIn.value) q.set('proto', 'whep'); else q.delete('proto');
      history.replaceState(null, '', '?' + q.toString());
      await s.play(url);
    } catch (e) {
      console.error('play failed:', e);
      startBtn.disabled = false;
    }
    render(s);
  }
  function stop() {
    session.close();
    video.srcObject = null;
    startBtn.disabled = false; stopBtn.disabled = true;
    newSession();
  }
  document.getElementById('form').addEventListener('submit', (e) => { e.preventDefault(); start(); });
  stopBtn.addEventListener('click', stop);
  if (params.autostart) start();
})();

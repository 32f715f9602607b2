/* SPDX-License-Identifier: MIT */
/* publisher.html's script: camera and microphone to a stream. In a file, not inline, so that the
 * pages' Content-Security-Policy (http.csp) can refuse every inline script. */
(function () {
  'use strict';
  const F = window.Fanout;
  const params = F.pageParams();
  const els = F.byIds(['phase', 'pcState', 'iceState', 'dtlsState', 'connectMs', 'session', 'path', 'rtt',
    'vCodec', 'aCodec', 'vKbps', 'aKbps', 'vFps', 'vRes', 'vFrames', 'vPackets', 'aPackets', 'vLoss', 'aLoss', 'api', 'error', 'log']);
  const urlIn = document.getElementById('url'), codecIn = document.getElementById('codec');
  const protoIn = document.getElementById('proto');
  protoIn.value = params.proto;
  const startBtn = document.getElementById('start'), stopBtn = document.getElementById('stop');
  const video = document.getElementById('video'), playLink = document.getElementById('playLink');
  urlIn.value = params.url;
  codecIn.value = params.codec.toLowerCase();

  // ?api= naming another server is ignored until the user says to publish there: a link must
  // not be able to send the camera to a server of its choosing (and never starts by itself).
  const target = F.apiTarget(params.api);
  let api = target.foreign ? '' : params.api;
  const targetEl = document.getElementById('target'), foreignEl = document.getElementById('foreign');
  const showTarget = () => {
    const t = F.apiTarget(api);
    targetEl.textContent = t.origin + (t.foreign ? ' (another server)' : ' (this server)');
  };
  showTarget();
  if (target.foreign) {
    document.getElementById('foreignOrigin').textContent = target.origin;
    foreignEl.hidden = false;
  }

  const link = () => {
    const q = new URLSearchParams({ url: urlIn.value, autostart: '1' });
    if (api) q.set('api', api);
    if (protoIn.value) q.set('proto', 'whep');
    playLink.href = 'player.html?' + q.toString();
  };
  link();
  urlIn.addEventListener('input', link);
  protoIn.addEventListener('change', link);

  let session = null;
  const newSession = () => {
    session = new F.FanoutSession('publish', {
      api: api, codec: codecIn.value, bundlePolicy: params.bundlePolicy, proto: params.proto,
      simulcast: params.simulcast, onchange: (s) => F.render(s, els), onstats: (s) => F.render(s, els),
    });
    window.fanout = session;
    F.render(session, els);
    return session;
  };
  newSession();

  async function start() {
    if (session.state.phase !== 'idle') { session.close(); newSession(); }
    startBtn.disabled = true; stopBtn.disabled = false;
    const s = session;
    s.opts.codec = codecIn.value;
    s.opts.proto = protoIn.value;
    try {
      const url = urlIn.value.trim();
      const q = new URLSearchParams(location.search);
      q.set('url', url);
      if (codecIn.value) q.set('codec', codecIn.value); else q.delete('codec');
      if (protoIn.value) q.set('proto', 'whip'); else q.delete('proto');
      history.replaceState(null, '', '?' + q.toString());
      const p = s.publish(url);
      // show the preview as soon as getUserMedia has answered
      const show = setInterval(() => { if (s.localStream && video.srcObject !== s.localStream) video.srcObject = s.localStream; }, 50);
      await p.finally(() => clearInterval(show));
      video.srcObject = s.localStream;
    } catch (e) {
      console.error('publish failed:', e);
      // the error stays on the page; release the camera until the next try
      if (s.localStream) s.localStream.getTracks().forEach((t) => t.stop());
      if (s.pc) s.pc.close();
      video.srcObject = null;
      startBtn.disabled = false;
    }
    F.render(s, els);
  }
  function stop() {
    session.close();
    video.srcObject = null;
    startBtn.disabled = false; stopBtn.disabled = true;
    newSession();
  }
  // the user's answer about a foreign ?api=
  const decide = (useForeign) => {
    foreignEl.hidden = true;
    api = useForeign ? params.api : '';
    if (!useForeign) {
      const q = new URLSearchParams(location.search);
      q.delete('api');
      history.replaceState(null, '', '?' + q.toString());
    }
    showTarget();
    link();
    if (session.state.phase === 'idle') newSession();
    if (useForeign) start();
  };
  document.getElementById('useForeign').addEventListener('click', () => decide(true));
  document.getElementById('useOwn').addEventListener('click', () => decide(false));
  document.getElementById('form').addEventListener('submit', (e) => { e.preventDefault(); start(); });
  stopBtn.addEventListener('click', stop);
  if (params.autostart && !target.foreign) start();
})();

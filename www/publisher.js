/* SPDX-License-Identifier: MIT */
/*
 * publisher.html: sends the camera and microphone, shows how many people watch and a
 * one-minute chart of what it sends. On a page that is not a secure context it says at once
 * that the camera needs https:// and links to this page on the server's HTTPS port. When the
 * session is lost (the server went away, or ended it), it stops: the camera is released, the
 * stats stop, Publish is enabled again and the error says when and why. A 409 for a stream
 * whose previous publisher went silent (a crashed browser) is retried once when the server
 * says the old one may be replaced (Retry-After).
 */
(function () {
  'use strict';
  const F = window.Fanout;
  const params = F.pageParams();
  const els = F.byIds();
  const urlIn = document.getElementById('url'), codecIn = document.getElementById('codec');
  const protoIn = document.getElementById('proto');
  const startBtn = document.getElementById('start'), stopBtn = document.getElementById('stop');
  const video = document.getElementById('video'), playLink = document.getElementById('playLink');
  const bannerEl = document.getElementById('banner'), onair = document.getElementById('onair');
  const onairWatching = document.getElementById('onairWatching');
  const chart = new F.Chart(document.getElementById('chart'));
  window.fanoutPage = { chart: chart };
  protoIn.value = params.proto;
  urlIn.value = params.url;
  codecIn.value = params.codec.toLowerCase();
  let httpsUrl = null;   // this page over https (for the insecure-page advice)
  let retryTimer = null;

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

  let session = null, waitText = null;
  function show() {
    const s = session;
    F.render(s, els);
    const live = s.state.phase === 'live';
    onair.hidden = !live;
    const n = s.audience.players;
    onairWatching.textContent = n == null ? '' : '· ' + n + ' watching';
    const text = waitText || (live || s.state.phase === 'failed' || s.state.phase === 'closed' ? '' : F.sentence(s));
    F.banner(bannerEl, s.state.phase === 'idle' && !waitText ? '' : text, 'wait');
  }

  function newSession() {
    session = new F.FanoutSession('publish', {
      api: api, codec: codecIn.value, bundlePolicy: params.bundlePolicy, proto: params.proto,
      simulcast: params.simulcast, httpsUrl: httpsUrl,
      onchange: show,
      onstats: (s) => { chart.push(...F.chartPoint(s.stats())); show(); },
      onlost: lost,
    });
    window.fanout = session;
    show();
    return session;
  }

  /** Stop everything the session holds; the page is ready for Publish again. */
  function release(s) {
    if (s.localStream) s.localStream.getTracks().forEach((t) => t.stop());
    if (s.pc) s.pc.close();
    video.srcObject = null;
    startBtn.disabled = false; stopBtn.disabled = true;
  }

  function lost(s, why) {
    if (s !== session) return;
    s.close();
    s.error = 'Lost the connection to the server at ' + new Date().toLocaleTimeString() + ': ' + why +
      '. Your camera is off; press Publish to go live again.';
    s.state.phase = 'failed';
    release(s);
    show();
  }

  async function start(isRetry) {
    clearTimeout(retryTimer);
    waitText = null;
    if (session.state.phase !== 'idle') session.close();
    newSession();
    startBtn.disabled = true; stopBtn.disabled = false;
    chart.clear();
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
      const preview = setInterval(() => { if (s.localStream && video.srcObject !== s.localStream) video.srcObject = s.localStream; }, 50);
      await p.finally(() => clearInterval(preview));
      video.srcObject = s.localStream;
    } catch (e) {
      console.error('publish failed:', e);
      // the error stays on the page; release the camera until the next try
      release(s);
      if (e.status === 409 && e.retryAfter && e.retryAfter <= 30 && !isRetry) {
        // the stream's previous publisher went silent (its browser crashed?): it can be replaced soon
        waitText = 'This stream’s previous publisher stopped sending (a closed or crashed browser?). ' +
          'It can be replaced in ' + e.retryAfter + ' s: trying again then…';
        s.error = null;
        startBtn.disabled = true; stopBtn.disabled = false;
        retryTimer = setTimeout(() => start(true), e.retryAfter * 1000 + 300);
      }
    }
    show();
  }
  function stop() {
    clearTimeout(retryTimer);
    waitText = null;
    session.close();
    release(session);
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
  window.addEventListener('pagehide', () => session.close());
  newSession();
  chart.draw();

  // Not a secure context: the browser hides the camera. Say so now, with the https:// page.
  const secure = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  const ready = secure ? Promise.resolve() : F.httpsPageUrl(api).then((u) => {
    httpsUrl = u;
    session.opts.httpsUrl = u;
    const e = F.cameraError({ name: 'InsecureContext' }, u);
    session.error = e.message;
    session.errorLink = e.link;
    show();
  });
  if (params.autostart && !target.foreign) ready.then(() => start());
})();

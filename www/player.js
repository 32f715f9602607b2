/* SPDX-License-Identifier: MIT */
/*
 * player.html: plays a stream and keeps playing it. One FanoutSession at a time
 * (window.fanout); when it is lost the page finds out why and acts:
 *  - the server does not answer (restarted, network down): retry with growing delays (1, 2, 4
 *    ... 30 s), saying so, until it answers; then play again without a click;
 *  - the broadcast ended and the server let this player go (rtc.publisher_grace is over): play
 *    again at once, which waits for the stream to start ("The broadcast ended — waiting...");
 *  - the server ended this session while the stream is still live (a kick, a WHEP DELETE):
 *    stop and say so (Play starts again).
 * A play request the server refuses for good (a codec, a token) is shown, not retried; a busy
 * server (429/503) is retried with the same delays. window.fanoutPage exposes the retry state.
 */
(function () {
  'use strict';
  const F = window.Fanout;
  const params = F.pageParams();
  const els = F.byIds();
  const urlIn = document.getElementById('url'), protoIn = document.getElementById('proto');
  const startBtn = document.getElementById('start'), stopBtn = document.getElementById('stop');
  const video = document.getElementById('video'), bannerEl = document.getElementById('banner');
  const chart = new F.Chart(document.getElementById('chart'));
  protoIn.value = params.proto;
  urlIn.value = params.url;
  video.muted = true; video.autoplay = true; video.playsInline = true;

  // The page's own state, beside the session's: whether it is retrying and why.
  const page = window.fanoutPage = { retrying: false, retryAt: null, reason: null, attempt: 0, everPlayed: false, stopped: true, chart: chart };
  let session = null, retryTimer = null, countdown = null;

  function show() {
    const s = session;
    F.render(s, els);
    if (page.retrying) {
      const secs = Math.max(0, Math.ceil((page.retryAt - Date.now()) / 1000));
      F.banner(bannerEl, page.reason + (secs ? ' Trying again in ' + secs + ' s…' : ' Trying again…'), 'wait');
    } else if (page.final) {
      F.banner(bannerEl, page.final, 'info');
    } else {
      const text = s.state.phase === 'failed' ? '' : F.sentence(s);
      F.banner(bannerEl, text, 'wait');
    }
  }

  function newSession() {
    session = new F.FanoutSession('play', {
      api: params.api, codec: params.codec, bundlePolicy: params.bundlePolicy, proto: protoIn.value,
      endedBefore: page.everPlayed,
      onchange: show,
      onstats: (s) => { chart.push(...F.chartPoint(s.stats())); show(); },
      onlost: lost,
      ontrack: (ev, s) => {
        if (video.srcObject !== s.remoteStream) video.srcObject = s.remoteStream;
        video.play().catch(() => { /* autoplay refused: controls are there */ });
      },
    });
    window.fanout = session;
    show();
    return session;
  }

  function cancelRetry() {
    clearTimeout(retryTimer);
    clearInterval(countdown);
    page.retrying = false;
  }

  /** Play again after the next delay, saying `reason` meanwhile. */
  function retryLater(reason) {
    cancelRetry();
    session.state.phase = 'reconnecting';
    const d = F.retryDelay(page.attempt++);
    page.retrying = true;
    page.reason = reason;
    page.retryAt = Date.now() + d * 1000;
    retryTimer = setTimeout(() => { cancelRetry(); start(); }, d * 1000);
    countdown = setInterval(show, 1000);
    show();
  }

  async function lost(s, why) {
    if (s !== session || page.stopped) return;
    page.everPlayed = page.everPlayed || !!s.everPlayed;
    s.close();
    if (s.lostByServer) {
      // close_notify: a server going down, or one that ended this session on purpose
      const r = await F.getJson(F.statusUrl(s.state.streamurl, params.api), 3000);
      if (s !== session || page.stopped) return;
      if (r.ok && /^(live|starting|stalled)$/.test(r.json.state)) {
        page.final = 'The server ended this session (' + why.replace(/ \(.*$/, '') + '). Press Play to watch again.';
        stopped();
        return;
      }
      if (r.ok) { // the broadcast is over: wait for it again, at once
        page.attempt = 0;
        retryLater('The broadcast ended — waiting for it to resume.');
        return;
      }
    }
    retryLater(/answer|disconnected|close_notify/.test(why) ? 'Cannot reach the server.' : 'The connection was lost (' + why + ').');
  }

  function stopped() {
    cancelRetry();
    page.stopped = true;
    startBtn.disabled = false; stopBtn.disabled = true;
    show();
  }

  async function start() {
    cancelRetry();
    page.final = null;
    page.stopped = false;
    if (session.state.phase !== 'idle') session.close();
    newSession();
    startBtn.disabled = true; stopBtn.disabled = false;
    const s = session;
    try {
      const url = urlIn.value.trim();
      const q = new URLSearchParams(location.search);
      q.set('url', url);
      if (protoIn.value) q.set('proto', 'whep'); else q.delete('proto');
      history.replaceState(null, '', '?' + q.toString());
      await s.play(url);
      page.attempt = 0;
    } catch (e) {
      console.error('play failed:', e);
      if (s !== session || page.stopped) return;
      if (e.unreachable) {
        s.error = null;
        retryLater('Cannot reach the server.');
      } else if (e.status === 429 || e.status === 503) {
        s.error = null;
        retryLater('The server is busy (' + e.message + ').');
      } else {
        stopped();
      }
    }
    show();
  }

  function stop() {
    page.final = null;
    session.close();
    video.srcObject = null;
    stopped();
    newSession();
  }

  document.getElementById('form').addEventListener('submit', (e) => { e.preventDefault(); start(); });
  stopBtn.addEventListener('click', stop);
  window.addEventListener('pagehide', () => { page.stopped = true; session.close(); });
  newSession();
  chart.draw();
  if (params.autostart) start();
})();

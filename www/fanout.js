/* SPDX-License-Identifier: MIT */
/*
 * fanout.js — browser client for fanout's SRS-compatible WebRTC signaling, shared by
 * publisher.html and player.html. Plain script, no build step, no dependencies.
 *
 *   const s = new FanoutSession('publish');   // or 'play'
 *   await s.publish('webrtc://host/live/livestream', mediaStream);
 *   await s.play('webrtc://host/live/livestream');   // s.remoteStream gets the tracks
 *
 * With opts.proto = 'whip' (pages: ?proto=whip) signaling is WHIP/WHEP instead: the offer
 * POSTed as application/sdp to /rtc/v1/whip/ or /rtc/v1/whep/?app=&stream=, the answer from
 * the 201, and close() DELETEs the resource from its Location.
 *
 * Signaling: POST {api, tid, streamurl, clientip:null, sdp:offer} as JSON to
 * <origin>/rtc/v1/{publish,play}/ (the page's own origin unless `api` is given: a full
 * API URL, or a base such as http://host:1985). Like SRS's srs.sdk.js, query parameters
 * of the stream URL (e.g. ?eip=1.2.3.4) are copied onto the API URL. The answer is
 * ICE-lite and complete, so the offer is sent at once (no trickle) and no STUN/TURN
 * servers are configured (iceServers: []).
 *
 * What the audience sees (play sessions): once answered, the session asks the server for the
 * stream's state (GET /rtc/v1/streams/{app}/{stream}, status.c) whenever no media arrives, so
 * state.phase says 'waiting' (nobody publishes it yet), 'starting', 'playing', 'ended' (the
 * publisher left: it resumes by itself within rtc.publisher_grace) or 'stalled'. A publisher
 * session polls the same status every few seconds for its audience (session.audience.players).
 * A session that can no longer carry media calls opts.onlost(session, why) once: the server
 * ended it (DTLS close_notify while it still answers), the server does not answer, or ICE/DTLS
 * failed. The pages decide what to do (player.js retries with backoff; publisher.js stops).
 *
 * Test hooks: the pages set window.fanout = session, which exposes
 *   pc, state (plain object: phase, pc/ice/dtls/signaling states, sessionid, ...),
 *   stats() (last per-second summary), firstFrameMs (play request -> first decoded
 *   video frame), error (message string or null), audience ({state, players} from the
 *   server), lost (why the session ended, or null), snapshot() (all of it, JSON-safe).
 */
(function (global) {
  'use strict';

  const DEFAULT_APP_STREAM = '/live/livestream';

  /* ---------- URLs ---------- */

  /** Parse webrtc://host[:port]/app/stream[?k=v] into its parts. Throws on nonsense. */
  function parseStreamUrl(url) {
    const m = /^webrtc:\/\/([^/?#]+)\/([^?#]*)(\?[^#]*)?$/i.exec(String(url || '').trim());
    if (!m) throw new FanoutError('stream URL must look like webrtc://host[:port]/app/stream, got "' + url + '"');
    const path = m[2].replace(/\/+$/, '');
    const parts = path.split('/').filter(Boolean);
    if (parts.length < 2) throw new FanoutError('stream URL needs /app/stream, got "' + url + '"');
    const query = new URLSearchParams((m[3] || '').slice(1));
    return {
      host: m[1], app: parts.slice(0, -1).join('/'), stream: parts[parts.length - 1],
      key: parts.join('/'), query: query,
    };
  }

  /**
   * The signaling URL for kind ('publish'|'play'). `api` may be:
   *   empty           -> <page origin>/rtc/v1/<kind>/
   *   http(s)://h[:p] -> http(s)://h[:p]/rtc/v1/<kind>/
   *   a full URL containing /rtc/v1/publish/ or /rtc/v1/play/ -> used as is, with the
   *   publish/play segment switched to kind.
   * Query parameters of the stream URL (except api/schema) are appended.
   */
  function buildApiUrl(kind, streamUrl, api) {
    let base;
    const origin = (global.location && /^https?:/.test(global.location.protocol)) ? global.location.origin : 'http://localhost:1985';
    if (!api) {
      base = origin + '/rtc/v1/' + kind + '/';
    } else if (/\/rtc\/v1\/(publish|play)\/?/.test(api)) {
      base = api.replace(/\/rtc\/v1\/(publish|play)\/?/, '/rtc/v1/' + kind + '/');
    } else {
      base = api.replace(/\/+$/, '') + '/rtc/v1/' + kind + '/';
    }
    const u = new URL(base, origin);
    const parsed = parseStreamUrl(streamUrl);
    for (const [k, v] of parsed.query) {
      if (k === 'api' || k === 'schema' || u.searchParams.has(k)) continue;
      u.searchParams.append(k, v);
    }
    return u.toString();
  }

  /**
   * The WHIP (publish) or WHEP (play) endpoint for streamUrl:
   * <origin or api base>/rtc/v1/whip/?app=A&stream=S (or /rtc/v1/whep/), plus the stream URL's
   * query parameters (e.g. eip). `api` may be a base (http://host:port) or any fanout API URL.
   */
  function buildWhipUrl(kind, streamUrl, api) {
    const parsed = parseStreamUrl(streamUrl);
    const u = new URL(apiOrigin(api) + '/rtc/v1/' + (kind === 'publish' ? 'whip' : 'whep') + '/');
    u.searchParams.set('app', parsed.app);
    u.searchParams.set('stream', parsed.stream);
    for (const [k, v] of parsed.query) {
      if (k === 'api' || k === 'schema' || u.searchParams.has(k)) continue;
      u.searchParams.append(k, v);
    }
    return u.toString();
  }

  /**
   * Where signaling for `api` (as given to buildApiUrl/buildWhipUrl) goes: { origin, own,
   * foreign }. foreign: not the page's own origin, i.e. another server than the one that served
   * the page. The publisher page does not send the camera there unless the user confirms.
   */
  function apiTarget(api) {
    const own = (global.location && /^https?:/.test(global.location.protocol)) ? global.location.origin : 'http://localhost:1985';
    let origin = own;
    if (api) {
      try { origin = new URL(api, own).origin; } catch (e) { origin = String(api); }
    }
    return { origin: origin, own: own, foreign: origin !== own };
  }

  /** The origin the API is on: `api`'s origin when given, else the page's. */
  function apiOrigin(api) {
    const origin = (global.location && /^https?:/.test(global.location.protocol)) ? global.location.origin : 'http://localhost:1985';
    return api ? new URL(api, origin).origin : origin;
  }

  /**
   * The stream's public status URL: <api origin>/rtc/v1/streams/<app>/<stream>, with the stream
   * URL's ?token= (when auth.secret is set, a play or publish token for the stream may ask).
   */
  function statusUrl(streamUrl, api) {
    const p = parseStreamUrl(streamUrl);
    const path = p.key.split('/').map(encodeURIComponent).join('/');
    const u = new URL(apiOrigin(api) + '/rtc/v1/streams/' + path);
    if (p.query.get('token')) u.searchParams.set('token', p.query.get('token'));
    return u.toString();
  }

  /**
   * GET a small JSON status answer with a timeout. Resolves {ok: true, json} or {ok: false,
   * unreachable: true} (no answer: the server is down or the network is) or {ok: false, status,
   * msg} (an HTTP error, e.g. 401 when the list is private).
   */
  async function getJson(url, timeoutMs) {
    const ctl = typeof AbortController !== 'undefined' ? new AbortController() : null;
    const timer = ctl ? setTimeout(() => ctl.abort(), timeoutMs || 4000) : null;
    try {
      const res = await fetch(url, { cache: 'no-store', signal: ctl ? ctl.signal : undefined });
      let j = null;
      try { j = await res.json(); } catch (e) { /* not JSON */ }
      if (res.ok && j && j.code === 0) return { ok: true, json: j };
      return { ok: false, status: res.status, msg: (j && j.msg) || ('HTTP ' + res.status) };
    } catch (e) {
      return { ok: false, unreachable: true, msg: e.name === 'AbortError' ? 'no answer in time' : e.message };
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  /**
   * getUserMedia's failures in plain words, with what to do. `httpsUrl`: this page on the
   * server's HTTPS port, when known (the fix for an insecure page).
   */
  function cameraError(e, httpsUrl) {
    const name = (e && e.name) || '';
    const raw = e && e.message ? ' (' + (name ? name + ': ' : '') + e.message + ')' : '';
    let msg;
    if (name === 'InsecureContext') {
      msg = 'The browser offers the camera only to secure pages (https:// or http://localhost), and this page is ' +
        (global.location ? global.location.origin : 'not one') + '. ' +
        (httpsUrl ? 'Open the https:// page instead (its certificate may be self-signed: accept the warning once):'
          : 'Open this page over https:// (the server\'s https.port), or on the server machine as http://localhost.');
      return new FanoutError(msg, { advice: true, link: httpsUrl || null });
    }
    if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') {
      msg = /system/i.test(raw)
        ? 'Your operating system does not let the browser use the camera or microphone: allow the browser in the system\'s privacy settings (Camera, Microphone), then press Publish again.'
        : 'The browser was not allowed to use the camera and microphone. Allow them for this site (click the camera icon in the address bar, or the site settings), then press Publish again.';
    } else if (name === 'NotFoundError' || name === 'DevicesNotFoundError') {
      msg = 'No camera or microphone was found. Plug one in (or turn it on in the system settings), then press Publish again.';
    } else if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') {
      msg = 'The camera or microphone could not be started: another application or tab is probably using it. Close it, then press Publish again.';
    } else if (name === 'OverconstrainedError') {
      msg = 'The camera cannot give the picture asked for. Try another camera, then press Publish again.';
    } else {
      msg = 'The camera and microphone could not be opened.';
    }
    return new FanoutError(msg + raw, { advice: true });
  }

  function randomId(n) {
    const a = new Uint8Array(n || 8);
    (global.crypto || {}).getRandomValues ? global.crypto.getRandomValues(a) : a.forEach((_, i) => { a[i] = Math.random() * 256; });
    return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  class FanoutError extends Error {
    constructor(msg, extra) { super(msg); this.name = 'FanoutError'; Object.assign(this, extra || {}); }
  }

  /* ---------- codec preferences ---------- */

  /**
   * Offer only video/<name> (all its profiles) plus the helpers rtx/red/ulpfec/flexfec, so
   * the server must take that codec or refuse (a mere reordering would leave the choice to
   * the server's own preference list).
   */
  function preferCodec(transceiver, kind, name, direction) {
    if (!name || !transceiver.setCodecPreferences) return false;
    const Cls = direction === 'send' ? global.RTCRtpSender : global.RTCRtpReceiver;
    const caps = Cls && Cls.getCapabilities && Cls.getCapabilities(kind);
    if (!caps) return false;
    const want = kind + '/' + name.toLowerCase();
    const first = caps.codecs.filter((c) => c.mimeType.toLowerCase() === want);
    if (!first.length) throw new FanoutError('this browser cannot ' + direction + ' ' + want);
    const helpers = caps.codecs.filter((c) => /\/(rtx|red|ulpfec|flexfec-03)$/i.test(c.mimeType));
    transceiver.setCodecPreferences(first.concat(helpers));
    return true;
  }

  /* ---------- the session ---------- */

  class FanoutSession {
    /** kind: 'publish' or 'play'. opts: {api, codec, bundlePolicy, onchange(session), onstats(session), ontrack(ev, session)} */
    constructor(kind, opts) {
      if (kind !== 'publish' && kind !== 'play') throw new Error('kind must be publish or play');
      this.kind = kind;
      this.opts = opts || {};
      this.pc = null;
      this.error = null;
      this.firstFrameMs = null;
      this.remoteStream = null;
      this.localStream = null;
      this.log = [];
      this.state = {
        kind: kind, phase: 'idle', pc: 'new', ice: 'new', iceGathering: 'new', dtls: 'new',
        signaling: 'stable', streamurl: null, api: null, httpStatus: null, sessionid: null,
        server: null, requestAt: null, answerMs: null, connectedMs: null, codecs: {},
        offer: null, answer: null, resource: null,
      };
      this._t0 = null;
      this._stats = null;
      this._prev = null;
      this._timers = [];
      this._closed = false;
      this.audience = { state: null, players: null, at: null };
      this.phaseAt = {};        // phase -> when it was last entered (Date.now()), for tests
      this.lost = null;
      this.flowing = false;     // media packets arrived during the last stats second
      this._statusAt = 0;       // when the status was last asked for (performance.now())
      this._unanswered = 0;     // status requests in a row that got no answer
      this._disconnectedAt = null;
    }

    _note(what) {
      const t = this._t0 == null ? 0 : Math.round(performance.now() - this._t0);
      this.log.push(t + 'ms ' + what);
      if (this.log.length > 200) this.log.shift();
      this._changed();
    }

    _changed() { if (this.opts.onchange) try { this.opts.onchange(this); } catch (e) { console.error(e); } }

    _fail(e) {
      this.error = (e && e.message) ? e.message : String(e);
      this.errorLink = (e && e.link) || null;
      this.state.phase = 'failed';
      this._note('error: ' + this.error);
      return e;
    }

    _newPc() {
      // bundlePolicy: the browser default ('balanced'), as SRS's srs.sdk.js uses: with
      // 'max-bundle' Firefox offers every m-section but the first with port 0 + a=bundle-only
      // (RFC 8843), which servers that read port 0 as "rejected" refuse. ?bundle= overrides.
      const cfg = { iceServers: [], rtcpMuxPolicy: 'require' };
      if (this.opts.bundlePolicy) cfg.bundlePolicy = this.opts.bundlePolicy;
      const pc = new RTCPeerConnection(cfg);
      this.pc = pc;
      const upd = () => {
        this.state.pc = pc.connectionState || this.state.pc;
        this.state.ice = pc.iceConnectionState;
        this.state.iceGathering = pc.iceGatheringState;
        this.state.signaling = pc.signalingState;
        if (this.state.pc === 'connected' && this.state.connectedMs == null && this._t0 != null) {
          this.state.connectedMs = Math.round(performance.now() - this._t0);
          if (this.state.phase === 'negotiating') this.state.phase = 'connected';
        }
        if (this.state.pc === 'failed' || this.state.ice === 'failed') {
          this._lose('connection failed (pc ' + this.state.pc + ', ice ' + this.state.ice + ', dtls ' + this.state.dtls + ')');
        } else if (this.state.ice === 'disconnected') {
          // consent checks unanswered: lost if it lasts (a short blip recovers by itself)
          if (this._disconnectedAt == null) {
            this._disconnectedAt = performance.now();
            this._timers.push(setTimeout(() => {
              if (this.pc === pc && pc.iceConnectionState === 'disconnected') this._lose('the server stopped answering (ICE disconnected)');
            }, 4000));
          }
        } else {
          this._disconnectedAt = null;
        }
        this._changed();
      };
      pc.addEventListener('connectionstatechange', () => { upd(); this._note('pc ' + pc.connectionState); });
      pc.addEventListener('iceconnectionstatechange', () => { upd(); this._note('ice ' + pc.iceConnectionState); });
      pc.addEventListener('icegatheringstatechange', upd);
      pc.addEventListener('signalingstatechange', upd);
      return pc;
    }

    /** Watch the DTLS transport once it exists (after setRemoteDescription). */
    _watchDtls() {
      const pc = this.pc;
      const tr = pc.getTransceivers().find((t) => (t.sender && t.sender.transport) || (t.receiver && t.receiver.transport));
      const dtls = tr && ((tr.sender && tr.sender.transport) || tr.receiver.transport);
      if (!dtls) return;
      const upd = () => {
        this.state.dtls = dtls.state;
        this._note('dtls ' + dtls.state);
        if (dtls.state === 'closed') this._lose('the server ended the session (DTLS close_notify)', true);
        else if (dtls.state === 'failed') this._lose('DTLS failed');
      };
      dtls.addEventListener('statechange', upd);
      this.state.dtls = dtls.state;
    }

    async _signal(streamUrl) {
      const api = buildApiUrl(this.kind, streamUrl, this.opts.api);
      this.state.api = api;
      this.state.streamurl = streamUrl;
      const pc = this.pc;
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      this.state.offer = offer.sdp;
      this.state.phase = 'requesting';
      if (this.opts.proto === 'whip') return this._signalWhip(streamUrl, offer.sdp);
      this._note('POST ' + api);
      const body = { api: api, tid: randomId(4), streamurl: streamUrl, clientip: null, sdp: offer.sdp };
      let res, text;
      try {
        res = await fetch(api, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        text = await res.text();
      } catch (e) {
        throw new FanoutError('cannot reach the server: ' + e.message + ' (' + api + ')', { unreachable: true });
      }
      this.state.httpStatus = res.status;
      let j = null;
      try { j = JSON.parse(text); } catch (e) { /* reported below */ }
      if (!j || typeof j !== 'object') {
        throw new FanoutError('HTTP ' + res.status + ' from ' + api + ', not JSON: ' + String(text).slice(0, 200), { status: res.status });
      }
      if (!res.ok || j.code !== 0) {
        throw new FanoutError((j.msg || j.message || 'request refused') + ' (code ' + j.code + ', HTTP ' + res.status + ')',
          { status: res.status, code: j.code, retryAfter: Number(res.headers.get('Retry-After')) || null });
      }
      if (typeof j.sdp !== 'string' || !j.sdp) throw new FanoutError('answer has no sdp (HTTP ' + res.status + ')');
      this.state.answerMs = Math.round(performance.now() - this._t0);
      this.state.sessionid = j.sessionid || null;
      this.state.server = j.server || null;
      this.state.answer = j.sdp;
      this.state.phase = 'negotiating';
      this._note('answer ' + (j.sessionid || '') + ' in ' + this.state.answerMs + 'ms');
      try {
        await pc.setRemoteDescription({ type: 'answer', sdp: j.sdp });
      } catch (e) {
        throw new FanoutError('browser rejected the answer SDP: ' + e.message);
      }
      this._watchDtls();
      this._startStats();
      this._watchAudience();
      return j;
    }

    /**
     * WHIP (publish) / WHEP (play): POST the offer as application/sdp, 201 + Location + the
     * answer. The resource is DELETEd by close().
     */
    async _signalWhip(streamUrl, sdp) {
      const url = buildWhipUrl(this.kind, streamUrl, this.opts.api);
      this.state.api = url;
      this._note('POST ' + url + ' (' + (this.kind === 'publish' ? 'WHIP' : 'WHEP') + ')');
      let res, text;
      try {
        res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: sdp });
        text = await res.text();
      } catch (e) {
        throw new FanoutError('cannot reach the server: ' + e.message + ' (' + url + ')', { unreachable: true });
      }
      this.state.httpStatus = res.status;
      if (res.status !== 201) {
        throw new FanoutError(String(text || 'request refused').trim() + ' (HTTP ' + res.status + ')',
          { status: res.status, retryAfter: Number(res.headers.get('Retry-After')) || null });
      }
      const loc = res.headers.get('Location');
      if (!loc) throw new FanoutError('WHIP/WHEP answer has no Location header');
      this.state.resource = new URL(loc, url).toString();
      this.state.sessionid = this.state.resource.replace(/\/+$/, '').split('/').pop();
      this.state.server = res.headers.get('Server');
      this.state.answer = text;
      this.state.answerMs = Math.round(performance.now() - this._t0);
      this.state.phase = 'negotiating';
      this._note('answer ' + this.state.sessionid + ' in ' + this.state.answerMs + 'ms, resource ' + this.state.resource);
      try {
        await this.pc.setRemoteDescription({ type: 'answer', sdp: text });
      } catch (e) {
        throw new FanoutError('browser rejected the answer SDP: ' + e.message);
      }
      this._watchDtls();
      this._startStats();
      this._watchAudience();
      return { sessionid: this.state.sessionid, sdp: text };
    }

    /** Publish `stream` (a MediaStream; default: getUserMedia audio+video) to `streamUrl`. */
    async publish(streamUrl, stream) {
      this._t0 = performance.now();
      this.state.requestAt = Date.now();
      this.error = null;
      try {
        parseStreamUrl(streamUrl);
        if (!stream) {
          if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
            throw cameraError({ name: 'InsecureContext' }, this.opts.httpsUrl);
          }
          this.state.phase = 'getUserMedia';
          this._changed();
          // Simulcast wants a picture big enough for three layers (browsers drop layers below
          // ~960x540): 1280x720 gives 320x180, 640x360 and 1280x720.
          const big = !!this.opts.simulcast;
          try {
            stream = await navigator.mediaDevices.getUserMedia({
              audio: true,
              video: { width: { ideal: big ? 1280 : 640 }, height: { ideal: big ? 720 : 480 }, frameRate: { ideal: 30 } },
            });
          } catch (e) {
            throw cameraError(e, this.opts.httpsUrl);
          }
        }
        this.localStream = stream;
        const pc = this._newPc();
        for (const kind of ['audio', 'video']) {
          const track = stream.getTracks().find((t) => t.kind === kind);
          if (!track) continue;
          const init = { direction: 'sendonly', streams: [stream] };
          // Simulcast: three layers, lowest first (the server ranks them by bitrate anyway).
          if (kind === 'video' && this.opts.simulcast) {
            init.sendEncodings = [{ rid: 'l', scaleResolutionDownBy: 4, maxBitrate: 200000 },
              { rid: 'm', scaleResolutionDownBy: 2, maxBitrate: 700000 }, { rid: 'h', maxBitrate: 2500000 }];
          }
          const t = pc.addTransceiver(track, init);
          if (kind === 'video' && this.opts.codec) preferCodec(t, 'video', this.opts.codec, 'send');
        }
        if (!pc.getTransceivers().length) throw new FanoutError('no audio or video track to publish');
        await this._signal(streamUrl);
        return this;
      } catch (e) {
        throw this._fail(e);
      }
    }

    /** Play `streamUrl`: recvonly audio+video; tracks land in this.remoteStream. */
    async play(streamUrl) {
      this._t0 = performance.now();
      this.state.requestAt = Date.now();
      this.error = null;
      try {
        parseStreamUrl(streamUrl);
        const pc = this._newPc();
        this.remoteStream = new MediaStream();
        pc.addEventListener('track', (ev) => {
          this.remoteStream.addTrack(ev.track);
          this._note('track ' + ev.track.kind);
          // Firefox mutes a track on the server's RTCP BYE (the publisher left): ask at once
          ev.track.addEventListener('mute', () => { this._note(ev.track.kind + ' muted'); this._checkAudience(true); });
          if (this.opts.ontrack) this.opts.ontrack(ev, this);
        });
        pc.addTransceiver('audio', { direction: 'recvonly' });
        const v = pc.addTransceiver('video', { direction: 'recvonly' });
        if (this.opts.codec) preferCodec(v, 'video', this.opts.codec, 'recv');
        this._watchFirstFrame();
        await this._signal(streamUrl);
        return this;
      } catch (e) {
        throw this._fail(e);
      }
    }

    /** Poll getStats quickly until the first video frame is decoded; time it from the request. */
    _watchFirstFrame() {
      const tick = async () => {
        if (this._closed || this.firstFrameMs != null || !this.pc) return;
        try {
          const r = await this.pc.getStats();
          r.forEach((s) => {
            if (s.type === 'inbound-rtp' && (s.kind || s.mediaType) === 'video' && s.framesDecoded > 0 && this.firstFrameMs == null) {
              this.firstFrameMs = Math.round(performance.now() - this._t0);
              this.state.phase = 'playing';
              this.phaseAt.playing = Date.now();
              this.everPlayed = true;
              this._note('first frame decoded at ' + this.firstFrameMs + 'ms');
            }
          });
        } catch (e) { /* pc closed */ }
        if (this.firstFrameMs == null && !this._closed) this._timers.push(setTimeout(tick, 50));
      };
      this._timers.push(setTimeout(tick, 50));
    }

    /**
     * getStats every second, every half second for players: a player notices within about a
     * second that media stopped (a live stream carries 25 audio packets per half second) and
     * then asks the server why.
     */
    _startStats() {
      const every = this.kind === 'play' ? 500 : 1000;
      const poll = async () => {
        if (this._closed || this.lost) return;
        try { await this.refreshStats(); } catch (e) { /* ignore */ }
        this._timers.push(setTimeout(poll, every));
      };
      poll();
    }

    /**
     * Marks the session lost (once): `why` for the log and the page. `closedByServer`: the server
     * sent close_notify; if it still answers, it ended this session on purpose (a kick, a WHEP
     * DELETE, the grace period after the publisher left), which the page reports instead of
     * retrying blindly. Stops the timers; the page closes the session.
     */
    _lose(why, closedByServer) {
      if (this.lost || this._closed) return;
      this.lost = why;
      this.lostByServer = !!closedByServer;
      this._note('lost: ' + why);
      this._timers.forEach(clearTimeout);
      this._timers = [];
      if (this.opts.onlost) try { this.opts.onlost(this, why); } catch (e) { console.error(e); }
      this._changed();
    }

    /** Asks the server for the stream's state now and then: see _checkAudience. */
    _watchAudience() {
      if (this.kind === 'play') { this._checkAudience(true); return; }
      const poll = async () => {
        if (this._closed || this.lost) return;
        await this._checkAudience(true);
        this._timers.push(setTimeout(poll, 3000));
      };
      this._timers.push(setTimeout(poll, 500));
    }

    /**
     * GET the stream's status (at most once a second, every 5 s once it is not live, unless
     * `now`) into this.audience. Two requests in a row without an answer mean the server is
     * gone: the session is lost.
     */
    async _checkAudience(now) {
      const t = performance.now();
      // once the stream is known not to be live, media arriving says when it is: ask less often
      const every = /^(waiting|starting|ended|stalled)$/.test(this.audience.state) ? 5000 : 1000;
      if (this._closed || this.lost || !this.state.streamurl || (!now && t - this._statusAt < every) || this._asking) return;
      this._asking = true;
      this._statusAt = t;
      let r;
      try { r = await getJson(statusUrl(this.state.streamurl, this.opts.api), 3000); } finally { this._asking = false; }
      if (this._closed || this.lost) return;
      if (r.unreachable) {
        this._unanswered++;
        this._note('status: no answer (' + r.msg + ')');
        if (this._unanswered >= 2) this._lose('the server does not answer (' + r.msg + ')');
        else this._timers.push(setTimeout(() => this._checkAudience(true), 1000));
        return;
      }
      this._unanswered = 0;
      if (!r.ok) return; // e.g. 401: no status for us; the media itself still tells
      const prevState = this.audience.state;
      this.audience = { state: r.json.state, players: r.json.players, at: Date.now() };
      if (prevState !== r.json.state) this._note('stream ' + r.json.state + ', ' + r.json.players + ' watching');
      if (this.kind === 'play') this._updatePlayPhase();
      this._changed();
    }

    /**
     * A player's phase from what arrives and what the server says: media flowing and decoded is
     * 'playing'; otherwise the stream's state decides ('waiting', 'starting', 'ended',
     * 'stalled'), asked for again each second while nothing arrives.
     */
    _updatePlayPhase() {
      if (this._closed || this.lost || this.state.phase === 'failed') return;
      if (!/^(negotiating|connected|waiting|starting|playing|ended|stalled)$/.test(this.state.phase)) return;
      let phase = this.state.phase;
      if (this.flowing && this.firstFrameMs != null) {
        phase = 'playing';
        this.everPlayed = true;
      } else {
        if (!this.flowing) this._checkAudience(false);
        const a = this.audience.state;
        if (a === 'ended' || a === 'stalled') phase = 'ended';
        else if (a === 'waiting' || a === 'starting') phase = (this.everPlayed || this.opts.endedBefore) ? 'ended' : 'waiting';
        else if (a === 'live') phase = this.everPlayed ? 'stalled' : 'starting';
      }
      if (phase !== this.state.phase) {
        this.state.phase = phase;
        this.phaseAt[phase] = Date.now();
        this._note('phase ' + phase);
      }
    }

    /** Read getStats once and compute a per-second summary (rates from the previous read). */
    async refreshStats() {
      const report = await this.pc.getStats();
      const now = performance.now();
      const byId = new Map();
      report.forEach((s) => byId.set(s.id, s));
      const dir = this.kind === 'publish' ? 'outbound-rtp' : 'inbound-rtp';
      const cur = { t: now, audio: null, video: null };
      const remoteIn = {};
      let pair = null, transport = null;
      report.forEach((s) => {
        const kind = s.kind || s.mediaType;
        if (s.type === dir && (kind === 'audio' || kind === 'video')) {
          // with several (e.g. simulcast layers) keep the busiest
          if (!cur[kind] || (s.bytesSent || s.bytesReceived || 0) > (cur[kind].bytesSent || cur[kind].bytesReceived || 0)) cur[kind] = s;
        } else if (s.type === 'remote-inbound-rtp' && (kind === 'audio' || kind === 'video')) {
          remoteIn[kind] = s;
        } else if (s.type === 'transport') {
          transport = s;
        } else if (s.type === 'candidate-pair' && (s.selected || s.nominated) && s.state === 'succeeded') {
          if (!pair || s.selected) pair = s;
        }
      });
      if (transport) {
        if (transport.dtlsState) this.state.dtls = transport.dtlsState;
        if (transport.selectedCandidatePairId && byId.has(transport.selectedCandidatePairId)) pair = byId.get(transport.selectedCandidatePairId);
      }
      const prev = this._prev;
      const dt = prev ? (now - prev.t) / 1000 : 0;
      const out = { at: Date.now(), kind: this.kind, audio: null, video: null, rttMs: null, local: null, remote: null };
      for (const kind of ['audio', 'video']) {
        const s = cur[kind];
        if (!s) continue;
        const p = prev && prev[kind];
        const bytes = this.kind === 'publish' ? s.bytesSent : s.bytesReceived;
        const pkts = this.kind === 'publish' ? s.packetsSent : s.packetsReceived;
        const o = { bytes: bytes || 0, packets: pkts || 0, kbps: null, codec: null };
        const codec = s.codecId && byId.get(s.codecId);
        if (codec) { o.codec = codec.mimeType.replace(/^(audio|video)\//, ''); this.state.codecs[kind] = o.codec; }
        if (p && dt > 0) o.kbps = Math.round(((bytes || 0) - (this.kind === 'publish' ? p.bytesSent : p.bytesReceived || 0)) * 8 / dt / 1000);
        if (this.kind === 'play') {
          o.lost = s.packetsLost || 0;
          if (p && dt > 0) {
            const dl = o.lost - (p.packetsLost || 0), dr = o.packets - (p.packetsReceived || 0);
            o.lossPct = dl + dr > 0 ? Math.max(0, Math.round(1000 * dl / (dl + dr)) / 10) : 0;
          }
          o.jitterMs = s.jitter != null ? Math.round(s.jitter * 1000) : null;
          o.nackCount = s.nackCount;
          if (kind === 'video') {
            o.framesDecoded = s.framesDecoded || 0;
            o.framesReceived = s.framesReceived;
            o.framesDropped = s.framesDropped;
            o.keyFramesDecoded = s.keyFramesDecoded;
            o.pliCount = s.pliCount;
            o.firCount = s.firCount;
            o.fps = p && dt > 0 ? Math.round(10 * ((s.framesDecoded || 0) - (p.framesDecoded || 0)) / dt) / 10 : (s.framesPerSecond || null);
            o.width = s.frameWidth || null; o.height = s.frameHeight || null;
            o.decoder = s.decoderImplementation;
          } else {
            o.samples = s.totalSamplesReceived;
            o.concealed = s.concealedSamples;
            o.audioLevel = s.audioLevel;
          }
        } else {
          const r = remoteIn[kind];
          if (r) {
            o.lost = r.packetsLost;
            o.lossPct = r.fractionLost != null ? Math.round(r.fractionLost * 1000) / 10 : null;
            if (r.roundTripTime != null) out.rttMs = Math.round(r.roundTripTime * 1000);
          }
          o.nackCount = s.nackCount;
          if (kind === 'video') {
            o.framesEncoded = s.framesEncoded || 0;
            o.fps = p && dt > 0 ? Math.round(10 * ((s.framesEncoded || 0) - (p.framesEncoded || 0)) / dt) / 10 : (s.framesPerSecond || null);
            o.width = s.frameWidth || null; o.height = s.frameHeight || null;
            o.pliCount = s.pliCount; o.firCount = s.firCount;
            o.encoder = s.encoderImplementation;
            o.limitation = s.qualityLimitationReason;
          }
        }
        out[kind] = o;
      }
      if (pair) {
        if (pair.currentRoundTripTime != null) out.rttMs = Math.round(pair.currentRoundTripTime * 1000);
        const l = byId.get(pair.localCandidateId), r = byId.get(pair.remoteCandidateId);
        if (l) out.local = (l.address || l.ip) + ':' + l.port + '/' + l.protocol;
        if (r) out.remote = (r.address || r.ip) + ':' + r.port + '/' + r.protocol;
      }
      const count = (c) => (c ? (this.kind === 'publish' ? c.packetsSent : c.packetsReceived) || 0 : 0);
      this.flowing = !!prev && count(cur.audio) + count(cur.video) > count(prev.audio) + count(prev.video);
      this._prev = { t: now, audio: cur.audio && Object.assign({}, cur.audio), video: cur.video && Object.assign({}, cur.video) };
      this._stats = out;
      if (this.kind === 'play') this._updatePlayPhase();
      else if (this.flowing && this.state.pc === 'connected' && /^(negotiating|connected)$/.test(this.state.phase)) this.state.phase = 'live';
      if (this.opts.onstats) try { this.opts.onstats(this); } catch (e) { console.error(e); }
      return out;
    }

    /** The last per-second summary (null before the first). */
    stats() { return this._stats; }

    /** Everything a test wants to see, JSON-safe. */
    snapshot() {
      const st = Object.assign({}, this.state);
      return { state: st, stats: this._stats, firstFrameMs: this.firstFrameMs, error: this.error, audience: this.audience,
        lost: this.lost, phaseAt: this.phaseAt, log: this.log.slice(-40) };
    }

    close() {
      // WHIP/WHEP: end the session on the server too (SRS-API sessions end by DTLS close)
      if (this.state.resource && !this._closed) {
        fetch(this.state.resource, { method: 'DELETE', keepalive: true }).catch(() => {});
      }
      this._closed = true;
      this._timers.forEach(clearTimeout);
      this._timers = [];
      if (this.pc) this.pc.close();
      if (this.localStream) this.localStream.getTracks().forEach((t) => t.stop());
      this.state.phase = 'closed';
      this.state.pc = 'closed';
      this._changed();
    }
  }

  global.Fanout = {
    FanoutSession: FanoutSession, FanoutError: FanoutError, parseStreamUrl: parseStreamUrl,
    buildApiUrl: buildApiUrl, buildWhipUrl: buildWhipUrl, apiTarget: apiTarget, statusUrl: statusUrl, apiOrigin: apiOrigin, getJson: getJson,
    cameraError: cameraError, DEFAULT_APP_STREAM: DEFAULT_APP_STREAM,
    publish: (url, opts, stream) => new FanoutSession('publish', opts).publish(url, stream),
    play: (url, opts) => new FanoutSession('play', opts).play(url),
  };
  if (typeof module !== 'undefined' && module.exports) module.exports = global.Fanout;
})(typeof window !== 'undefined' ? window : globalThis);

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
 * Test hooks: the pages set window.fanout = session, which exposes
 *   pc, state (plain object: phase, pc/ice/dtls/signaling states, sessionid, ...),
 *   stats() (last per-second summary), firstFrameMs (play request -> first decoded
 *   video frame), error (message string or null), snapshot() (all of it, JSON-safe).
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
    const origin = (global.location && /^https?:/.test(global.location.protocol)) ? global.location.origin : 'http://localhost:1985';
    const base = api ? new URL(api, origin).origin : origin;
    const parsed = parseStreamUrl(streamUrl);
    const u = new URL(base + '/rtc/v1/' + (kind === 'publish' ? 'whip' : 'whep') + '/');
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
        if ((this.state.pc === 'failed' || this.state.ice === 'failed') && this.state.phase !== 'failed' && !this._closed) {
          this._fail(new FanoutError('connection failed (pc ' + this.state.pc + ', ice ' + this.state.ice + ', dtls ' + this.state.dtls + ')'));
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
      const upd = () => { this.state.dtls = dtls.state; this._note('dtls ' + dtls.state); };
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
        throw new FanoutError('signaling request to ' + api + ' failed: ' + e.message);
      }
      this.state.httpStatus = res.status;
      let j = null;
      try { j = JSON.parse(text); } catch (e) { /* reported below */ }
      if (!j || typeof j !== 'object') {
        throw new FanoutError('HTTP ' + res.status + ' from ' + api + ', not JSON: ' + String(text).slice(0, 200), { status: res.status });
      }
      if (!res.ok || j.code !== 0) {
        throw new FanoutError((j.msg || j.message || 'request refused') + ' (code ' + j.code + ', HTTP ' + res.status + ')',
          { status: res.status, code: j.code });
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
        throw new FanoutError('WHIP/WHEP request to ' + url + ' failed: ' + e.message);
      }
      this.state.httpStatus = res.status;
      if (res.status !== 201) {
        throw new FanoutError(String(text || 'request refused').trim() + ' (HTTP ' + res.status + ')', { status: res.status });
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
            throw new FanoutError('getUserMedia is not available (a secure context — https or localhost — is needed)');
          }
          this.state.phase = 'getUserMedia';
          this._changed();
          // Simulcast wants a picture big enough for three layers (browsers drop layers below
          // ~960x540): 1280x720 gives 320x180, 640x360 and 1280x720.
          const big = !!this.opts.simulcast;
          stream = await navigator.mediaDevices.getUserMedia({
            audio: true,
            video: { width: { ideal: big ? 1280 : 640 }, height: { ideal: big ? 720 : 480 }, frameRate: { ideal: 30 } },
          });
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
              this._note('first frame decoded at ' + this.firstFrameMs + 'ms');
            }
          });
        } catch (e) { /* pc closed */ }
        if (this.firstFrameMs == null && !this._closed) this._timers.push(setTimeout(tick, 50));
      };
      this._timers.push(setTimeout(tick, 50));
    }

    _startStats() {
      const poll = async () => {
        if (this._closed) return;
        try { await this.refreshStats(); } catch (e) { /* ignore */ }
        this._timers.push(setTimeout(poll, 1000));
      };
      poll();
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
      this._prev = { t: now, audio: cur.audio && Object.assign({}, cur.audio), video: cur.video && Object.assign({}, cur.video) };
      this._stats = out;
      if (this.opts.onstats) try { this.opts.onstats(this); } catch (e) { console.error(e); }
      return out;
    }

    /** The last per-second summary (null before the first). */
    stats() { return this._stats; }

    /** Everything a test wants to see, JSON-safe. */
    snapshot() {
      const st = Object.assign({}, this.state);
      return { state: st, stats: this._stats, firstFrameMs: this.firstFrameMs, error: this.error, log: this.log.slice(-40) };
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

  /* ---------- page helpers shared by publisher.html and player.html ---------- */

  function pageParams() {
    const q = new URLSearchParams(global.location.search);
    const host = global.location.hostname || 'localhost';
    return {
      url: q.get('url') || ('webrtc://' + host + DEFAULT_APP_STREAM),
      api: q.get('api') || '',
      codec: q.get('codec') || '',
      bundlePolicy: q.get('bundle') || '',
      proto: /^(whip|whep)$/i.test(q.get('proto') || '') ? 'whip' : '',
      autostart: /^(1|true|yes)$/i.test(q.get('autostart') || ''),
      simulcast: /^(1|true|yes)$/i.test(q.get('simulcast') || ''),
    };
  }

  function fmt(v, unit) { return v == null || Number.isNaN(v) ? '–' : (v + (unit || '')); }

  /** Render a session's state and stats into the page's status/stats tables. */
  function render(session, els) {
    const st = session.state;
    const set = (id, text, cls) => {
      const e = els[id];
      if (!e) return;
      e.textContent = text;
      if (cls !== undefined) e.className = cls;
    };
    const good = (v) => (v === 'connected' || v === 'completed' ? 'ok' : (v === 'failed' || v === 'closed' ? 'bad' : 'wait'));
    set('phase', st.phase, st.phase === 'failed' ? 'bad' : (/connected|playing/.test(st.phase) ? 'ok' : 'wait'));
    set('pcState', st.pc, good(st.pc));
    set('iceState', st.ice, good(st.ice));
    set('dtlsState', st.dtls, good(st.dtls));
    set('session', st.sessionid || '–');
    set('api', st.api || '–');
    if (els.error) {
      els.error.textContent = session.error || '';
      els.error.hidden = !session.error;
    }
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

  /** Collect elements with ids into an object. */
  function byIds(ids) {
    const o = {};
    ids.forEach((id) => { o[id] = document.getElementById(id); });
    return o;
  }

  global.Fanout = {
    FanoutSession: FanoutSession, FanoutError: FanoutError, parseStreamUrl: parseStreamUrl,
    buildApiUrl: buildApiUrl, buildWhipUrl: buildWhipUrl, apiTarget: apiTarget, pageParams: pageParams, render: render, byIds: byIds,
    publish: (url, opts, stream) => new FanoutSession('publish', opts).publish(url, stream),
    play: (url, opts) => new FanoutSession('play', opts).play(url),
  };
  if (typeof module !== 'undefined' && module.exports) module.exports = global.Fanout;
})(typeof window !== 'undefined' ? window : globalThis);

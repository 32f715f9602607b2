/* SPDX-License-Identifier: MIT */
/* Loss repair on loopback, both ways, against the fanout binary (argv[1], source dir argv[2]).
 * Run twice: with a publisher whose offer has RTX and with one whose offer has none.
 * (a) The publisher withholds some video packets; the server must NACK exactly those (the
 *     NACK's bytes are checked: V=2, RTPFB fmt 1, length, SSRCs, PID/BLP), the publisher
 *     retransmits each once (RTX with the OSN when its answer kept RTX, else the plain packet)
 *     and every player receives the complete sequence.
 * (b) Players drop some packets before SRTP (as a lossy link would) and NACK them: one that
 *     negotiated RTX gets them on its RTX SSRC and payload type, the OSN naming the lost seq,
 *     with the original payload and timestamp; one without RTX gets the plain packet (same SSRC
 *     and seq). Both end up with the complete sequence. A player that negotiated NACK for Opus
 *     gets its lost audio back too, and only it has "a=rtcp-fb:111 nack" in its answer.
 * (c) A player NACKing the last 17 packets every 5 ms for half a second is held to its budget:
 *     retransmissions received stay bounded and the server counts the refused ones
 *     (/api/v1/clients/{id}: tracks[].rtx_limited).
 * (d) With instant start (a second server): a player joining after a keyframe and 9 frames
 *     gets them replayed with squeezed timestamps; it loses one packet of the replayed
 *     keyframe and NACKs it. The retransmission must carry the timestamp the replay gave that
 *     frame (every packet of one source frame, first copy or retransmission, one timestamp).
 *     One packet of frame 4 is still missing on the server when the player joins (the
 *     publisher lost it and answers the server's NACKs only once the replay is out): its
 *     late repair, forwarded live, must carry frame 4's squeezed timestamp too.
 * (e) Then the publisher stops answering NACKs: once the server gives a video packet up, it
 *     asks the publisher for a keyframe (a PLI; nothing else asks for one here), and the
 *     publisher's track counts it as unrecovered in /api/v1/clients/{id}.
 * One process, alarm(90). */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fanout/common.h"
#include "fanout/dtls.h"
#include "fanout/log.h"
#include "fanout/rtcp.h"
#include "fanout/rtp.h"
#include "fanout/rtx.h"
#include "fanout/srtp.h"
#include "fanout/stun.h"
#include "peer.h"
#include "testsrv.h"

#define MEDIA_MS 2500
#define DRAIN_MS 800
#define VIDEO_FPS 30
#define VIDEO_PAYLOAD 1000
#define AUDIO_PAYLOAD 120
#define KEYFRAME_EVERY 30
#define MAX_PKTS 1024
#define SKIP_EVERY 13        /* withhold video packet i when i % SKIP_EVERY == 11 ... */
#define LOSE_EVERY 10        /* players lose video packets whose seq % LOSE_EVERY == 7 */
#define AUDIO_LOSE_EVERY 10
#define GREEDY_FROM_MS 900
#define GREEDY_MS 500
#define GREEDY_EVERY_MS 5
#define MAX_KBPS "1000"      /* rtc.max_bitrate_kbps: a player's RTX budget is half of it */
#define GREEDY_MAX_RTX 60    /* 62.5 KB/s: 15.6 KB burst + 0.5 s of it is ~46 packets */

#define die(...) fo_test_fail(__VA_ARGS__)

static fo_testsrv_t g_srv;

/* ------------------------------------------------------------------------------------------ */
/* Publisher */

typedef struct {
    uint8_t pkt[12 + VIDEO_PAYLOAD];
    size_t len;
    bool key;       /* first packet of a keyframe */
    bool withheld;  /* not sent until NACKed */
    bool resent;
    unsigned nacked;
} vpkt_t;

typedef struct {
    fo_peer_t *peer;
    bool rtx;            /* its answer kept RTX */
    uint16_t v_seq0, a_seq, rtx_seq;
    uint32_t v_ts0, frame, n_audio;
    vpkt_t v[MAX_PKTS];
    uint32_t n_video;
    uint64_t nack_pkts, nacked_seqs, resent, withheld;
    bool hold;           /* (d), (e): withheld packets are not resent, NACKed or not */
    uint64_t plis;       /* PLIs received */
} pub_t;

static void put_counter(uint8_t *end, uint32_t c)
{
    end[-4] = (uint8_t)(c >> 24);
    end[-3] = (uint8_t)(c >> 16);
    end[-2] = (uint8_t)(c >> 8);
    end[-1] = (uint8_t)c;
}

static uint32_t get_counter(const uint8_t *end)
{
    return (uint32_t)end[-4] << 24 | (uint32_t)end[-3] << 16 | (uint32_t)end[-2] << 8 | end[-1];
}

static void send_audio(pub_t *p)
{
    uint8_t pkt[12 + AUDIO_PAYLOAD];
    size_t h = fo_rtp_write_header(pkt, FO_PEER_PT_OPUS, false, p->a_seq++, 5000 + p->n_audio * 960,
                          fo_peer_ssrc(p->peer, "audio"));
    memset(pkt + h, 0xa5, AUDIO_PAYLOAD);
    put_counter(pkt + h + AUDIO_PAYLOAD, p->n_audio++);
    int r = fo_peer_send_rtp(p->peer, pkt, h + AUDIO_PAYLOAD);
    if (r) die("publisher: sending audio: %s", fo_strerror(r));
}

/* One VP8-shaped frame (as it_media.c): 4 packets for a keyframe, else 2. */
static void send_video_frame(pub_t *p)
{
    bool key = p->frame % KEYFRAME_EVERY == 0;
    int npk = key ? 4 : 2;
    uint32_t ts = p->v_ts0 + p->frame * (90000 / VIDEO_FPS);
    for (int i = 0; i < npk && p->n_video < MAX_PKTS; i++) {
        uint32_t c = p->n_video;
        vpkt_t *e = &p->v[p->n_video++];
        size_t h = fo_rtp_write_header(e->pkt, FO_PEER_PT_VP8, i == npk - 1, (uint16_t)(p->v_seq0 + c), ts,
                              fo_peer_ssrc(p->peer, "video"));
        uint8_t *pl = e->pkt + h;
        memset(pl, 0x5a, VIDEO_PAYLOAD);
        pl[0] = i == 0 ? 0x10 : 0x00;
        if (i == 0) {
            uint32_t tag = (100u << 5) | (1u << 4) | (key ? 0u : 1u);
            pl[1] = (uint8_t)tag;
            pl[2] = (uint8_t)(tag >> 8);
            pl[3] = (uint8_t)(tag >> 16);
            if (key) {
                static const uint8_t kf[] = {0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
                memcpy(pl + 4, kf, sizeof kf);
            }
        }
        put_counter(pl + VIDEO_PAYLOAD, c);
        e->len = h + VIDEO_PAYLOAD;
        e->key = key && i == 0;
        /* Never a keyframe's packets: players start at one, and that start is not what this
         * test is about. */
        e->withheld = !key && c % SKIP_EVERY == 11;
        if (e->withheld) {
            p->withheld++;
            continue;
        }
        int r = fo_peer_send_rtp(p->peer, e->pkt, e->len);
        if (r) die("publisher: sending video: %s", fo_strerror(r));
    }
    p->frame++;
}

/* Sends withheld packet `e` once: as RTX when the publisher's answer kept RTX, else plain. */
static void pub_resend(pub_t *p, vpkt_t *e)
{
    e->resent = true;
    p->resent++;
    int r;
    if (p->rtx) {
        fo_rtp_view_t v;
        uint8_t out[1500];
        if (fo_rtp_parse(e->pkt, e->len, &v)) die("publisher: own packet does not parse");
        fo_rtp_rewrite_t rw = {.ssrc = fo_peer_ssrc(p->peer, "rtx"), .pt = FO_PEER_PT_RTX,
                               .seq = p->rtx_seq++, .ts = v.ts};
        int len = fo_rtx_wrap(&v, &rw, v.seq, out, sizeof out);
        if (len <= 0) die("fo_rtx_wrap");
        r = fo_peer_send_rtp(p->peer, out, (size_t)len);
    } else {
        r = fo_peer_send_rtp(p->peer, e->pkt, e->len);
    }
    if (r) die("publisher: retransmitting: %s", fo_strerror(r));
}

/* Checks one NACK's wire format and answers the sequence numbers it names, once each. */
static void pub_on_nack(pub_t *p, const fo_rtcp_pkt_t *pk)
{
    const uint8_t *b = pk->raw;
    size_t words = ((size_t)b[2] << 8 | b[3]) + 1;
    if (b[0] != 0x81 || b[1] != 205 || words * 4 != pk->raw_len || pk->raw_len < 16 ||
        (pk->raw_len - 12) % 4 != 0)
        die("publisher: malformed NACK header %02x %02x len %zu", b[0], b[1], pk->raw_len);
    if (pk->media_ssrc != fo_peer_ssrc(p->peer, "video") || pk->sender_ssrc == 0)
        die("publisher: NACK for SSRC %08x from %08x (our video is %08x)", pk->media_ssrc,
            pk->sender_ssrc, fo_peer_ssrc(p->peer, "video"));
    p->nack_pkts++;
    uint16_t seqs[256];
    size_t n = fo_rtcp_nack_seqs(pk, seqs, FO_ARRAY_LEN(seqs));
    for (size_t i = 0; i < n; i++) {
        uint16_t idx = (uint16_t)(seqs[i] - p->v_seq0);
        if (idx >= p->n_video)
            die("publisher: NACK for seq %u, never sent (sent %u from %u)", seqs[i], p->n_video,
                p->v_seq0);
        vpkt_t *e = &p->v[idx];
        p->nacked_seqs++;
        e->nacked++;
        if (!e->withheld) continue; /* loopback lost it after all: not our business */
        if (e->resent || p->hold) continue; /* a retry before our answer arrived, or held */
        pub_resend(p, e);
    }
}

static void pub_rx(void *user, fo_peer_t *peer, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)peer;
    pub_t *p = user;
    if (!is_rtcp) return;
    fo_rtcp_pkt_t pk[16];
    size_t n = 0;
    if (fo_rtcp_parse(pkt, len, pk, FO_ARRAY_LEN(pk), &n) < 0) die("publisher: bad RTCP from server");
    for (size_t i = 0; i < n; i++)
        if (pk[i].pt == FO_RTCP_RTPFB && pk[i].count == FO_RTCP_FMT_NACK) pub_on_nack(p, &pk[i]);
        else if (pk[i].pt == FO_RTCP_PSFB && pk[i].count == FO_RTCP_FMT_PLI) p->plis++;
}

/* ------------------------------------------------------------------------------------------ */
/* Players */

typedef enum { P_RTX = 0, P_PLAIN, P_GREEDY, P_AUDIO, P_N } player_kind_t;
static const char *const player_names[P_N] = {"rtx", "plain", "greedy", "audio-nack"};

typedef struct {
    player_kind_t kind;
    fo_peer_t *peer;
    uint32_t ssrc, rtx_ssrc, a_ssrc;
    uint8_t rtx_pt;               /* 0: the answer has no RTX */
    uint8_t got[MAX_PKTS];        /* video counter -> received (media SSRC or RTX) */
    uint8_t a_got[MAX_PKTS];
    uint8_t lost[65536];          /* player seq -> dropped once on purpose (video) */
    uint8_t a_lost[65536];
    bool have_last, have_delta, have_first_a;
    uint16_t last_seq, seq_delta; /* player seq - counter, constant */
    uint32_t ts_delta;            /* player ts - publisher ts */
    uint32_t first_a;             /* first audio counter received */
    uint64_t media, rtx, plain_repair, audio_repair, asked, audio_asked, dup, bad;
    char err[256];
} player_t;

static void player_note(player_t *pl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void player_note(player_t *pl, const char *fmt, ...)
{
    pl->bad++;
    if (pl->err[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pl->err, sizeof pl->err, fmt, ap);
    va_end(ap);
}

static void player_nack(player_t *pl, uint32_t media_ssrc, uint16_t seq, uint16_t blp)
{
    uint8_t buf[64];
    uint16_t seqs[17];
    size_t n = 0;
    seqs[n++] = seq;
    for (int i = 0; i < 16; i++)
        if (blp & (1u << i)) seqs[n++] = (uint16_t)(seq + 1 + i);
    int len = fo_rtcp_build_nack(buf, sizeof buf, 0x1234, media_ssrc, seqs, n);
    if (len <= 0 || fo_peer_send_rtcp(pl->peer, buf, (size_t)len)) die("%s: sending NACK", player_names[pl->kind]);
}

static pub_t *g_pub; /* the running publisher, for what it sent */

/* The lossy link: drops chosen packets once, before SRTP, and NACKs them at once. */
static bool player_filter(void *user, fo_peer_t *peer, const uint8_t *pkt, size_t len)
{
    (void)peer;
    player_t *pl = user;
    if (len < 12 || (len >= 2 && pkt[1] >= 192 && pkt[1] <= 223)) return true;
    uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    uint32_t ssrc = (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11];
    if ((pl->kind == P_RTX || pl->kind == P_PLAIN) && ssrc == pl->ssrc && pl->have_last &&
        seq % LOSE_EVERY == 7 && !pl->lost[seq]) {
        pl->lost[seq] = 1;
        pl->asked++;
        player_nack(pl, pl->ssrc, seq, 0);
        return false;
    }
    if (pl->kind == P_AUDIO && ssrc == pl->a_ssrc && pl->have_first_a &&
        seq % AUDIO_LOSE_EVERY == 3 && !pl->a_lost[seq]) {
        pl->a_lost[seq] = 1;
        pl->audio_asked++;
        player_nack(pl, pl->a_ssrc, seq, 0);
        return false;
    }
    return true;
}

/* Records video counter c arriving as player seq `seq`, ts `ts`; checks the mapping. */
static void player_video(player_t *pl, uint32_t c, uint16_t seq, uint32_t ts, bool rtx)
{
    const uint8_t *h = g_pub->v[c].pkt;
    uint32_t src_ts = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
    if (!pl->have_delta) {
        pl->have_delta = true;
        pl->seq_delta = (uint16_t)(seq - c);
        pl->ts_delta = ts - src_ts;
    } else if ((uint16_t)(seq - c) != pl->seq_delta || ts - src_ts != pl->ts_delta) {
        player_note(pl, "%s counter %u as seq %u ts %u: expected seq %u ts %u", rtx ? "RTX" : "media",
                    c, seq, ts, (uint16_t)(c + pl->seq_delta), src_ts + pl->ts_delta);
    }
    if (pl->got[c]) pl->dup++;
    pl->got[c] = 1;
    if (!pl->have_last || fo_seq_diff(seq, pl->last_seq) > 0) pl->last_seq = seq;
    pl->have_last = true;
}

static void player_rx(void *user, fo_peer_t *peer, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)peer;
    player_t *pl = user;
    fo_rtp_view_t v;
    if (is_rtcp) return;
    if (fo_rtp_parse(pkt, len, &v) || v.payload_len < 4) {
        player_note(pl, "unparsable RTP");
        return;
    }
    uint32_t c = get_counter(v.payload + v.payload_len);
    if (c >= MAX_PKTS) {
        player_note(pl, "counter %u out of range", c);
        return;
    }
    if (v.ssrc == pl->a_ssrc) {
        if (pl->a_got[c]) pl->dup++;
        if (pl->a_lost[v.seq]) pl->audio_repair++;
        pl->a_got[c] = 1;
        if (!pl->have_first_a) pl->first_a = c;
        pl->have_first_a = true;
        return;
    }
    if (pl->rtx_pt && v.ssrc == pl->rtx_ssrc) {
        /* RFC 4588: OSN first, then the original payload, with the original's timestamp. */
        if (v.pt != pl->rtx_pt || v.payload_len < 6) {
            player_note(pl, "RTX packet with PT %u, payload %zu", v.pt, v.payload_len);
            return;
        }
        uint16_t osn = (uint16_t)(v.payload[0] << 8 | v.payload[1]);
        pl->rtx++;
        player_video(pl, c, osn, v.ts, true);
        return;
    }
    if (v.ssrc != pl->ssrc || v.pt != FO_PEER_PT_VP8) {
        player_note(pl, "packet on SSRC %08x PT %u (expected %08x/%u)", v.ssrc, v.pt, pl->ssrc,
                    FO_PEER_PT_VP8);
        return;
    }
    pl->media++;
    if (pl->lost[v.seq]) pl->plain_repair++;
    player_video(pl, c, v.seq, v.ts, false);
}

/* ------------------------------------------------------------------------------------------ */

static bool has_pt(const fo_peer_media_t *m, uint8_t pt)
{
    for (size_t i = 0; m && i < m->n_pts; i++)
        if (m->pts[i] == pt) return true;
    return false;
}

/* tracks[kind].<field> of a client from /api/v1/clients/{id}. */
static long long api_track_field(const char *id, const char *kind, const char *field)
{
    char url[256], *body = NULL;
    snprintf(url, sizeof url, "%s/api/v1/clients/%s", g_srv.api, id);
    int st = fo_peer_http_request("GET", url, NULL, NULL, NULL, &body, 5000);
    if (st != 200) die("GET %s: %d", url, st);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    json_t *tracks = json_object_get(json_object_get(j, "client"), "tracks");
    long long v = -1;
    for (size_t i = 0; i < json_array_size(tracks); i++) {
        json_t *t = json_array_get(tracks, i);
        if (!strcmp(json_string_value(json_object_get(t, "kind")) ? json_string_value(json_object_get(t, "kind")) : "", kind))
            v = json_integer_value(json_object_get(t, field));
    }
    json_decref(j);
    if (v < 0) die("no %s.%s in the client JSON of %s", kind, field, id);
    return v;
}

static void run(fo_dtls_ctx_t *dctx, fo_stun_t *stun, bool pub_rtx, char *summary, size_t cap)
{
    char stream[64];
    snprintf(stream, sizeof stream, "live/nack-%s-%d", pub_rtx ? "rtx" : "plain", (int)getpid());
    pub_t *pub = calloc(1, sizeof *pub);
    player_t *pls = calloc(P_N, sizeof *pls);
    if (!pub || !pls) die("out of memory");
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub",
                         .no_rtx = !pub_rtx};
    if (!(pub->peer = fo_peer_new(&po))) die("fo_peer_new");
    fo_peer_set_recv_cb(pub->peer, pub_rx, pub);
    if (fo_peer_connect(pub->peer, g_srv.api, stream, 10000)) die("publisher: %s", fo_peer_error(pub->peer));
    pub->rtx = has_pt(fo_peer_answer_media(pub->peer, "video"), FO_PEER_PT_RTX);
    if (pub->rtx != pub_rtx) die("publisher answer: RTX %s", pub->rtx ? "kept though not offered" : "dropped");
    pub->v_seq0 = 65000; /* wraps during the run */
    pub->a_seq = 300;
    pub->rtx_seq = 7;
    pub->v_ts0 = 123456;
    g_pub = pub;

    for (int k = 0; k < P_N; k++) {
        player_t *pl = &pls[k];
        pl->kind = (player_kind_t)k;
        fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun,
                            .name = player_names[k], .no_rtx = k == P_PLAIN || k == P_AUDIO,
                            .audio_nack = k == P_AUDIO};
        if (!(pl->peer = fo_peer_new(&o))) die("fo_peer_new");
        fo_peer_set_recv_cb(pl->peer, player_rx, pl);
        fo_peer_set_filter(pl->peer, player_filter, pl);
        if (fo_peer_connect(pl->peer, g_srv.api, stream, 10000))
            die("%s: %s", player_names[k], fo_peer_error(pl->peer));
        const fo_peer_media_t *vm = fo_peer_answer_media(pl->peer, "video");
        const fo_peer_media_t *am = fo_peer_answer_media(pl->peer, "audio");
        if (!vm || !am) die("%s: answer without audio or video", player_names[k]);
        pl->ssrc = vm->ssrc;
        pl->rtx_ssrc = vm->rtx_ssrc;
        pl->a_ssrc = am->ssrc;
        pl->rtx_pt = has_pt(vm, FO_PEER_PT_RTX) ? FO_PEER_PT_RTX : 0;
        if (!pl->rtx_pt != o.no_rtx || (pl->rtx_pt && !pl->rtx_ssrc))
            die("%s: answer RTX PT %u SSRC %08x", player_names[k], pl->rtx_pt, pl->rtx_ssrc);
        bool audio_nack = strstr(fo_peer_answer_sdp(pl->peer), "a=rtcp-fb:111 nack") != NULL;
        if (audio_nack != o.audio_nack)
            die("%s: answer %s NACK for Opus", player_names[k], audio_nack ? "has" : "lacks");
    }

    int64_t t0 = fo_peer_now_ms(), next_greedy = t0 + GREEDY_FROM_MS;
    uint64_t greedy_nacks = 0;
    for (;;) {
        int64_t now = fo_peer_now_ms(), t = now - t0;
        if (t >= MEDIA_MS + DRAIN_MS) break;
        if (t < MEDIA_MS) {
            while ((int64_t)pub->n_audio * 20 <= t) send_audio(pub);
            while ((int64_t)pub->frame * 1000 / VIDEO_FPS <= t) send_video_frame(pub);
        }
        player_t *g = &pls[P_GREEDY];
        if (now >= next_greedy && t < GREEDY_FROM_MS + GREEDY_MS && g->have_last) {
            player_nack(g, g->ssrc, (uint16_t)(g->last_seq - 16), 0xffff);
            greedy_nacks++;
            next_greedy = now + GREEDY_EVERY_MS;
        }
        struct pollfd pfd[1 + P_N];
        pfd[0] = (struct pollfd){.fd = fo_peer_fd(pub->peer), .events = POLLIN};
        for (int k = 0; k < P_N; k++) pfd[1 + k] = (struct pollfd){.fd = fo_peer_fd(pls[k].peer), .events = POLLIN};
        poll(pfd, 1 + P_N, 2);
        if (fo_peer_process(pub->peer) != FO_PEER_CONNECTED) die("publisher: %s", fo_peer_error(pub->peer));
        for (int k = 0; k < P_N; k++)
            if (fo_peer_process(pls[k].peer) != FO_PEER_CONNECTED)
                die("%s: %s", player_names[k], fo_peer_error(pls[k].peer));
    }

    /* (a) every withheld packet was NACKed and resent; every player has the whole sequence. */
    for (uint32_t i = 0; i < pub->n_video; i++)
        if (pub->v[i].withheld && !pub->v[i].resent)
            die("publisher: withheld packet %u (seq %u) was never NACKed (RTCP received %llu, "
                "dropped %llu)", i, (uint16_t)(pub->v_seq0 + i),
                (unsigned long long)fo_peer_stats(pub->peer)->rtcp_recv,
                (unsigned long long)fo_peer_stats(pub->peer)->dropped);
    for (int k = 0; k < P_N; k++) {
        player_t *pl = &pls[k];
        if (pl->bad) die("%s: %llu bad packets, first: %s", player_names[k], (unsigned long long)pl->bad, pl->err);
        for (uint32_t i = 0; i < pub->n_video; i++)
            if (!pl->got[i]) die("%s: video packet %u of %u never arrived (withheld: %d)", player_names[k], i, pub->n_video, pub->v[i].withheld);
        if (k == P_AUDIO)
            for (uint32_t i = pl->first_a; i < pub->n_audio; i++)
                if (!pl->a_got[i]) die("%s: audio packet %u of %u never arrived", player_names[k], i, pub->n_audio);
    }
    /* (b) NACKed packets came back: as RTX (OSN checked in player_rx) or plain. */
    player_t *pr = &pls[P_RTX], *pp = &pls[P_PLAIN], *pa = &pls[P_AUDIO], *pg = &pls[P_GREEDY];
    if (pr->asked < 10 || pr->rtx < pr->asked || pr->plain_repair)
        die("rtx player: lost %llu, RTX %llu, plain repairs %llu", (unsigned long long)pr->asked,
            (unsigned long long)pr->rtx, (unsigned long long)pr->plain_repair);
    if (pp->asked < 10 || pp->plain_repair < pp->asked || pp->rtx)
        die("plain player: lost %llu, plain repairs %llu, RTX %llu", (unsigned long long)pp->asked,
            (unsigned long long)pp->plain_repair, (unsigned long long)pp->rtx);
    if (pa->audio_asked < 10 || pa->audio_repair < pa->audio_asked)
        die("audio-nack player: lost %llu audio packets, got %llu back",
            (unsigned long long)pa->audio_asked, (unsigned long long)pa->audio_repair);
    /* (c) the greedy player is held to its budget, and the refusals are counted. */
    long long limited = api_track_field(fo_peer_session_id(pg->peer), "video", "rtx_limited");
    long long resent = api_track_field(fo_peer_session_id(pg->peer), "video", "retransmits");
    if (pg->rtx > GREEDY_MAX_RTX || pg->rtx < 10 || (uint64_t)resent != pg->rtx ||
        limited < (long long)(greedy_nacks * 17 - pg->rtx) / 2)
        die("greedy player: %llu NACKs x 17 -> %llu RTX received, server says resent %lld, "
            "limited %lld (max %d)",
            (unsigned long long)greedy_nacks, (unsigned long long)pg->rtx, resent, limited,
            GREEDY_MAX_RTX);
    long long pub_rtx_rx = api_track_field(fo_peer_session_id(pub->peer), "video", "retransmits");
    if (pub_rtx && pub_rtx_rx < (long long)pub->resent)
        die("server counted %lld RTX from the publisher, %llu sent", pub_rtx_rx, (unsigned long long)pub->resent);

    snprintf(summary, cap,
             "publisher %s: %u video packets, withheld %llu, NACK packets %llu naming %llu seqs, "
             "resent %llu; players complete; rtx player lost %llu got %llu RTX; plain player "
             "lost %llu got %llu back; audio player lost %llu got %llu back; greedy %llu NACKs "
             "-> %llu RTX, %lld limited",
             pub_rtx ? "RTX" : "plain", pub->n_video, (unsigned long long)pub->withheld,
             (unsigned long long)pub->nack_pkts, (unsigned long long)pub->nacked_seqs,
             (unsigned long long)pub->resent, (unsigned long long)pr->asked,
             (unsigned long long)pr->rtx, (unsigned long long)pp->asked,
             (unsigned long long)pp->plain_repair, (unsigned long long)pa->audio_asked,
             (unsigned long long)pa->audio_repair, (unsigned long long)greedy_nacks,
             (unsigned long long)pg->rtx, limited);
    for (int k = 0; k < P_N; k++) fo_peer_free(pls[k].peer);
    fo_peer_free(pub->peer);
    free(pls);
    free(pub);
}

/* (d): a late player's view of the replay. */
typedef struct {
    fo_peer_t *peer;
    uint32_t ssrc, rtx_ssrc;
    int seen;             /* video packets seen on the wire (before SRTP) */
    uint16_t lost_seq;    /* the one dropped and NACKed */
    bool lost, repaired;
    uint32_t held;        /* the publisher's packet still missing on the server at the join */
    bool held_seen;
    uint32_t replayed;    /* packets received before the held one was released */
    bool have_ts[64];
    uint32_t out_ts[64];  /* by source frame */
    uint64_t bad;
    char err[200];
} late_t;

static bool late_filter(void *user, fo_peer_t *peer, const uint8_t *pkt, size_t len)
{
    (void)peer;
    late_t *l = user;
    if (len < 12 || (pkt[1] >= 192 && pkt[1] <= 223)) return true;
    uint32_t ssrc = (uint32_t)pkt[8] << 24 | (uint32_t)pkt[9] << 16 | (uint32_t)pkt[10] << 8 | pkt[11];
    if (ssrc != l->ssrc || l->seen++ != 1) return true;
    /* the second packet of the replay: part of the keyframe (4 packets) */
    l->lost = true;
    l->lost_seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
    uint8_t buf[64];
    int n = fo_rtcp_build_nack(buf, sizeof buf, 0x4321, l->ssrc, &l->lost_seq, 1);
    if (n <= 0 || fo_peer_send_rtcp(l->peer, buf, (size_t)n)) die("late player: sending NACK");
    return false;
}

static void late_rx(void *user, fo_peer_t *peer, const uint8_t *pkt, size_t len, bool is_rtcp)
{
    (void)peer;
    late_t *l = user;
    fo_rtp_view_t v;
    if (is_rtcp || fo_rtp_parse(pkt, len, &v) || v.payload_len < 4) return;
    if (v.ssrc != l->ssrc && v.ssrc != l->rtx_ssrc) return;
    uint32_t c = get_counter(v.payload + v.payload_len);
    if (c >= g_pub->n_video) return;
    const uint8_t *h = g_pub->v[c].pkt;
    uint32_t src_ts = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];
    uint32_t f = (src_ts - g_pub->v_ts0) / (90000 / VIDEO_FPS);
    if (f >= 64) return;
    uint16_t seq = v.ssrc == l->rtx_ssrc ? (uint16_t)(v.payload[0] << 8 | v.payload[1]) : v.seq;
    if (l->lost && seq == l->lost_seq) l->repaired = true;
    if (c == l->held) l->held_seen = true;
    if (g_pub->hold) l->replayed++;
    if (!l->have_ts[f]) {
        l->have_ts[f] = true;
        l->out_ts[f] = v.ts;
    } else if (l->out_ts[f] != v.ts && !l->bad++) {
        snprintf(l->err, sizeof l->err, "%s of seq %u (frame %u) has ts %u, the frame's others %u",
                 v.ssrc == l->rtx_ssrc ? "RTX" : "packet", seq, f, v.ts, l->out_ts[f]);
    }
}

static void run_late(fo_dtls_ctx_t *dctx, fo_stun_t *stun, char *summary, size_t cap)
{
    char stream[64];
    snprintf(stream, sizeof stream, "live/nack-late-%d", (int)getpid());
    pub_t *pub = calloc(1, sizeof *pub);
    late_t *l = calloc(1, sizeof *l);
    if (!pub || !l) die("out of memory");
    fo_peer_opts_t po = {.role = FO_PEER_PUBLISH, .dtls = dctx, .stun = stun, .name = "pub-late"};
    if (!(pub->peer = fo_peer_new(&po))) die("fo_peer_new");
    fo_peer_set_recv_cb(pub->peer, pub_rx, pub);
    if (fo_peer_connect(pub->peer, g_srv.api, stream, 10000)) die("publisher: %s", fo_peer_error(pub->peer));
    pub->rtx = true;
    pub->v_seq0 = 100;
    pub->v_ts0 = 5000;
    g_pub = pub;
    /* A keyframe and 9 frames, which the server caches for instant start; it lacks one packet
     * of them (withheld: the 12th, in frame 4) until the late player has had the replay. */
    pub->hold = true;
    while (pub->frame < 10) {
        send_video_frame(pub);
        fo_peer_process(pub->peer);
        usleep(5000);
    }
    for (uint32_t i = 0; i < pub->n_video; i++)
        if (pub->v[i].withheld) l->held = i;
    if (pub->withheld != 1) die("late: expected one withheld packet, not %llu", (unsigned long long)pub->withheld);
    for (int i = 0; i < 20; i++) { /* let the server take them in */
        fo_peer_process(pub->peer);
        usleep(5000);
    }
    fo_peer_opts_t o = {.role = FO_PEER_PLAY, .dtls = dctx, .stun = stun, .name = "late"};
    if (!(l->peer = fo_peer_new(&o))) die("fo_peer_new");
    fo_peer_set_recv_cb(l->peer, late_rx, l);
    fo_peer_set_filter(l->peer, late_filter, l);
    const fo_peer_media_t *vm;
    if (fo_peer_signal(l->peer, g_srv.api, stream, 5000) || !(vm = fo_peer_answer_media(l->peer, "video")))
        die("late player: %s", fo_peer_error(l->peer));
    l->ssrc = vm->ssrc;
    l->rtx_ssrc = vm->rtx_ssrc;
    int64_t end = fo_peer_now_ms() + 10000;
    while (!(l->repaired && l->held_seen) && fo_peer_now_ms() < end) {
        struct pollfd pfd[2] = {{.fd = fo_peer_fd(pub->peer), .events = POLLIN},
                                {.fd = fo_peer_fd(l->peer), .events = POLLIN}};
        poll(pfd, 2, 5);
        fo_peer_process(pub->peer);
        fo_peer_state_t st = fo_peer_process(l->peer);
        if (st == FO_PEER_FAILED) die("late player: %s", fo_peer_error(l->peer));
        if (pub->hold && l->replayed >= 20) { /* the replay is out (21 packets): repair it now */
            pub->hold = false;
            pub_resend(pub, &pub->v[l->held]);
        }
    }
    if (!l->lost || !l->repaired)
        die("late player: %s (saw %d video packets)", l->lost ? "the NACKed replayed packet never came back" : "lost nothing", l->seen);
    if (!l->held_seen)
        die("late player: the packet the server lacked at the join never reached it (%u packets before its release)", l->replayed);
    if (l->bad) die("late player: %llu packets off their frame's timestamp, first: %s", (unsigned long long)l->bad, l->err);
    /* squeezed: frames keep their order, 9 frames (0.3 s) span well under a frame's distance */
    for (int f = 1; f < 10; f++)
        if (!l->have_ts[f - 1] || !l->have_ts[f] || (int32_t)(l->out_ts[f] - l->out_ts[f - 1]) <= 0)
            die("late player: replayed frame %d's timestamp does not follow frame %d's", f, f - 1);
    if (l->out_ts[9] - l->out_ts[0] >= 90000 / VIDEO_FPS)
        die("late player: replay not squeezed (frame 0 ts %u, frame 9 ts %u)", l->out_ts[0], l->out_ts[9]);
    /* (e) packets withheld from now on stay lost: the server gives them up after a second */
    uint64_t plis0 = pub->plis;
    pub->hold = true;
    uint64_t withheld0 = pub->withheld;
    end = fo_peer_now_ms() + 4000;
    while (pub->plis == plis0 && fo_peer_now_ms() < end) {
        if (pub->frame < KEYFRAME_EVERY - 1) send_video_frame(pub); /* no keyframe of its own */
        for (int i = 0; i < 7; i++) {
            fo_peer_process(pub->peer);
            fo_peer_process(l->peer);
            usleep(5000);
        }
    }
    if (pub->withheld == withheld0) die("(e): the publisher withheld nothing");
    if (pub->plis == plis0) die("(e): no keyframe request after the server gave a packet up");
    long long unrecovered = api_track_field(fo_peer_session_id(pub->peer), "video", "unrecovered");
    if (unrecovered < 1) die("(e): the publisher's video track shows %lld unrecovered", unrecovered);
    snprintf(summary, cap, "late player: %d replayed/live packets, replayed keyframe packet seq %u NACKed and "
             "retransmitted, and frame 4's packet repaired after the replay forwarded, each with its "
             "frame's squeezed timestamp; %llu packets never repaired -> PLI, %lld unrecovered",
             l->seen, l->lost_seq, (unsigned long long)(pub->withheld - withheld0), unrecovered);
    fo_peer_free(l->peer);
    fo_peer_free(pub->peer);
    free(l);
    free(pub);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fanout binary> <source dir>\n", argv[0]);
        return 2;
    }
    /* Players join before the media: no cached keyframe to fast-forward through. */
    setenv("FANOUT_RTC_INSTANT_START", "0", 1);
    setenv("FANOUT_RTC_MAX_BITRATE_KBPS", MAX_KBPS, 1);
    fo_testsrv_start(&g_srv, "it_nack", argv[1], argv[2], NULL, 90);
    fo_log_set_level(getenv("IT_DEBUG") ? FO_LOG_DEBUG : FO_LOG_WARN);
    if (fo_srtp_global_init()) die("fo_srtp_global_init");
    fo_dtls_ctx_t *dctx = fo_dtls_ctx_new(NULL, NULL);
    fo_stun_t *stun = fo_stun_new();
    if (!dctx || !stun) die("DTLS context or STUN agent");
    char s1[1024], s2[1024];
    run(dctx, stun, true, s1, sizeof s1);
    run(dctx, stun, false, s2, sizeof s2);
    fo_testsrv_stop_clean(&g_srv);
    /* (d) needs instant start: a second server */
    setenv("FANOUT_RTC_INSTANT_START", "1", 1);
    fo_testsrv_start(&g_srv, "it_nack-late", argv[1], argv[2], NULL, 90);
    char s3[512];
    run_late(dctx, stun, s3, sizeof s3);
    fo_testsrv_stop_clean(&g_srv);
    printf("it_nack: OK\n  %s\n  %s\n  %s\n", s1, s2, s3);
    fo_stun_free(stun);
    fo_dtls_ctx_free(dctx);
    return 0;
}

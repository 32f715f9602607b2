/* SPDX-License-Identifier: MIT */
/* SDP (RFC 8866) offer parsing, codec/extension negotiation for the two roles (we receive from
 * a publisher, we send to a player) and answer building (JSEP, RFC 8829) for an ICE-lite,
 * BUNDLE, rtcp-mux, DTLS-passive server. Pure: libc only; never allocates (the caller owns every
 * struct, which are large: allocate them, do not put them on a small stack). Any thread. */
#ifndef FO_SDP_H
#define FO_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fanout/media.h"

#define FO_SDP_MAX_MEDIA 8
#define FO_SDP_MAX_CODECS 32
#define FO_SDP_MAX_EXT 16
#define FO_SDP_MAX_SSRCS 8
#define FO_SDP_MAX_CANDIDATES 8
#define FO_SDP_MAX_TCP_PORTS 2 /* ICE-TCP ports advertised (the media port, the HTTPS port) */
#define FO_SDP_MAX_RIDS 3    /* simulcast layers we take (more are not answered) */
#define FO_SDP_RID_LEN 17    /* RFC 8851 rid-id, at most 16 characters here */
#define FO_SDP_MAX_LEN 65536 /* offers longer than this are refused */

typedef enum { FO_DIR_SENDRECV = 0, FO_DIR_SENDONLY, FO_DIR_RECVONLY, FO_DIR_INACTIVE } fo_dir_t;
typedef enum { FO_SETUP_NONE = 0, FO_SETUP_ACTPASS, FO_SETUP_ACTIVE, FO_SETUP_PASSIVE } fo_setup_t;

/* rtcp-fb bits */
enum { FO_FB_NACK = 1, FO_FB_PLI = 2, FO_FB_FIR = 4, FO_FB_REMB = 8, FO_FB_TWCC = 16 };

typedef struct {
    uint8_t pt;
    fo_codec_t codec;
    uint32_t clock;
    uint8_t channels;             /* 0 when not given */
    char name[24];                /* encoding name as written in the offer */
    char fmtp[256];               /* the a=fmtp parameters, verbatim ("" if none) */
    uint8_t fb;                   /* FO_FB_* offered for this payload type */
    uint8_t apt;                  /* RTX: associated payload type (0 if none) */
    uint32_t h264_profile_level;  /* H.264 profile-level-id (0x42e01f ...), 0 if absent */
    uint8_t h264_pmode;           /* H.264 packetization-mode */
} fo_sdp_codec_t;

typedef struct {
    uint8_t id;
    char uri[128];
    fo_dir_t dir;         /* the offer's "/direction" (offerer's view); SENDRECV when absent */
} fo_sdp_ext_t;

typedef struct {
    uint32_t ssrc;
    char cname[64];
} fo_sdp_ssrc_t;

/* An ICE candidate we can use: UDP, component 1, an IP literal (mDNS names are skipped). */
typedef struct {
    char addr[46];
    uint16_t port;
    uint32_t priority;
} fo_sdp_cand_t;

typedef struct {
    fo_kind_t kind;
    char media[16];       /* "audio", "video", "application", ... */
    uint16_t port;        /* 0 = the offerer disabled it */
    char proto[40];
    char mid[64];
    fo_dir_t dir;
    bool rtcp_mux;
    bool rtcp_rsize;
    bool bundled;         /* its mid is in the offer's BUNDLE group */
    bool bundle_only;     /* a=bundle-only (RFC 8843): offered with port 0 but live in the
                             BUNDLE group; the parser gives it port 9 and the group's ICE and
                             DTLS parameters, so the rest of the code sees a live m-line */
    char ice_ufrag[64];   /* media-level, else the session's */
    char ice_pwd[128];
    char fp_alg[16];      /* media-level, else the session's */
    char fp[160];
    fo_setup_t setup;
    char msid[128];       /* "stream track" from a=msid, or from a=ssrc msid */
    fo_sdp_codec_t codecs[FO_SDP_MAX_CODECS];
    size_t n_codecs;
    fo_sdp_ext_t ext[FO_SDP_MAX_EXT];
    size_t n_ext;
    fo_sdp_ssrc_t ssrcs[FO_SDP_MAX_SSRCS];
    size_t n_ssrcs;
    uint32_t fid[FO_SDP_MAX_SSRCS][2]; /* a=ssrc-group:FID media rtx */
    size_t n_fid;
    char fmt_app[64];     /* m=application format list, verbatim */
    /* Simulcast (RFC 8853/8851): the offerer's a=rid:<id> send lines (ids of 1-16 characters
     * from [A-Za-z0-9_-]; others are ignored), and the first alternative of each stream of
     * a=simulcast:send (paused "~" dropped; Firefox's older "rid=" prefix accepted). */
    char rids[FO_SDP_MAX_RIDS * 2][FO_SDP_RID_LEN];
    size_t n_rids;
    char sim[FO_SDP_MAX_RIDS * 2][FO_SDP_RID_LEN];
    size_t n_sim;
    /* Receiving simulcast (an offer from a relay that takes every layer, RFC 8853): the
     * a=simulcast:recv streams that have an a=rid:<id> recv line, in order. */
    char recv_rids[FO_SDP_MAX_RIDS][FO_SDP_RID_LEN];
    size_t n_recv_rids;
    /* a=candidate lines (of an answer, for our client role): usable ones, in SDP order; other
     * or malformed candidate lines are ignored, never an error */
    fo_sdp_cand_t cands[FO_SDP_MAX_CANDIDATES];
    size_t n_cands;
} fo_sdp_media_t;

typedef struct {
    fo_sdp_media_t media[FO_SDP_MAX_MEDIA];
    size_t n_media;
    bool ice_lite;
    int err_line;         /* when parsing failed on a line: its number (1-based), else 0 */
} fo_sdp_t;

/* Parses an offer. Accepts CRLF or LF line ends. Returns 0, or FO_EINVAL / FO_ETOOBIG with a
 * static reason in *why (e.g. "no ice-ufrag", "bad rtpmap"; why may be NULL) and, for an error
 * found on a given line, its number in out->err_line. Every media must end up with ice
 * credentials and a fingerprint (session- or media-level) or parsing fails; media the offerer
 * disabled (port 0) are exempt. Never reads past text[len) (no NUL needed), never writes to it.
 * Limits: more than FO_SDP_MAX_MEDIA m= lines is FO_ETOOBIG; payload types, extmaps, ssrcs and
 * FID groups beyond their maxima are ignored (the first ones are kept); long values are
 * truncated to their fields. Lines with control characters (other than tab) are refused, so
 * every string copied out is safe to write back into an answer. */
int fo_sdp_parse(const char *text, size_t len, fo_sdp_t *out, const char **why);

/* Finds a payload type in a media; NULL if absent. */
const fo_sdp_codec_t *fo_sdp_codec_by_pt(const fo_sdp_media_t *m, uint8_t pt);
/* The RTX payload type bound to `pt` (apt=pt), 0 if none. */
uint8_t fo_sdp_rtx_for(const fo_sdp_media_t *m, uint8_t pt);
/* Whether two entries describe the same stream format: same codec and clock, and for H.264 the
 * same packetization-mode and a compatible profile (profile_idc and constraint flags, classed as
 * RFC 6184 does, so 42e01f and 42c01f are both constrained baseline; the level does not matter
 * as the sender decides it); for VP9 the same profile-id, for AV1 the same profile (absent = 0);
 * for codecs outside fo_codec_t's list the same encoding name. */
bool fo_sdp_codec_compatible(const fo_sdp_codec_t *a, const fo_sdp_codec_t *b);

/* The part of a codec entry that decides compatibility, small enough to keep for each player
 * (fo_sdp_codec_t carries the fmtp text: 300 bytes). */
typedef struct {
    uint8_t pt;
    uint8_t h264_pmode;
    fo_codec_t codec;
    uint32_t clock;
    uint32_t profile;             /* H.264: its profile class; VP9: profile-id; AV1: profile */
    char name[24];                /* compared for codecs outside fo_codec_t's list */
} fo_sdp_format_t;
void fo_sdp_format_of(const fo_sdp_codec_t *c, fo_sdp_format_t *out);
/* fo_sdp_codec_compatible's rule, on formats. */
bool fo_sdp_format_compatible(const fo_sdp_format_t *a, const fo_sdp_format_t *b);

typedef enum { FO_SDP_ROLE_PUBLISH = 0, FO_SDP_ROLE_PLAY = 1 } fo_sdp_role_t;

/* What we answer for one offered m-line. */
typedef struct {
    bool accept;                       /* false: port 0, rejected */
    fo_dir_t dir;                      /* our direction */
    uint8_t pts[FO_SDP_MAX_CODECS];    /* accepted payload types (from the offer), in order;
                                          RTX entries follow the codec they repair */
    size_t n_pts;
    uint8_t fb_mask;                   /* FO_FB_* we keep (intersected with each offer's) */
    uint8_t ext_ids[FO_SDP_MAX_EXT];   /* offered extension ids we keep */
    size_t n_ext;
    /* When we send (play): the SSRCs we will use and the msid we signal. */
    uint32_t ssrc;
    uint32_t rtx_ssrc;                 /* 0: no RTX */
    char cname[32];
    char msid_stream[64];
    char msid_track[64];
    /* Publish with simulcast: the rids we receive, in the offer's a=simulcast order (answered as
     * a=rid:<id> recv and a=simulcast:recv). A player that takes every layer (a relay): the rids
     * we send them on, one per publisher layer (answered as a=rid:<id> send and
     * a=simulcast:send, with no a=ssrc for that media). 0 without simulcast. */
    char rids[FO_SDP_MAX_RIDS][FO_SDP_RID_LEN];
    size_t n_rids;
} fo_sdp_answer_media_t;

/* Chooses codecs and extensions for media `m` in `role`. Zeroes *out first: when we send, the
 * caller fills ssrc, rtx_ssrc, cname and msid_* afterwards.
 * prefs: the video codecs we allow, in our order of preference (audio is always Opus).
 * ext_uris: the header-extension URIs we implement for this role (NULL-terminated list).
 * Publish: audio takes Opus; video takes the first codec of `prefs` the offer has (for H.264
 * packetization-mode=1, preferring profile 42e01f), with its RTX; dir recvonly.
 * Publish video with a=simulcast:send and matching a=rid lines: up to FO_SDP_MAX_RIDS rids
 * in out->rids (only when ext_uris has the rtp-stream-id extension and the offer maps it).
 * Play: every offered codec in `prefs` (all H.264 pm=1 variants), each with its RTX; dir
 * sendonly. Media the offer disabled, m=application, media whose offered direction is of no use
 * to the role (a publisher's recvonly/inactive, a player's sendonly/inactive) and media with
 * nothing usable are rejected (accept = false). fb_mask is NACK|PLI|FIR|REMB, plus TWCC when the
 * transport-wide-cc extension is kept. Returns 0, or FO_ECODEC when the media is rejected for
 * lack of a codec. */
int fo_sdp_negotiate(const fo_sdp_media_t *m, fo_sdp_role_t role, const fo_codec_t *prefs,
                     size_t n_prefs, const char *const *ext_uris, fo_sdp_answer_media_t *out);

/* Our side of the answer. */
typedef struct {
    const char *ice_ufrag;
    const char *ice_pwd;
    const char *fingerprint;                 /* sha-256 "AB:CD:..." */
    const char *candidates[FO_SDP_MAX_CANDIDATES]; /* addresses (IPv4/IPv6 literals) */
    size_t n_candidates;
    uint16_t port;                           /* the shared UDP port; 0: no UDP candidates */
    uint16_t tcp_ports[FO_SDP_MAX_TCP_PORTS]; /* ICE-TCP passive ports, in order of preference */
    size_t n_tcp_ports;
    uint64_t session_id;                     /* o= line (top bit dropped: < 2^63) */
    fo_sdp_answer_media_t media[FO_SDP_MAX_MEDIA]; /* one per offered media, same order */
} fo_sdp_answer_t;

/* Writes the answer (CRLF lines) into out[0..cap), NUL-terminated: a=ice-lite, BUNDLE of the
 * accepted mids, per media: mid, direction, rtcp-mux, rtcp-rsize (when offered), ice
 * credentials, fingerprint, setup:passive, host candidates on every accepted media (every
 * address on the UDP port, then every address on each TCP port as an RFC 6544 passive
 * candidate with a lower priority, so that a browser takes UDP when it works), rtpmap/
 * fmtp/rtcp-fb of the accepted payload types, extmaps kept, and for sending media a=msid,
 * a=ssrc (cname, msid) and ssrc-group:FID when RTX is used. Rejected media become
 * "m=<kind> 0 <proto> <first format>" with a=mid and a=inactive, outside BUNDLE. Empty cname
 * becomes "fanout", empty msid_stream "-", empty msid_track "fanout-<mid>".
 * Returns the length, FO_ETOOBIG when cap is too small, FO_EINVAL when our own strings are not
 * single tokens or a candidate is not an IP literal. */
int fo_sdp_build_answer(const fo_sdp_t *offer, const fo_sdp_answer_t *ans, char *out, size_t cap);

/* In an answer for media `m`, moves the first accepted payload type of a format compatible
 * with `want` (and its RTX) to the front: a player's answer then names the codec its publisher
 * sends first, which a relay pulling the stream takes as the stream's codec. No-op when none
 * is compatible. */
void fo_sdp_answer_prefer(const fo_sdp_media_t *m, fo_sdp_answer_media_t *am,
                          const fo_sdp_format_t *want);

/* ---- offers (our client role: a relay pulling over WHEP or pushing over WHIP) ---- */

/* One m-line of an offer. */
typedef struct {
    fo_kind_t kind;
    fo_dir_t dir;                    /* recvonly to pull, sendonly to push */
    const char *mid;
    const fo_sdp_codec_t *codecs;    /* offered in this order: rtpmap, fmtp, rtcp-fb (c->fb) */
    size_t n_codecs;
    const char *const *ext_uris;     /* NULL-terminated; extension ids 1, 2, ... in order */
    /* receiving simulcast (a relay pulling from a server that forwards every layer): the rids we
     * ask for (a=rid:<id> recv, a=simulcast:recv); the rtp-stream-id extension must be offered */
    const char *const *recv_rids;
    size_t n_recv_rids;
    /* sending (push): our SSRCs and msid */
    uint32_t ssrc, rtx_ssrc;
    const char *cname, *msid_stream, *msid_track;
} fo_sdp_offer_media_t;

typedef struct {
    const char *ice_ufrag;
    const char *ice_pwd;
    const char *fingerprint;         /* sha-256 "AB:CD:..." */
    uint64_t session_id;
    fo_sdp_offer_media_t media[FO_SDP_MAX_MEDIA];
    size_t n_media;
} fo_sdp_offer_t;

/* Writes an offer (CRLF lines, NUL-terminated): BUNDLE of every mid, per media rtcp-mux,
 * rtcp-rsize, our ICE credentials, fingerprint, a=setup:actpass, the codecs and extensions, and
 * for sending media a=msid, a=ssrc and ssrc-group:FID. No candidates: the answerer learns our
 * address from our checks (peer-reflexive), as it does for browsers that do not trickle.
 * Returns the length, FO_ETOOBIG, or FO_EINVAL (a string that is not one token). */
int fo_sdp_build_offer(const fo_sdp_offer_t *o, char *out, size_t cap);

/* The codecs fanout can receive for `kind`, as an offer lists them: Opus (111) for audio; for
 * video each codec of `prefs` in order, H.264 as packetization-mode=1 in five profile classes,
 * VP9 profiles 0 and 2, AV1, each followed by its RTX; every video entry with nack, nack pli,
 * ccm fir, goog-remb and transport-cc feedback. Writes up to max entries; returns the count. */
size_t fo_sdp_receive_codecs(fo_kind_t kind, const fo_codec_t *prefs, size_t n_prefs,
                             fo_sdp_codec_t *out, size_t max);

#endif

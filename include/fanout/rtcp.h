/* SPDX-License-Identifier: MIT */
/* RTCP (RFC 3550, 4585, 5104, REMB) compound-packet parsing and building: SR, RR, SDES, BYE,
 * generic NACK, PLI, FIR, REMB, TWCC (raw FCI). Pure: libc only, never allocates, never modifies
 * its input. Any thread. */
#ifndef FO_RTCP_H
#define FO_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    FO_RTCP_SR = 200,
    FO_RTCP_RR = 201,
    FO_RTCP_SDES = 202,
    FO_RTCP_BYE = 203,
    FO_RTCP_APP = 204,
    FO_RTCP_RTPFB = 205, /* fmt 1 NACK, 15 TWCC */
    FO_RTCP_PSFB = 206,  /* fmt 1 PLI, 4 FIR, 15 AFB (REMB) */
    FO_RTCP_XR = 207,
};
enum { FO_RTCP_FMT_NACK = 1, FO_RTCP_FMT_TWCC = 15, FO_RTCP_FMT_PLI = 1, FO_RTCP_FMT_FIR = 4,
       FO_RTCP_FMT_AFB = 15 };

typedef struct {
    uint32_t ssrc;          /* source this block reports on */
    uint8_t fraction_lost;
    int32_t cumulative_lost; /* 24-bit signed */
    uint32_t highest_seq;    /* extended highest sequence number received */
    uint32_t jitter;
    uint32_t lsr;
    uint32_t dlsr;
} fo_rtcp_report_t;

/* One packet of a compound, as a view into the caller's buffer. */
typedef struct {
    uint8_t pt;
    uint8_t count;           /* RC, SC or FMT field */
    uint32_t sender_ssrc;    /* SR/RR/feedback sender; first SSRC of SDES/BYE; 0 if none */
    uint32_t media_ssrc;     /* RTPFB/PSFB media source; 0 otherwise */
    /* SR only */
    uint64_t ntp;
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
    const uint8_t *reports;  /* SR/RR report blocks (24 bytes each), `count` of them */
    const uint8_t *fci;      /* RTPFB/PSFB feedback control information */
    size_t fci_len;
    const uint8_t *raw;      /* the whole packet, header included */
    size_t raw_len;
} fo_rtcp_pkt_t;

/* Parses a compound packet into at most `max` entries; *n is set to how many. Every packet's
 * length must fit; the first must have version 2. Returns 0, FO_EINVAL (malformed: nothing
 * usable) or FO_ETOOBIG (more than `max`; the first `max` are filled). A malformed packet after
 * a good one ends the walk and the good prefix is returned with 0, as libwebrtc does. */
int fo_rtcp_parse(const uint8_t *buf, size_t len, fo_rtcp_pkt_t *pkts, size_t max, size_t *n);

/* Report block i (0..count-1) of an SR/RR. Returns 0 or FO_EINVAL. */
int fo_rtcp_report_get(const fo_rtcp_pkt_t *p, unsigned i, fo_rtcp_report_t *out);

/* Generic NACK (RTPFB fmt 1): expands every (PID, BLP) pair into sequence numbers, in order,
 * writing at most `max`. Returns how many were written. */
size_t fo_rtcp_nack_seqs(const fo_rtcp_pkt_t *p, uint16_t *seqs, size_t max);

/* FIR (PSFB fmt 4) entry i: the SSRC asked for and its command sequence number. 0 or FO_EINVAL. */
int fo_rtcp_fir_get(const fo_rtcp_pkt_t *p, unsigned i, uint32_t *ssrc, uint8_t *seq_nr);

/* REMB (PSFB fmt 15, "REMB"): bitrate in bps and the SSRCs it applies to. 0 or FO_EINVAL. */
int fo_rtcp_remb_get(const fo_rtcp_pkt_t *p, uint64_t *bps, uint32_t *ssrcs, size_t max,
                     size_t *n);

/* Builders: write one packet at buf[0..cap) and return its length, or FO_ETOOBIG.
 * They can be concatenated to make a compound packet. */
int fo_rtcp_build_sr(uint8_t *buf, size_t cap, uint32_t ssrc, uint64_t ntp, uint32_t rtp_ts,
                     uint32_t packets, uint32_t octets, const fo_rtcp_report_t *r, size_t n);
int fo_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc, const fo_rtcp_report_t *r,
                     size_t n);
int fo_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname);
int fo_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs, size_t n);
int fo_rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender, uint32_t media);
int fo_rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender, uint32_t media, uint8_t seq_nr);
/* Packs `seqs` (any order, duplicates allowed) into as few (PID, BLP) pairs as possible. */
int fo_rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender, uint32_t media,
                       const uint16_t *seqs, size_t n);
int fo_rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender, uint64_t bps,
                       const uint32_t *ssrcs, size_t n);

/* NTP time (64-bit fixed point) from a CLOCK_REALTIME value in microseconds since 1970. */
uint64_t fo_ntp_from_unix_us(uint64_t us);

#endif

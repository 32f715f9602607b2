/* SPDX-License-Identifier: MIT */
/* rtc.candidate expanded into IP addresses: "*" through getifaddrs (IPv4, then global IPv6),
 * names through getaddrinfo (IPv4 only, once, at start-up), literals as they are ("[v6]" too). A name that does not resolve is an
 * error the operator sees at start-up, not a 500 on every offer. */
#include "fanout/candidates.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "fanout/common.h"
#include "fanout/udp.h"

int fo_candidates_is_ip(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void add(char out[][FO_CANDIDATE_LEN], size_t max, size_t *n, const char *ip)
{
    if (*n >= max) return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp(out[i], ip) == 0) return;
    snprintf(out[*n], FO_CANDIDATE_LEN, "%s", ip);
    ++*n;
}

/* An interface address "*" advertises: IPv4 (pass 0: not loopback, pass 1: loopback), then
 * global IPv6 (pass 2: not loopback, link-local, multicast or IPv4-mapped). */
static bool wanted_address(const struct ifaddrs *i, int pass, char *ip, size_t cap)
{
    if (!i->ifa_addr || !(i->ifa_flags & IFF_UP)) return false;
    if (pass < 2) {
        if (i->ifa_addr->sa_family != AF_INET || !!(i->ifa_flags & IFF_LOOPBACK) != pass) return false;
        return inet_ntop(AF_INET, &((const struct sockaddr_in *)i->ifa_addr)->sin_addr, ip, (socklen_t)cap);
    }
    if (i->ifa_addr->sa_family != AF_INET6 || (i->ifa_flags & IFF_LOOPBACK)) return false;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
    return fo_addr_v6_advertisable(a) && inet_ntop(AF_INET6, a, ip, (socklen_t)cap);
}

/* This machine's addresses that are up: IPv4 (non-loopback first), then global IPv6. */
static void add_interfaces(char out[][FO_CANDIDATE_LEN], size_t max, size_t *n)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) return;
    for (int pass = 0; pass < 3; pass++) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            char ip[INET6_ADDRSTRLEN];
            if (wanted_address(i, pass, ip, sizeof ip)) add(out, max, n, ip);
        }
    }
    freeifaddrs(ifs);
}

static int add_name(const char *name, char out[][FO_CANDIDATE_LEN], size_t max, size_t *n,
                    char *err, size_t errcap)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM}, *res = NULL;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0) {
        snprintf(err, errcap,
                 "rtc.candidate: '%s' is not an IP address and does not resolve to an IPv4 address (%s)",
                 name, gai_strerror(rc));
        return FO_EINVAL;
    }
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        char ip[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, &((struct sockaddr_in *)a->ai_addr)->sin_addr, ip, sizeof ip))
            add(out, max, n, ip);
    }
    freeaddrinfo(res);
    return 0;
}

int fo_candidates_expand(const char *spec, int resolve, char out[][FO_CANDIDATE_LEN], size_t max,
                         size_t *n, char *err, size_t errcap)
{
    char buf[512];
    char dummy[8];
    if (!err || !errcap) err = dummy, errcap = sizeof dummy;
    *n = 0;
    snprintf(buf, sizeof buf, "%s", spec ? spec : "");
    for (char *save = NULL, *tok = strtok_r(buf, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
        size_t tl = strlen(tok);
        if (tl >= 2 && tok[0] == '[' && tok[tl - 1] == ']') { /* "[2001:db8::1]" */
            tok[tl - 1] = '\0';
            tok++;
        }
        if (strcmp(tok, "*") == 0) {
            add_interfaces(out, max, n);
        } else if (fo_candidates_is_ip(tok)) {
            add(out, max, n, tok);
        } else if (!resolve) {
            snprintf(err, errcap, "rtc.candidate: '%s' is not an IP address", tok);
            return FO_EINVAL;
        } else if (add_name(tok, out, max, n, err, errcap) != 0) {
            return FO_EINVAL;
        }
    }
    if (*n == 0) add(out, max, n, "127.0.0.1");
    return 0;
}

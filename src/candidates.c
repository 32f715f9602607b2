/* SPDX-License-Identifier: MIT */
/* rtc.candidate expanded into IP addresses: "*" through getifaddrs, names through getaddrinfo
 * (IPv4 only, once, at start-up), literals as they are. A name that does not resolve is an
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

/* This machine's IPv4 addresses that are up, the non-loopback ones first. */
static void add_interfaces(char out[][FO_CANDIDATE_LEN], size_t max, size_t *n)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) return;
    for (int loopback = 0; loopback < 2; loopback++) {
        for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP)) continue;
            if (!!(i->ifa_flags & IFF_LOOPBACK) != loopback) continue;
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip, sizeof ip);
            add(out, max, n, ip);
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

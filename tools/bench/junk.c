/* SPDX-License-Identifier: MIT */
/* fanout-junk: junk for a media port (tests/integration/lib/flood.h): valid-looking STUN binding
 * requests for unknown ufrags and/or DTLS ClientHellos from addresses that passed no ICE check.
 * Stops by itself; prints {"sent":N,"replies":R,"seconds":S} on stdout (R: datagrams the
 * sources got back).
 *   fanout-junk --target 127.0.0.1:8000 --kind stun --rate 100000 --seconds 5 --sources 64 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout/log.h"
#include "flood.h"

static void usage(void)
{
    fprintf(stderr, "usage: fanout-junk --target HOST:PORT [--kind stun|dtls|mix] [--rate N/s]\n"
                    "                    [--seconds S] [--sources N] [--src IP]\n");
}

int main(int argc, char **argv)
{
    fo_flood_opts_t o = {.kind = FO_FLOOD_STUN, .rate = 50000, .seconds = 5, .sources = 64};
    char host[64] = "";
    static const struct option lo[] = {{"target", 1, 0, 't'}, {"kind", 1, 0, 'k'},
                                       {"rate", 1, 0, 'r'},   {"seconds", 1, 0, 's'},
                                       {"sources", 1, 0, 'n'}, {"src", 1, 0, 'S'},
                                       {"help", 0, 0, 'h'},   {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 't': {
            const char *colon = strrchr(optarg, ':');
            if (!colon || (size_t)(colon - optarg) >= sizeof host) return usage(), 2;
            memcpy(host, optarg, (size_t)(colon - optarg));
            host[colon - optarg] = '\0';
            o.port = atoi(colon + 1);
            break;
        }
        case 'k':
            o.kind = strcmp(optarg, "dtls") == 0 ? FO_FLOOD_DTLS
                     : strcmp(optarg, "mix") == 0 ? FO_FLOOD_MIX : FO_FLOOD_STUN;
            break;
        case 'r': o.rate = atoi(optarg); break;
        case 's': o.seconds = atof(optarg); break;
        case 'n': o.sources = atoi(optarg); break;
        case 'S': o.src_ip = optarg; break;
        default: usage(); return 2;
        }
    }
    if (!host[0] || o.port <= 0 || o.rate <= 0 || o.seconds <= 0) return usage(), 2;
    o.host = host;
    fo_log_set_level(FO_LOG_ERROR);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fo_flood_t *f = fo_flood_start(&o);
    if (!f) return 1;
    uint64_t replies = 0, sent = fo_flood_join(f, false, &replies);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("{\"sent\":%llu,\"replies\":%llu,\"seconds\":%.3f}\n", (unsigned long long)sent,
           (unsigned long long)replies,
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return 0;
}

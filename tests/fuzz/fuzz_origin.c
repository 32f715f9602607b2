/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the operator surface's header checks (origin.c): the input is
 * "Host\nOrigin\nallowed list\nSec-Fetch-Site", the first byte's low bit is TLS. Checks the
 * promises the policy relies on: a Host passes only as an IP literal, localhost or a listed
 * name; an Origin is "same" only when it is scheme://Host exactly. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fanout/origin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    bool tls = data[0] & 1;
    char text[2048];
    size_t n = size - 1 < sizeof text - 1 ? size - 1 : sizeof text - 1;
    memcpy(text, data + 1, n);
    text[n] = '\0';
    char *part[4] = {text, "", "", ""};
    for (int i = 1; i < 4; i++) {
        char *nl = strchr(part[i - 1], '\n');
        if (!nl) break;
        *nl = '\0';
        part[i] = nl + 1;
    }
    const char *host = part[0], *origin = part[1], *allowed = part[2];
    bool ok = fo_origin_host_allowed(host, allowed);
    bool ok_unlisted = fo_origin_host_allowed(host, "");
    if (ok_unlisted && *host) { /* an IP literal or localhost, with an optional :port */
        char name[300];
        size_t hn = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
        if (hn >= sizeof name) abort();
        memcpy(name, host, hn);
        name[hn] = '\0';
        unsigned char a[16];
        bool v6 = name[0] == '[' && name[hn - 1] == ']';
        if (v6) name[hn - 1] = '\0';
        if (!(v6 ? inet_pton(AF_INET6, name + 1, a) == 1
                 : inet_pton(AF_INET, name, a) == 1 || strcasecmp(name, "localhost") == 0))
            abort();
    }
    if (ok_unlisted && !ok) abort(); /* a list only adds names */
    fo_origin_kind_t k = fo_origin_classify(origin, host, tls, allowed);
    if (k == FO_ORIGIN_SAME) {
        const char *scheme = tls ? "https://" : "http://";
        if (strncasecmp(origin, scheme, strlen(scheme)) != 0 || strcasecmp(origin + strlen(scheme), host) != 0)
            abort();
    }
    if (k == FO_ORIGIN_NONE && *origin) abort();
    (void)fo_origin_cross_site(part[3]);
    return 0;
}

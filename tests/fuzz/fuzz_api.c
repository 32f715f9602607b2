/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the API's request parsing: the SRS publish/play JSON body (jansson),
 * the stream URL inside it, query-string lookups, and the pages' status paths and the address
 * check of ?eip=. The first byte picks what the rest is. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/api.h"
#include "fanout/candidates.h"
#include "fanout/status.h"
#include "fanout/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    char text[4096];
    size_t tn = n < sizeof text - 1 ? n : sizeof text - 1;
    memcpy(text, rest, tn);
    text[tn] = '\0';
    switch (data[0] % 4) {
    case 0: {
        fo_api_rtc_req_t r;
        char msg[256];
        if (fo_api_parse_rtc(rest, n, &r, msg, sizeof msg) == 0 && r.sdp_len == 0) abort();
        fo_api_rtc_req_free(&r);
        break;
    }
    case 1: {
        fo_url_t u;
        const char *why;
        if (fo_url_parse_stream(text, &u, &why) == 0 && (!u.app[0] || !u.stream[0])) abort();
        break;
    }
    case 3: {
        char key[200];
        fo_status_path_t k = fo_status_path(text, key, sizeof key);
        if (k == FO_STATUS_STREAM && (!key[0] || !strchr(key, '/') || strlen(key) >= sizeof key)) abort();
        (void)fo_candidates_is_ip(text);
        break;
    }
    default: {
        char v[64];
        static const char *const names[] = {"eip", "candidate", "token", ""};
        for (size_t i = 0; i < 4; i++) fo_url_query_get(text, names[i], v, sizeof v);
        break;
    }
    }
    return 0;
}

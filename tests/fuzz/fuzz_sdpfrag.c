/* SPDX-License-Identifier: MIT */
/* libFuzzer target for src/wire/sdpfrag.c: any input parsed as a trickle-ice-sdpfrag; what it
 * accepts has credentials of ice-chars within their bounds; a restart answer built from them
 * parses back to the same credentials. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/sdpfrag.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static int ice_ok(const char *s, size_t min)
{
    size_t n = strlen(s);
    if (n == 0) return 1;
    if (n < min || n > 256) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '+' || s[i] == '/'))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fo_sdpfrag_t f;
    const char *why = NULL;
    int rc = fo_sdpfrag_parse((const char *)data, size, &f, &why);
    if (rc != 0) {
        CHECK(why != NULL);
        return 0;
    }
    CHECK(why == NULL);
    CHECK(ice_ok(f.ice_ufrag, 4) && ice_ok(f.ice_pwd, 22));
    if (f.ice_ufrag[0] && f.ice_pwd[0]) {
        static char out[1024];
        int n = fo_sdpfrag_build_restart(out, sizeof out, f.ice_ufrag, f.ice_pwd);
        CHECK(n > 0);
        fo_sdpfrag_t g;
        CHECK(fo_sdpfrag_parse(out, (size_t)n, &g, NULL) == 0);
        CHECK(strcmp(g.ice_ufrag, f.ice_ufrag) == 0 && strcmp(g.ice_pwd, f.ice_pwd) == 0);
    }
    return 0;
}

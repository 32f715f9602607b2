/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the configuration parser: an INI document (inih + our settings table)
 * through fo_config_load_string. Checks that whatever loads keeps every integer inside its
 * documented range and every string NUL-terminated inside its field. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanout/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fo_config_t cfg;
    fo_config_defaults(&cfg);
    char err[512];
    if (fo_config_load_string(&cfg, text, "fuzz", err, sizeof err) == 0) {
        if (cfg.http_port < 1 || cfg.http_port > 65535 || cfg.rtc_port < 1 || cfg.rtc_port > 65535)
            abort();
        if (cfg.max_sessions < 1 || cfg.max_body < 1024) abort();
        if (strnlen(cfg.candidate, sizeof cfg.candidate) == sizeof cfg.candidate) abort();
        fo_codec_t c[8];
        fo_config_video_codecs(&cfg, c, 8);
    } else if (!err[0]) {
        abort(); /* every refusal says why */
    }
    free(text);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* fanout-bench against fanout on loopback: starts the server (argv[1], config from the source
 * dir argv[2]) and runs the load tool (argv[3]) with a publisher and 4 players for 3 s (with
 * argv[4] "--tcp", the players over ICE-TCP: the summary must say so, and so must the server). Checks
 * that its JSON summary is whole (every player connected and received audio and video, no
 * errors) and that its counts are the server's: for each session the RTP packets the tool
 * counted per kind equal what the server reports for that session when it ends (its "session
 * ended" log line, from fo_session_info), the publisher's sent ones included. No timing is
 * asserted. One process, alarm(90); the server is always stopped. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "testsrv.h"

#define PLAYERS 4
#define NAME "it_bench"

static fo_testsrv_t g_srv;

/* Runs the tool and returns its stdout (malloc'd). */
static char *run_bench(const char *bin, const char *api, const char *stream, const char *extra)
{
    int fds[2];
    if (pipe(fds) != 0) fo_test_fail("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) fo_test_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        char players[16];
        snprintf(players, sizeof players, "%d", PLAYERS);
        execl(bin, bin, "--api", api, "--stream", stream, "--players", players, "--ramp", "20",
              "--duration", "3", "--per-player", extra, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    ssize_t n;
    while (out && (n = read(fds[0], out + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 == cap) {
            char *bigger = realloc(out, cap *= 2);
            if (!bigger) break;
            out = bigger;
        }
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!out) fo_test_fail("out of memory");
    out[len] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fo_test_fail("fanout-bench exited with status %d; output: %s", status, out);
    return out;
}

/* The server's counts for session `id` from its "session ended" line; false if none yet. */
static bool server_counts(const char *id, unsigned long long *audio, unsigned long long *video)
{
    FILE *f = fopen(g_srv.log_path, "r");
    if (!f) return false;
    char line[2048], tag[160];
    snprintf(tag, sizeof tag, "[%s ", id);
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, tag), *q;
        if (!p || !(p = strstr(p, "session ended:")) || !(q = strstr(p, "(rtp audio "))) continue;
        found = sscanf(q, "(rtp audio %llu video %llu", audio, video) == 2;
    }
    fclose(f);
    return found;
}

static long long int_at(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) fo_test_fail("summary: no integer \"%s\"", key);
    return (long long)json_integer_value(v);
}

/* Waits (up to 5 s) for the server to log the session's end, then compares. */
static void expect_counts(const char *who, const char *id, long long audio, long long video)
{
    unsigned long long sa = 0, sv = 0;
    for (int i = 0; i < 100 && !server_counts(id, &sa, &sv); i++) usleep(50 * 1000);
    if (!server_counts(id, &sa, &sv)) fo_test_fail("%s %s: the server logged no end", who, id);
    printf("%s %s: tool audio %lld video %lld, server audio %llu video %llu\n", who, id, audio,
           video, sa, sv);
    if ((unsigned long long)audio != sa || (unsigned long long)video != sv)
        fo_test_fail("%s %s: counts differ from the server's", who, id);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s fanout-binary source-dir fanout-bench-binary\n", argv[0]);
        return 2;
    }
    fo_testsrv_start(&g_srv, NAME, argv[1], argv[2], NULL, 90);
    char stream[64];
    snprintf(stream, sizeof stream, "live/bench-%d", (int)getpid());
    bool tcp = argc > 4 && strcmp(argv[4], "--tcp") == 0;
    char *out = run_bench(argv[3], g_srv.api, stream, tcp ? "--tcp" : NULL);
    json_error_t jerr;
    json_t *sum = json_loads(out, 0, &jerr);
    if (!json_is_object(sum)) fo_test_fail("summary is not JSON (%s): %s", jerr.text, out);
    printf("%s", out);

    if (int_at(sum, "connected") != PLAYERS || int_at(sum, "failed") != 0 ||
        int_at(sum, "with_media") != PLAYERS || json_array_size(json_object_get(sum, "errors")))
        fo_test_fail("not every player connected and received media");
    json_t *pub = json_object_get(sum, "publisher");
    if (!json_is_true(json_object_get(pub, "connected")))
        fo_test_fail("the publisher did not connect");
    long long pa = int_at(pub, "rtp_audio"), pv = int_at(pub, "rtp_video");
    if (pa <= 0 || pv <= 0) fo_test_fail("the publisher sent nothing");
    expect_counts("publisher", json_string_value(json_object_get(pub, "session")), pa, pv);

    json_t *sessions = json_object_get(sum, "sessions");
    if (json_array_size(sessions) != PLAYERS) fo_test_fail("summary lists no sessions");
    long long total = 0;
    for (size_t i = 0; i < PLAYERS; i++) {
        json_t *s = json_array_get(sessions, i);
        long long a = int_at(s, "rtp_audio"), v = int_at(s, "rtp_video");
        if (a <= 0 || v <= 0) fo_test_fail("player %zu received no audio or no video", i);
        /* A player joins mid-stream and starts at a keyframe: it gets at most what was sent. */
        if (a > pa || v > pv) fo_test_fail("player %zu received more than was sent", i);
        expect_counts("player", json_string_value(json_object_get(s, "id")), a, v);
        total += a + v;
    }
    if (int_at(json_object_get(sum, "received"), "rtp") != total)
        fo_test_fail("received.rtp is not the sum of the sessions");
    const char *carrier = json_string_value(json_object_get(sum, "carrier"));
    if (!carrier || strcmp(carrier, tcp ? "tcp" : "udp") != 0) fo_test_fail("summary: carrier %s", carrier);
    if (tcp && fo_testsrv_log_count(&g_srv, "ICE check ok from tcp") < PLAYERS)
        fo_test_fail("the server did not see the players' checks over ICE-TCP");
    json_decref(sum);
    free(out);
    fo_testsrv_stop_clean(&g_srv);
    printf("%s: PASS\n", NAME);
    return 0;
}

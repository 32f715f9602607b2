/* SPDX-License-Identifier: MIT */
/* The Redis adapter against Debian's redis-server (a child on a free loopback port, no
 * persistence) and against a fake server that answers garbage: URL parsing, AUTH and SELECT,
 * commands and error replies, a server down at start and coming up, killed and restarted,
 * hung (SIGSTOP: the command timeout drops the connection), a wrong password, cancelled
 * callbacks, and hostile replies (unsolicited, malformed, huge), which must drop the connection
 * and count a protocol error, never crash. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fanout/common.h"
#include "fanout/log.h"
#include "fanout/loop.h"
#include "fanout/redis.h"
#include "loop_until.h"
#include "redissrv.h"

static fo_loop_t *loop;

static int ups, downs;
static char last_why[256];
static bool is_up;

static void state_cb(void *user, bool up, const char *why)
{
    (void)user;
    is_up = up;
    if (up) ups++;
    else downs++;
    snprintf(last_why, sizeof last_why, "%s", why ? why : "");
}

static bool pred_up(void) { return is_up; }
static bool pred_down(void) { return !is_up && downs > 0; }

static fo_redis_t *client(const char *url, int cmd_timeout_ms)
{
    fo_redis_addr_t a;
    const char *why = NULL;
    assert_int_equal(fo_redis_url_parse(url, &a, &why), 0);
    fo_redis_opts_t o = {.connect_timeout_ms = 1000, .command_timeout_ms = cmd_timeout_ms,
                         .backoff_min_ms = 50, .backoff_max_ms = 300};
    fo_redis_cbs_t cbs = {.on_state = state_cb};
    ups = downs = 0;
    is_up = false;
    last_why[0] = '\0';
    fo_redis_t *r = fo_redis_new(loop, &a, &o, &cbs, "test-redis");
    assert_non_null(r);
    return r;
}

/* ---- replies ---- */

static int n_replies, n_null;
static char reply_text[256];
static fo_redis_type_t reply_type;
static long long reply_int;

static void reply_cb(void *user, const fo_redis_reply_t *reply)
{
    (void)user;
    if (!reply) {
        n_null++;
        return;
    }
    n_replies++;
    reply_type = fo_redis_type(reply);
    size_t n = 0;
    const char *s = fo_redis_str(reply, &n);
    snprintf(reply_text, sizeof reply_text, "%.*s", s ? (int)n : 0, s ? s : "");
    reply_int = fo_redis_int(reply);
}

static int want_replies;
static bool pred_replies(void) { return n_replies + n_null >= want_replies; }

static void cmd(fo_redis_t *r, int argc, const char *const *argv)
{
    int before = n_replies + n_null;
    assert_int_equal(fo_redis_command(r, 0, reply_cb, NULL, argc, argv, NULL), 0);
    want_replies = before + 1;
    assert_true(run_until(pred_replies, 3000));
}

/* ---- tests ---- */

static void test_url(void **state)
{
    (void)state;
    fo_redis_addr_t a;
    const char *why;
    assert_int_equal(fo_redis_url_parse("redis://127.0.0.1:7000/3", &a, &why), 0);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 7000);
    assert_int_equal(a.db, 3);
    assert_string_equal(a.password, "");
    assert_int_equal(fo_redis_url_parse("redis://:s%40cret@redis", &a, &why), 0);
    assert_string_equal(a.host, "redis");
    assert_int_equal(a.port, 6379);
    assert_string_equal(a.password, "s@cret");
    assert_string_equal(a.user, "");
    assert_int_equal(fo_redis_url_parse("redis://fanout:pw@[::1]:6380/0", &a, &why), 0);
    assert_string_equal(a.host, "::1");
    assert_string_equal(a.user, "fanout");
    assert_string_equal(a.password, "pw");
    assert_int_equal(a.port, 6380);
    assert_int_equal(fo_redis_url_parse("localhost:6390", &a, &why), 0);
    assert_int_equal(a.port, 6390);
    assert_int_equal(fo_redis_url_parse("redis://pw@h", &a, &why), 0);
    assert_string_equal(a.password, "pw");
    static const char *const bad[] = {"", "rediss://h", "http://h", "redis://h:0", "redis://h:99999",
                                      "redis://h:x", "redis://[::1", "redis://h/x", "redis://h?a=1",
                                      "redis://h o", "redis://:pw@", "redis://h:", "redis://ho$t"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        assert_int_not_equal(fo_redis_url_parse(bad[i], &a, &why), 0);
        assert_non_null(why);
    }
}

static void test_commands_auth_select(void **state)
{
    (void)state;
    fo_redissrv_t srv;
    assert_int_equal(fo_redissrv_start(&srv, 0, "p@ss"), 0);
    char url[300];
    snprintf(url, sizeof url, "redis://:p%%40ss@127.0.0.1:%d/2", srv.port);
    fo_redis_t *r = client(url, 2000);
    assert_true(run_until(pred_up, 3000));
    assert_int_equal(ups, 1);
    const char *set[] = {"SET", "fo:test", "value\r\nwith crlf"};
    cmd(r, 3, set);
    assert_int_equal(reply_type, FO_REDIS_STATUS);
    assert_string_equal(reply_text, "OK");
    const char *get[] = {"GET", "fo:test"};
    cmd(r, 2, get);
    assert_int_equal(reply_type, FO_REDIS_STR);
    assert_string_equal(reply_text, "value\r\nwith crlf");
    /* db 2 was selected: the key is not in db 0 */
    char out[64];
    assert_int_equal(fo_redissrv_cmd(&srv, "EXISTS fo:test", out, sizeof out), 0);
    assert_true(strncmp(out, ":0", 2) == 0);
    const char *bad[] = {"NOSUCHCOMMAND"};
    cmd(r, 1, bad);
    assert_int_equal(reply_type, FO_REDIS_ERROR);
    const char *incr[] = {"INCR", "fo:n"};
    cmd(r, 2, incr);
    assert_int_equal(reply_type, FO_REDIS_INT);
    assert_int_equal(reply_int, 1);
    /* a cancelled callback is never called; the connection stays fine */
    int before = n_replies;
    int token;
    assert_int_equal(fo_redis_command(r, 0, reply_cb, &token, 2, get, NULL), 0);
    fo_redis_cancel(r, &token);
    cmd(r, 2, get);
    assert_int_equal(n_replies, before + 1);
    fo_redis_stats_t st;
    fo_redis_stats(r, &st);
    assert_true(st.up);
    assert_int_equal(st.error_replies, 1);
    assert_int_equal(st.pending, 0);
    fo_redis_free(r);
    fo_redissrv_stop(&srv, false);
}

static void test_wrong_password(void **state)
{
    (void)state;
    fo_redissrv_t srv;
    assert_int_equal(fo_redissrv_start(&srv, 0, "right"), 0);
    char url[300];
    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%d", srv.port);
    fo_redis_t *r = client(url, 2000);
    assert_true(run_until(pred_down, 3000));
    print_message("why: %s\n", last_why);
    assert_non_null(strstr(last_why, "refused"));
    /* retries do not report again (one line per change) */
    run_until(pred_up, 700);
    assert_int_equal(downs, 1);
    assert_int_equal(ups, 0);
    const char *get[] = {"GET", "x"};
    assert_int_equal(fo_redis_command(r, 0, reply_cb, NULL, 2, get, NULL), FO_EAGAIN);
    fo_redis_free(r);
    fo_redissrv_stop(&srv, false);
}

static void test_down_at_start_then_up_kill_restart(void **state)
{
    (void)state;
    fo_redissrv_t srv;
    assert_int_equal(fo_redissrv_start(&srv, 0, NULL), 0);
    int port = srv.port;
    fo_redissrv_stop(&srv, true);
    fo_redis_t *r = client(srv.url, 2000);
    assert_true(run_until(pred_down, 3000)); /* connection refused */
    assert_int_equal(ups, 0);
    assert_int_equal(fo_redissrv_start(&srv, port, NULL), 0);
    assert_true(run_until(pred_up, 3000));
    assert_int_equal(ups, 1);
    /* killed: the client notices at once (EOF), pending commands get NULL */
    const char *blk[] = {"BLPOP", "fo:never", "5"};
    n_null = 0;
    assert_int_equal(fo_redis_command(r, 8000, reply_cb, NULL, 3, blk, NULL), 0);
    fo_redissrv_kill(&srv);
    assert_true(run_until(pred_down, 3000));
    assert_int_equal(n_null, 1);
    assert_int_equal(fo_redissrv_start(&srv, port, NULL), 0);
    assert_true(run_until(pred_up, 3000));
    assert_int_equal(ups, 2);
    fo_redis_stats_t st;
    fo_redis_stats(r, &st);
    assert_int_equal(st.connects, 2);
    assert_true(st.failures >= 2);
    fo_redis_free(r);
    fo_redissrv_stop(&srv, false);
}

static void test_hung_server(void **state)
{
    (void)state;
    fo_redissrv_t srv;
    assert_int_equal(fo_redissrv_start(&srv, 0, NULL), 0);
    fo_redis_t *r = client(srv.url, 300);
    assert_true(run_until(pred_up, 3000));
    fo_redissrv_pause(&srv);
    const char *get[] = {"GET", "x"};
    n_null = 0;
    assert_int_equal(fo_redis_command(r, 0, reply_cb, NULL, 2, get, NULL), 0);
    assert_true(run_until(pred_down, 2000));
    assert_int_equal(n_null, 1);
    assert_non_null(strstr(last_why, "timed out"));
    fo_redis_stats_t st;
    fo_redis_stats(r, &st);
    assert_int_equal(st.timeouts, 1);
    fo_redissrv_resume(&srv);
    assert_true(run_until(pred_up, 3000));
    cmd(r, 2, get);
    assert_int_equal(reply_type, FO_REDIS_NIL);
    fo_redis_free(r);
    fo_redissrv_stop(&srv, false);
}

/* ---- a fake server that answers each connection's first read with canned bytes ---- */

typedef struct {
    int lfd;
    const char *answer;
    size_t answer_len;
    size_t flood;            /* then this many more bytes of 'x' */
    atomic_int done;         /* the test thread tells the fake server to stop */
} fake_t;

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    while (!atomic_load(&f->done)) {
        int c = accept(f->lfd, NULL, NULL);
        if (c < 0) continue;
        char buf[512];
        if (read(c, buf, sizeof buf) > 0) {
            (void)!write(c, f->answer, f->answer_len);
            static char junk[65536];
            memset(junk, 'x', sizeof junk);
            for (size_t sent = 0; sent < f->flood;) {
                ssize_t k = write(c, junk, sizeof junk);
                if (k <= 0) break;
                sent += (size_t)k;
            }
        }
        while (read(c, buf, sizeof buf) > 0) {
        }
        close(c);
    }
    return NULL;
}

static void fake_case(const char *answer, size_t len, size_t flood, bool expect_up_first)
{
    fake_t f = {.answer = answer, .answer_len = len, .flood = flood};
    f.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(f.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(f.lfd, (struct sockaddr *)&a, &al), 0);
    assert_int_equal(listen(f.lfd, 8), 0);
    struct timeval tv = {.tv_usec = 100000};
    setsockopt(f.lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pthread_t th;
    pthread_create(&th, NULL, fake_main, &f);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", ntohs(a.sin_port));
    fo_redis_t *r = client(url, 1000);
    assert_true(run_until(pred_down, 5000));
    if (expect_up_first) assert_int_equal(ups, 1); /* up, then down on the extra reply */
    fo_redis_stats_t st;
    fo_redis_stats(r, &st);
    print_message("%.12s: %s (protocol errors %llu)\n", answer, last_why, (unsigned long long)st.protocol_errors);
    assert_true(st.protocol_errors >= 1);
    fo_redis_free(r);
    atomic_store(&f.done, 1);
    pthread_join(th, NULL);
    close(f.lfd);
}

static void test_hostile_replies(void **state)
{
    (void)state;
    static const char two[] = "+PONG\r\n+OK\r\n"; /* one reply too many */
    fake_case(two, sizeof two - 1, 0, true);
    static const char array[] = "*99999999\r\n"; /* an array over the limit */
    fake_case(array, sizeof array - 1, 0, false);
    static const char junk[] = "!nonsense\r\n"; /* not RESP */
    fake_case(junk, sizeof junk - 1, 0, false);
    static const char huge[] = "$1000000000\r\n"; /* a gigabyte string, then a flood */
    fake_case(huge, sizeof huge - 1, (size_t)FO_REDIS_MAX_BUFFER + (1u << 20), false);
    static const char nested[] = "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n";
    fake_case(nested, sizeof nested - 1, 0, false);
}

static int setup(void **state)
{
    (void)state;
    fo_log_set_level(FO_LOG_ERROR);
    loop = loop_until_loop = fo_loop_new();
    return loop ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fo_loop_free(loop);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_commands_auth_select),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_down_at_start_then_up_kill_restart),
        cmocka_unit_test(test_hung_server),
        cmocka_unit_test(test_hostile_replies),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: MIT */
/* Unit tests for the address helpers of src/net/udp.c: literals parsed, IPv4-mapped addresses (a
 * dual-stack socket's view of an IPv4 peer) unmapped so a peer has one form, equality and hash
 * agreeing after that, which IPv6 addresses are advertised as candidates, and the dual-stack
 * bind: an IPv4 client reaches a socket bound to "::" and is seen (after unmapping) as IPv4. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include "fanout/common.h"
#include "fanout/udp.h"

static void test_parse_and_unmap(void **state)
{
    (void)state;
    fo_addr_t a, m;
    assert_int_equal(fo_addr_parse("192.0.2.7", 8000, &a), 0);
    assert_int_equal(a.u.sa.sa_family, AF_INET);
    assert_int_equal(fo_addr_port(&a), 8000);
    assert_int_equal(fo_addr_parse("::ffff:192.0.2.7", 8000, &m), 0);
    assert_int_equal(m.u.sa.sa_family, AF_INET6);
    assert_false(fo_addr_equal(&a, &m));
    fo_addr_unmap(&m);
    assert_int_equal(m.u.sa.sa_family, AF_INET);
    assert_int_equal(m.len, sizeof(struct sockaddr_in));
    assert_true(fo_addr_equal(&a, &m));
    assert_int_equal(fo_addr_hash(&a), fo_addr_hash(&m));
    char buf[64];
    assert_string_equal(fo_addr_str(&m, buf, sizeof buf), "192.0.2.7:8000");
    fo_addr_t v6;
    assert_int_equal(fo_addr_parse("2001:db8::1", 443, &v6), 0);
    fo_addr_unmap(&v6); /* not mapped: unchanged */
    assert_int_equal(v6.u.sa.sa_family, AF_INET6);
    assert_string_equal(fo_addr_str(&v6, buf, sizeof buf), "[2001:db8::1]:443");
    assert_int_equal(fo_addr_parse("not an address", 1, &a), FO_EINVAL);
    assert_int_equal(fo_addr_parse("[::1]", 1, &a), FO_EINVAL);
}

static void test_v6_advertisable(void **state)
{
    (void)state;
    static const struct {
        const char *ip;
        bool want;
    } cases[] = {{"2001:db8::1", true}, {"fd00::2", true},     {"::1", false},      {"fe80::1", false},
                 {"ff02::1", false},    {"::ffff:1.2.3.4", false}, {"fec0::1", false}, {"::", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct in6_addr a;
        assert_int_equal(inet_pton(AF_INET6, cases[i].ip, &a), 1);
        assert_int_equal(fo_addr_v6_advertisable(&a), cases[i].want);
    }
}

static void test_dual_stack_bind(void **state)
{
    (void)state;
    fo_addr_t bound;
    int fd = fo_addr_bind("::", 0, SOCK_DGRAM, &bound);
    if (fd < 0) {
        skip(); /* no IPv6 in this kernel: fo_addr_bind fell back, nothing dual-stack to test */
        return;
    }
    int port = fo_addr_port(&bound);
    assert_true(port > 0);
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    fo_addr_t to;
    fo_addr_parse("127.0.0.1", port, &to);
    assert_int_equal(sendto(c, "x", 1, 0, &to.u.sa, to.len), 1);
    fo_addr_t from;
    from.len = sizeof from.u;
    char b[4];
    usleep(10000);
    assert_int_equal(recvfrom(fd, b, sizeof b, 0, &from.u.sa, &from.len), 1);
    fo_addr_unmap(&from);
    assert_int_equal(from.u.sa.sa_family, AF_INET);
    /* and back: an IPv4 destination on the dual-stack socket */
    assert_int_equal(sendto(fd, "y", 1, 0, &from.u.sa, from.len), 1);
    usleep(10000);
    assert_int_equal(recv(c, b, sizeof b, 0), 1);
    close(c);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_unmap),
        cmocka_unit_test(test_v6_advertisable),
        cmocka_unit_test(test_dual_stack_bind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

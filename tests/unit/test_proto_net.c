/* test_proto_net.c: unit tests of proto/net.c — IP truncation, CIDR lists and X-Forwarded-For. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "guard.h"

/* Checks /24 and /48 truncation; fails on a wrong address. */
START_TEST(store_truncated)
{
    char out[64];
    ck_assert_int_eq(proto_net_store("203.0.113.77", PROTO_STORE_IP_TRUNCATED, out, sizeof out), 0);
    ck_assert_str_eq(out, "203.0.113.0");
    ck_assert_int_eq(proto_net_store("10.1.2.255", PROTO_STORE_IP_TRUNCATED, out, sizeof out), 0);
    ck_assert_str_eq(out, "10.1.2.0");
    ck_assert_int_eq(proto_net_store("2001:db8:1:2:3:4:5:6", PROTO_STORE_IP_TRUNCATED, out, sizeof out), 0);
    ck_assert_str_eq(out, "2001:db8:1::");
    ck_assert_int_eq(proto_net_store("2001:DB8:abcd:ffff::1", PROTO_STORE_IP_TRUNCATED, out, sizeof out), 0);
    ck_assert_str_eq(out, "2001:db8:abcd::");
    ck_assert_int_eq(proto_net_store("::1", PROTO_STORE_IP_TRUNCATED, out, sizeof out), 0);
    ck_assert_str_eq(out, "::");
    /* IPv4-mapped IPv6 is truncated as IPv4 (a /48 would keep it whole) */
    ck_assert_int_eq(proto_net_store("::ffff:198.51.100.9", PROTO_STORE_IP_TRUNCATED, out, sizeof out), 0);
    ck_assert_str_eq(out, "198.51.100.0");
}
END_TEST

/* Checks the full and none storage modes; fails on a wrong output. */
START_TEST(store_full_and_none)
{
    char out[64];
    ck_assert_int_eq(proto_net_store("203.0.113.77", PROTO_STORE_IP_FULL, out, sizeof out), 0);
    ck_assert_str_eq(out, "203.0.113.77");
    ck_assert_int_eq(proto_net_store("2001:db8::1", PROTO_STORE_IP_FULL, out, sizeof out), 0);
    ck_assert_str_eq(out, "2001:db8::1");
    strcpy(out, "junk");
    ck_assert_int_eq(proto_net_store("203.0.113.77", PROTO_STORE_IP_NONE, out, sizeof out), 0);
    ck_assert_str_eq(out, "");
    strcpy(out, "junk");
    ck_assert_int_eq(proto_net_store("2001:db8::1", PROTO_STORE_IP_NONE, out, sizeof out), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

/* Checks non-addresses and small outputs are refused; fails if one passes. */
START_TEST(store_rejects)
{
    char out[64];
    static const char *bad[] = { "", "1.2.3", "1.2.3.256", "a.b.c.d", "1.2.3.4 ", " 1.2.3.4",
                                 "fe80::1%eth0", "2001:db8:::1", "[::1]", "1.2.3.4/24", "localhost" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(proto_net_store(bad[i], PROTO_STORE_IP_TRUNCATED, out, sizeof out) == -1,
                      "accepted %s", bad[i]);
    ck_assert_int_eq(proto_net_store(NULL, PROTO_STORE_IP_FULL, out, sizeof out), -1);
    /* output too small */
    ck_assert_int_eq(proto_net_store("203.0.113.77", PROTO_STORE_IP_FULL, out, 12), -1);
    ck_assert_int_eq(proto_net_store("203.0.113.77", PROTO_STORE_IP_FULL, out, 13), 0);
}
END_TEST

/* Parses valid CIDR lists; fails on a wrong entry. */
START_TEST(cidrs_parse_ok)
{
    proto_cidrs c;
    ck_assert_int_eq(proto_net_cidrs_parse(&c, ""), 0);
    ck_assert_int_eq(c.n, 0);
    ck_assert_int_eq(proto_net_cidrs_parse(&c, "   "), 0);
    ck_assert_int_eq(c.n, 0);
    ck_assert_int_eq(proto_net_cidrs_parse(&c, NULL), 0);
    ck_assert_int_eq(proto_net_cidrs_parse(&c, "10.0.0.0/8, 192.168.1.1 ,::1,2001:db8::/32,0.0.0.0/0"), 0);
    ck_assert_int_eq(c.n, 5);
    ck_assert_int_eq(c.e[0].family, 4);
    ck_assert_int_eq(c.e[0].bits, 8);
    ck_assert_int_eq(c.e[1].bits, 32);
    ck_assert_int_eq(c.e[2].family, 6);
    ck_assert_int_eq(c.e[2].bits, 128);
    ck_assert_int_eq(c.e[3].bits, 32);
    ck_assert_int_eq(c.e[4].bits, 0);
    /* host bits are masked off */
    ck_assert_int_eq(proto_net_cidrs_parse(&c, "10.1.2.3/8"), 0);
    ck_assert_int_eq(c.e[0].addr[1], 0);
    /* exactly PROTO_CIDR_MAX entries */
    char list[PROTO_CIDR_MAX * 16];
    list[0] = '\0';
    for (int i = 0; i < PROTO_CIDR_MAX; i++) {
        char one[16];
        snprintf(one, sizeof one, "%s10.0.%d.0/24", i ? "," : "", i);
        strcat(list, one);
    }
    ck_assert_int_eq(proto_net_cidrs_parse(&c, list), 0);
    ck_assert_int_eq(c.n, PROTO_CIDR_MAX);
}
END_TEST

/* Checks CIDR parse errors; fails if a bad list is accepted. */
START_TEST(cidrs_parse_errors)
{
    proto_cidrs c;
    static const char *bad[] = {
        "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8x",
        "10.0.0/8", "10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/8,,::1", "bogus", "10.0.0.0 /8",
        "10.0.0.0/0008", "::ffff:10.0.0.0/64", "1.2.3.4/8/8",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(proto_net_cidrs_parse(&c, bad[i]) == -1, "accepted %s", bad[i]);
        ck_assert_int_eq(c.n, 0);
    }
    /* PROTO_CIDR_MAX + 1 entries */
    char list[(PROTO_CIDR_MAX + 1) * 16];
    list[0] = '\0';
    for (int i = 0; i <= PROTO_CIDR_MAX; i++) {
        char one[16];
        snprintf(one, sizeof one, "%s10.0.%d.0/24", i ? "," : "", i);
        strcat(list, one);
    }
    ck_assert_int_eq(proto_net_cidrs_parse(&c, list), -1);
    ck_assert_int_eq(proto_net_cidrs_parse(NULL, "10.0.0.0/8"), -1);
}
END_TEST

/* Checks CIDR matching for IPv4, IPv6 and mapped addresses; fails on a wrong verdict. */
START_TEST(cidrs_match)
{
    proto_cidrs c;
    ck_assert_int_eq(proto_net_cidrs_parse(&c, "10.0.0.0/8,192.168.1.128/25,2001:db8::/33,::1"), 0);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "10.255.0.1"), 1);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "11.0.0.1"), 0);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "192.168.1.200"), 1);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "192.168.1.127"), 0);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "2001:db8:7fff::1"), 1);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "2001:db8:8000::1"), 0);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "::1"), 1);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "::2"), 0);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "::ffff:10.1.1.1"), 1);   /* mapped */
    ck_assert_int_eq(proto_net_cidrs_match(&c, "garbage"), 0);
    ck_assert_int_eq(proto_net_cidrs_parse(&c, "::ffff:172.16.0.0/108"), 0);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "172.31.9.9"), 1);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "172.32.0.1"), 0);
    ck_assert_int_eq(proto_net_cidrs_parse(&c, "0.0.0.0/0"), 0);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "8.8.8.8"), 1);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "2001:db8::1"), 0);
    ck_assert_int_eq(proto_net_cidrs_parse(&c, ""), 0);
    ck_assert_int_eq(proto_net_cidrs_match(&c, "10.0.0.1"), 0);
}
END_TEST

/* Runs proto_net_client_ip with a NUL-terminated xff; returns its result. */
static int client(const char *peer, const char *xff, const proto_cidrs *t, char *out, size_t cap)
{
    return proto_net_client_ip(peer, xff, xff ? strlen(xff) : 0, t, out, cap);
}

/* Checks the X-Forwarded-For rule over several hops and spoofing; fails on a wrong client. */
START_TEST(xff_rule)
{
    proto_cidrs t;
    char out[64];
    ck_assert_int_eq(proto_net_cidrs_parse(&t, "10.0.0.0/8,2001:db8:ffff::/48"), 0);

    /* untrusted peer: XFF (spoofed) is ignored */
    ck_assert_int_eq(client("198.51.100.7", "1.2.3.4", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "198.51.100.7");
    ck_assert_int_eq(client("198.51.100.7", "10.0.0.5, 1.2.3.4", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "198.51.100.7");

    /* trusted peer, one hop */
    ck_assert_int_eq(client("10.0.0.1", "203.0.113.9", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "203.0.113.9");

    /* several hops: the right-most untrusted wins, the spoofed left part is ignored */
    ck_assert_int_eq(client("10.0.0.1", "6.6.6.6, 203.0.113.9, 10.2.3.4,10.9.9.9", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "203.0.113.9");
    ck_assert_int_eq(client("10.0.0.1", "1.1.1.1,2.2.2.2,3.3.3.3", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "3.3.3.3");

    /* all trusted: the left-most */
    ck_assert_int_eq(client("10.0.0.1", "10.1.1.1, 10.2.2.2", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "10.1.1.1");

    /* IPv6 hops, ports, empty elements */
    ck_assert_int_eq(client("2001:db8:ffff::1", "2001:db8::99, 2001:db8:ffff::2", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "2001:db8::99");
    ck_assert_int_eq(client("10.0.0.1", "203.0.113.9:4711", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "203.0.113.9");
    ck_assert_int_eq(client("10.0.0.1", "[2001:db8::5]:443 , ,", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "2001:db8::5");

    /* trusted peer without XFF, or with an empty one: the peer */
    ck_assert_int_eq(client("10.0.0.1", NULL, &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "10.0.0.1");
    ck_assert_int_eq(client("10.0.0.1", "", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "10.0.0.1");

    /* garbage hop: the walk stops at the last trusted address */
    ck_assert_int_eq(client("10.0.0.1", "1.2.3.4, unknown", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "10.0.0.1");
    ck_assert_int_eq(client("10.0.0.1", "1.2.3.4, unknown, 10.3.3.3", &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "10.3.3.3");

    /* the length bounds the header: bytes past it are not read */
    ck_assert_int_eq(proto_net_client_ip("10.0.0.1", "203.0.113.9,5.5.5.5", 11, &t, out, sizeof out), 0);
    ck_assert_str_eq(out, "203.0.113.9");

    /* no trusted list at all */
    ck_assert_int_eq(client("10.0.0.1", "1.2.3.4", NULL, out, sizeof out), 0);
    ck_assert_str_eq(out, "10.0.0.1");

    /* invalid peer, tiny output */
    ck_assert_int_eq(client("nope", "1.2.3.4", &t, out, sizeof out), -1);
    ck_assert_int_eq(client("10.0.0.1", "203.0.113.9", &t, out, 4), -1);
}
END_TEST

/* Builds the net suite; never fails. */
static Suite *net_suite(void)
{
    Suite *s = suite_create("proto_net");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, store_truncated);
    tcase_add_test(tc, store_full_and_none);
    tcase_add_test(tc, store_rejects);
    tcase_add_test(tc, cidrs_parse_ok);
    tcase_add_test(tc, cidrs_parse_errors);
    tcase_add_test(tc, cidrs_match);
    tcase_add_test(tc, xff_rule);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    return unit_run(net_suite());
}

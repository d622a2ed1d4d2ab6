/* test_proto_slot.c: unit tests of proto/slot.c — hash slots against Redis' CLUSTER KEYSLOT, command routing keys, MOVED/ASK parsing — and of the cluster URL and `partitions = 0` in proto/conf.c. */
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "slot.h"
#include "guard.h"

/* Returns the slot of a NUL-terminated key. */
static unsigned slot_of(const char *k)
{
    return proto_slot(k, strlen(k));
}

/* Checks slots against values CLUSTER KEYSLOT gave on Redis 7.0; fails on a mismatch. */
START_TEST(slots_match_redis)
{
    ck_assert_uint_eq(slot_of("foo"), 12182);
    ck_assert_uint_eq(slot_of("{user1000}.following"), 3443);
    ck_assert_uint_eq(slot_of("ag:hits:{3}"), 1584);
    ck_assert_uint_eq(slot_of("a{}b"), 13694);          /* an empty tag: the whole key */
    ck_assert_uint_eq(slot_of("{}x{y}"), 2166);
    ck_assert_uint_eq(slot_of("x{"), 3596);             /* no closing brace */
    ck_assert_uint_eq(slot_of(""), 0);
    /* a campaign's keys share its slot */
    ck_assert_uint_eq(slot_of("ag:c:{spring}"), slot_of("ag:c:{spring}:pending"));
    ck_assert_uint_eq(slot_of("ag:c:{spring}:h:2026120105"), slot_of("spring"));
}
END_TEST

/* Formats a command as hiredis would and returns its route, *key set. */
static int route(const char *fmt, const char *a, char *key, size_t cap)
{
    char *cmd = NULL;
    int len = redisFormatCommand(&cmd, fmt, a);
    const char *k = NULL;
    size_t kl = 0;
    int rt = proto_cmd_route(cmd, (size_t)len, &k, &kl);
    key[0] = 0;
    if (rt == PROTO_ROUTE_KEY)
        snprintf(key, cap, "%.*s", (int)kl, k);
    redisFreeCommand(cmd);
    return rt;
}

/* Checks each command kind finds its routing key; fails on a wrong one. */
START_TEST(routing_keys)
{
    char k[128];
    ck_assert_int_eq(route("HGETALL %s", "ag:c:{x}", k, sizeof k), PROTO_ROUTE_KEY);
    ck_assert_str_eq(k, "ag:c:{x}");
    ck_assert_int_eq(route("EVALSHA abc 2 %s ag:c:{x}:wm 1", "ag:c:{x}", k, sizeof k), PROTO_ROUTE_KEY);
    ck_assert_str_eq(k, "ag:c:{x}");
    ck_assert_int_eq(route("EVALSHA abc 0 %s", "arg", k, sizeof k), PROTO_ROUTE_ANY);
    ck_assert_int_eq(route("XREADGROUP GROUP g c COUNT 10 STREAMS %s >", "ag:hits:{2}", k, sizeof k),
                     PROTO_ROUTE_KEY);
    ck_assert_str_eq(k, "ag:hits:{2}");
    ck_assert_int_eq(route("XGROUP CREATE %s g 0 MKSTREAM", "ag:hits:{1}", k, sizeof k), PROTO_ROUTE_KEY);
    ck_assert_str_eq(k, "ag:hits:{1}");
    ck_assert_int_eq(route("MEMORY USAGE %s", "ag:links", k, sizeof k), PROTO_ROUTE_KEY);
    ck_assert_int_eq(route("SCRIPT LOAD %s", "return 1", k, sizeof k), PROTO_ROUTE_ALL);
    ck_assert_int_eq(route("PUBLISH %s x", "ag:links", k, sizeof k), PROTO_ROUTE_ANY);
    ck_assert_int_eq(route("INFO %s", "memory", k, sizeof k), PROTO_ROUTE_ANY);
    ck_assert_int_eq(route("SCAN 0 MATCH %s", "ag:*", k, sizeof k), PROTO_ROUTE_ANY);
    ck_assert_int_eq(route("%s", "PING", k, sizeof k), PROTO_ROUTE_ANY);
    /* malformed RESP is refused, and spans stop at the first command */
    const char *two = "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    size_t cl;
    ck_assert_int_eq(proto_cmd_span(two, strlen(two), &cl), 1);
    ck_assert_uint_eq(cl, 14);
    ck_assert_int_eq(proto_cmd_span(two + cl, strlen(two) - cl, &cl), 2);
    ck_assert_int_eq(proto_cmd_span("*2\r\n$3\r\nGET\r\n", 13, &cl), -1);
    ck_assert_int_eq(proto_cmd_span("$3\r\nGET\r\n", 9, &cl), -1);
    const char *k2;
    size_t kl;
    ck_assert_int_eq(proto_cmd_route("*1\r\n$3\r\nGE", 10, &k2, &kl), -1);
}
END_TEST

/* Checks MOVED and ASK parse and anything else does not. */
START_TEST(redirects)
{
    proto_redirect r;
    const char *m = "MOVED 3999 127.0.0.1:6381";
    ck_assert_int_eq(proto_redirect_parse(m, strlen(m), &r), 0);
    ck_assert_int_eq(r.ask, 0);
    ck_assert_uint_eq(r.slot, 3999);
    ck_assert_str_eq(r.host, "127.0.0.1");
    ck_assert_int_eq(r.port, 6381);
    const char *a = "ASK 12 ::1:7001";
    ck_assert_int_eq(proto_redirect_parse(a, strlen(a), &r), 0);
    ck_assert_int_eq(r.ask, 1);
    ck_assert_str_eq(r.host, "::1");
    ck_assert_int_eq(r.port, 7001);
    const char *bad[] = {"MOVED 16384 h:1", "MOVED 1 h", "MOVED x h:1", "TRYAGAIN x", "ASK 1 h:0",
                         "ERR MOVED 1 h:1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(proto_redirect_parse(bad[i], strlen(bad[i]), &r), -1);
}
END_TEST

/* Checks the cluster URL's parts and its refusals; fails otherwise. */
START_TEST(cluster_url)
{
    proto_redis_addr a;
    ck_assert_int_eq(proto_conf_redis_addr("redis+cluster://u:pw@10.0.0.1:7000,10.0.0.2:7001", &a), 0);
    ck_assert_int_eq(a.cluster, 1);
    ck_assert_str_eq(a.host, "10.0.0.1");
    ck_assert_int_eq(a.port, 7000);
    ck_assert_str_eq(a.user, "u");
    ck_assert_str_eq(a.pass, "pw");
    ck_assert_str_eq(a.seeds, "10.0.0.1:7000,10.0.0.2:7001");
    ck_assert_int_eq(proto_conf_redis_addr("redis+cluster://h:1/0", &a), 0);
    ck_assert_int_eq(a.db, 0);
    const char *bad[] = {"redis+cluster://", "redis+cluster://h:1/2", "redis+cluster://h:1,,h:2",
                         "redis+cluster://h:x", "redis+cluster://:1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(proto_conf_redis_addr(bad[i], &a) == -1, "%s accepted", bad[i]);
    ck_assert_int_eq(proto_conf_redis_addr("redis://h:1/2", &a), 0);
    ck_assert_int_eq(a.cluster, 0);
}
END_TEST

/* Checks partitions = 0 means 1 on one Redis and 16 on a cluster, and a
 * value given stays; fails otherwise. */
START_TEST(auto_partitions)
{
    proto_conf c;
    char err[256];
    proto_conf_defaults(&c);
    ck_assert_int_eq(c.partitions, 1);
    ck_assert_int_eq(proto_conf_set(&c, "redis", "redis+cluster://127.0.0.1:7000", err, sizeof err), 0);
    ck_assert_int_eq(proto_conf_check(&c, err, sizeof err), 0);
    ck_assert_int_eq(c.partitions, PROTO_CLUSTER_PARTITIONS);
    ck_assert_int_eq(proto_conf_set(&c, "partitions", "4", err, sizeof err), 0);
    ck_assert_int_eq(proto_conf_check(&c, err, sizeof err), 0);
    ck_assert_int_eq(c.partitions, 4);
    ck_assert_int_eq(proto_conf_set(&c, "partitions", "0", err, sizeof err), 0);
    ck_assert_int_eq(proto_conf_set(&c, "redis", "redis://127.0.0.1:6379/0", err, sizeof err), 0);
    ck_assert_int_eq(proto_conf_check(&c, err, sizeof err), 0);
    ck_assert_int_eq(c.partitions, 1);
}
END_TEST

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    Suite *s = suite_create("proto_slot");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, slots_match_redis);
    tcase_add_test(tc, routing_keys);
    tcase_add_test(tc, redirects);
    tcase_add_test(tc, cluster_url);
    tcase_add_test(tc, auto_partitions);
    suite_add_tcase(s, tc);
    return unit_run(s);
}

/* test_proto_keys.c: unit tests of proto/keys.c and proto/schema.c — CRC16, partitions, SPEC 3 key names and the counter schema. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "slot.h"
#include "schema.h"
#include "guard.h"

/* Checks CRC16-XMODEM against Redis Cluster values; fails on a mismatch. */
START_TEST(crc16_vectors)
{
    /* Redis Cluster specification test vector */
    ck_assert_uint_eq(proto_crc16("123456789", 9), 0x31C3);
    ck_assert_uint_eq(proto_crc16("", 0), 0);
    /* CLUSTER KEYSLOT foo = 12182 = crc16("foo") % 16384 */
    ck_assert_uint_eq(proto_crc16("foo", 3) % 16384, 12182);
    ck_assert_uint_eq(proto_crc16("bar", 3) % 16384, 5061);
}
END_TEST

/* Checks that the keys one script or command touches share a slot; fails
 * on a mismatch. */
START_TEST(key_slots)
{
    char k[PROTO_KEY_MAX], m[PROTO_KEY_MAX];
    /* the move script's two keys share the alerts stream's slot */
    static const char *const prefixes[] = {"ag:", "", "test:7:"};
    for (size_t i = 0; i < 3; i++) {
        int kl = proto_key_alerts(k, sizeof k, prefixes[i]);
        int ml = proto_key_alerts_moved(m, sizeof m, prefixes[i]);
        ck_assert_int_gt(kl, 0);
        ck_assert_int_gt(ml, 0);
        ck_assert_uint_eq(proto_slot(k, (size_t)kl), proto_slot(m, (size_t)ml));
    }
    ck_assert_str_eq(m, "test:7:alerts:moved{test:7:alerts}");
    /* every fixed key of a campaign in the campaign's slot */
    int tl = proto_key_of(k, sizeof k, "ag:", "spring", PROTO_CK_TOTALS);
    for (int c = 0; c < PROTO_CK_COUNT; c++) {
        int cl = proto_key_of(m, sizeof m, "ag:", "spring", (proto_ckey)c);
        ck_assert_int_gt(cl, 0);
        ck_assert_uint_eq(proto_slot(m, (size_t)cl), proto_slot(k, (size_t)tl));
    }
}
END_TEST

/* Checks partitions are crc16 mod n; fails on a mismatch. */
START_TEST(partition_mod)
{
    ck_assert_uint_eq(proto_partition("spring", 1), 0);
    ck_assert_uint_eq(proto_partition("spring", 0), 0);
    ck_assert_uint_eq(proto_partition("foo", 16384), 12182);
    ck_assert_uint_eq(proto_partition("foo", 7), (unsigned)(proto_crc16("foo", 3) % 7));
    for (unsigned p = 1; p < 10; p++)
        ck_assert_uint_lt(proto_partition("campaign-x", p), p);
}
END_TEST

/* Checks every SPEC 3 key name; fails on any difference. */
START_TEST(key_names)
{
    char k[PROTO_KEY_MAX];
    ck_assert_int_eq(proto_key_hits(k, sizeof k, "ag:", 0), 11);
    ck_assert_str_eq(k, "ag:hits:{0}");
    ck_assert_int_eq(proto_key_hits(k, sizeof k, "ag:", 12), 12);
    ck_assert_str_eq(k, "ag:hits:{12}");
    ck_assert_int_eq(proto_key_rejects(k, sizeof k, "ag:"), 10);
    ck_assert_str_eq(k, "ag:rejects");
    ck_assert_int_eq(proto_key_alerts(k, sizeof k, "ag:"), 9);
    ck_assert_str_eq(k, "ag:alerts");
    ck_assert_int_eq(proto_key_campaigns(k, sizeof k, "ag:"), 12);
    ck_assert_str_eq(k, "ag:campaigns");
    ck_assert_int_eq(proto_key_of(k, sizeof k, "ag:", "spring", PROTO_CK_TOTALS), 13);
    ck_assert_str_eq(k, "ag:c:{spring}");
    ck_assert_int_eq(proto_key_uniq(k, sizeof k, "ag:", "spring", "open"), 20);
    ck_assert_str_eq(k, "ag:c:{spring}:u:open");
    /* 2026-11-23T17:59:59.999Z: the hour 17 and the day 23 */
    ck_assert_int_eq(proto_key_hour(k, sizeof k, "ag:", "spring", 1795456799999LL), 26);
    ck_assert_str_eq(k, "ag:c:{spring}:h:2026112317");
    ck_assert_int_eq(proto_key_day(k, sizeof k, "ag:", "spring", 1795456799999LL), 24);
    ck_assert_str_eq(k, "ag:c:{spring}:d:20261123");
    ck_assert_int_eq(proto_key_hour(k, sizeof k, "ag:", "spring", 1795456800000LL), 26);
    ck_assert_str_eq(k, "ag:c:{spring}:h:2026112318");
    /* SPEC 3 and §12: every fixed key of a campaign */
    static const struct { proto_ckey k; const char *want; } fixed[] = {
        {PROTO_CK_WM, "ag:c:{spring}:wm"},           {PROTO_CK_NONCE, "ag:c:{spring}:nonce"},
        {PROTO_CK_REF, "ag:c:{spring}:ref"},
        {PROTO_CK_REF_REACH, "ag:c:{spring}:ref:reach"},
        {PROTO_CK_PENDING, "ag:c:{spring}:pending"}, {PROTO_CK_FL, "ag:c:{spring}:fl"},
        {PROTO_CK_ALERTED, "ag:c:{spring}:alerted"}, {PROTO_CK_CFG, "ag:c:{spring}:cfg"},
        {PROTO_CK_OUTBOX, "ag:c:{spring}:outbox"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        ck_assert_int_eq(proto_key_of(k, sizeof k, "ag:", "spring", fixed[i].k),
                         (int)strlen(fixed[i].want));
        ck_assert_str_eq(k, fixed[i].want);
    }
    ck_assert_int_eq(proto_key_of(k, sizeof k, "ag:", "spring", PROTO_CK_COUNT), -1);
    /* one HyperLogLog of viewers per scroll bucket */
    ck_assert_int_eq(proto_key_scroll(k, sizeof k, "ag:", "spring", 0), 23);
    ck_assert_str_eq(k, "ag:c:{spring}:scroll:25");
    ck_assert_int_gt(proto_key_scroll(k, sizeof k, "ag:", "spring", 3), 0);
    ck_assert_str_eq(k, "ag:c:{spring}:scroll:100");
    ck_assert_int_eq(proto_key_scroll(k, sizeof k, "ag:", "spring", 4), -1);
    /* another prefix, and an empty one */
    ck_assert_int_eq(proto_key_of(k, sizeof k, "test:7:", "a.b-c_d", PROTO_CK_TOTALS), 18);
    ck_assert_str_eq(k, "test:7:c:{a.b-c_d}");
    ck_assert_int_eq(proto_key_rejects(k, sizeof k, ""), 7);
    ck_assert_str_eq(k, "rejects");
}
END_TEST

/* Checks per-campaign keys carry the {C} hash tag; fails otherwise. */
START_TEST(key_hash_tag_slot)
{
    /* every per-campaign key hashes like its tag: the bytes between { and } */
    char k[PROTO_KEY_MAX];
    ck_assert_int_gt(proto_key_of(k, sizeof k, "ag:", "spring", PROTO_CK_PENDING), 0);
    const char *open = strchr(k, '{'), *close = strchr(k, '}');
    ck_assert_ptr_nonnull(open);
    ck_assert_ptr_nonnull(close);
    ck_assert_int_eq((int)(close - open - 1), 6);
    ck_assert_mem_eq(open + 1, "spring", 6);
}
END_TEST

/* Checks key builders refuse small buffers and empty parts; fails otherwise. */
START_TEST(key_overflow)
{
    char k[16];
    ck_assert_int_eq(proto_key_hits(k, 11, "ag:", 0), -1);
    ck_assert_int_eq(proto_key_hits(k, 12, "ag:", 0), 11);
    ck_assert_int_eq(proto_key_of(k, sizeof k, "ag:", "a-very-long-campaign", PROTO_CK_TOTALS), -1);
    ck_assert_int_eq(proto_key_uniq(k, sizeof k, "ag:", "spring", "open"), -1);
    ck_assert_int_eq(proto_key_of(k, sizeof k, "ag:", "", PROTO_CK_TOTALS), -1);
    ck_assert_int_eq(proto_key_uniq(k, sizeof k, "ag:", "x", ""), -1);
    ck_assert_int_eq(proto_key_rejects(k, 0, "ag:"), -1);
    /* 64-byte campaign and long suffix fit in PROTO_KEY_MAX */
    char big[PROTO_KEY_MAX];
    char c[65];
    memset(c, 'c', 64);
    c[64] = '\0';
    ck_assert_int_gt(proto_key_of(big, sizeof big, "ag:", c, PROTO_CK_REF_REACH), 0);
}
END_TEST

/* Checks the schema: event classes, fields, buckets; fails on a mismatch. */
START_TEST(schema_rules)
{
    char f[64], e[512];
    /* SPEC 3: reach = open, view, click; actions = signup, donate, convert, custom */
    ck_assert_int_eq(proto_event_of("open"), PROTO_EV_OPEN);
    ck_assert_int_eq(proto_event_of("followup"), PROTO_EV_FOLLOWUP);
    ck_assert_int_eq(proto_event_of("petition_signed"), PROTO_EV_CUSTOM);
    ck_assert_str_eq(proto_event_name(PROTO_EV_SCROLL), "scroll");
    ck_assert_ptr_null(proto_event_name(PROTO_EV_CUSTOM));
    for (int i = 0; i <= PROTO_EV_CUSTOM; i++) {
        int reach = i == PROTO_EV_OPEN || i == PROTO_EV_VIEW || i == PROTO_EV_CLICK;
        int action = i == PROTO_EV_SIGNUP || i == PROTO_EV_DONATE || i == PROTO_EV_CONVERT ||
                     i == PROTO_EV_CUSTOM;
        ck_assert_int_eq(proto_event_reach((proto_event)i), reach);
        ck_assert_int_eq(proto_event_action((proto_event)i), action);
    }
    ck_assert_uint_eq(proto_field_event(f, sizeof f, "open", 1), 4);
    ck_assert_str_eq(f, "open");
    ck_assert_uint_eq(proto_field_event(f, sizeof f, "open", 0), 12);
    ck_assert_str_eq(f, "machine_open");
    ck_assert_uint_eq(proto_field_event(f, 8, "open", 0), 0);
    ck_assert(proto_field_builtin("machine_petition"));
    ck_assert(proto_field_builtin("dup") && proto_field_builtin("first_ts") &&
              proto_field_builtin("value") && proto_field_builtin("signup"));
    ck_assert(!proto_field_builtin("petition"));
    /* unique elements: subject first, else ip|ua, else none (anonymous) */
    ck_assert_uint_eq(proto_uniq_elem(e, sizeof e, "c-1", "1.2.3.0", "ua"), 5);
    ck_assert_str_eq(e, "s:c-1");
    ck_assert_uint_eq(proto_uniq_elem(e, sizeof e, "", "1.2.3.0", "ua"), 12);
    ck_assert_str_eq(e, "a:1.2.3.0|ua");
    ck_assert_uint_eq(proto_uniq_elem(e, sizeof e, "", "", ""), 0);
    /* buckets */
    ck_assert_int_eq(proto_scroll_mark(0), 25);
    ck_assert_int_eq(proto_scroll_mark(PROTO_SCROLL_BUCKETS - 1), 100);
    ck_assert_str_eq(proto_scroll_field(2), "75");
    ck_assert_int_eq(proto_fl_bound_s(0), 60);
    ck_assert_int_eq(proto_fl_bound_s(PROTO_FL_BUCKETS - 1), 86400);
    ck_assert_str_eq(proto_fl_field(2), "le_900s");
    ck_assert_str_eq(proto_fl_field(PROTO_FL_BUCKETS), "le_inf");
    for (int i = 0; i < PROTO_FL_BUCKETS; i++) {  /* le_<bound>s, increasing */
        snprintf(f, sizeof f, "le_%ds", proto_fl_bound_s(i));
        ck_assert_str_eq(proto_fl_field(i), f);
        if (i)
            ck_assert_int_gt(proto_fl_bound_s(i), proto_fl_bound_s(i - 1));
    }
}
END_TEST

/* Builds the keys suite; never fails. */
START_TEST(stream_ids)
{
    uint64_t ms, seq;
    proto_stream_id_parse("1795456235427-12", &ms, &seq);
    ck_assert_uint_eq(ms, 1795456235427u);
    ck_assert_uint_eq(seq, 12);
    proto_stream_id_parse("(5-3", &ms, &seq);
    ck_assert_uint_eq(ms, 5);
    ck_assert_uint_eq(seq, 3);
    proto_stream_id_parse("77", &ms, &seq);
    ck_assert_uint_eq(ms, 77);
    ck_assert_uint_eq(seq, 0);
    proto_stream_id_parse("", &ms, &seq);
    ck_assert_uint_eq(ms, 0);
    ck_assert_uint_eq(seq, 0);
    ck_assert_int_lt(proto_stream_id_cmp("9-5", "10-0"), 0);   /* by value, not as text */
    ck_assert_int_gt(proto_stream_id_cmp("10-2", "10-1"), 0);
    ck_assert_int_eq(proto_stream_id_cmp("10-1", "10-1"), 0);
    /* a whole id "<ms>-<seq>", each part 64 bits */
    ck_assert_int_eq(proto_stream_id_valid("1795456235427-0"), 1);
    ck_assert_int_eq(proto_stream_id_valid("18446744073709551615-18446744073709551615"), 1);
    ck_assert_int_eq(proto_stream_id_valid("18446744073709551616-0"), 0);
    ck_assert_int_eq(proto_stream_id_valid("12"), 0);
    ck_assert_int_eq(proto_stream_id_valid("12-"), 0);
    ck_assert_int_eq(proto_stream_id_valid("-1"), 0);
    ck_assert_int_eq(proto_stream_id_valid("1-2-3"), 0);
    ck_assert_int_eq(proto_stream_id_valid("1-2 "), 0);
    ck_assert_int_eq(proto_stream_id_valid(""), 0);
    ck_assert_int_eq(proto_stream_id_valid("junk"), 0);
    ck_assert_int_lt(proto_stream_id_cmp("", "0-0"), 0);       /* "" is the lowest */
    ck_assert_int_gt(proto_stream_id_cmp("0-1", ""), 0);
    ck_assert_int_eq(proto_stream_id_cmp("", ""), 0);
}
END_TEST

START_TEST(hash64)
{
    /* FNV-1a reference values */
    ck_assert_uint_eq(proto_hash64("a", 1), 0xaf63dc4c8601ec8cull);
    ck_assert_uint_eq(proto_hash64("foobar", 6), 0x85944171f73967e8ull);
    ck_assert_uint_ne(proto_hash64("ab", 2), proto_hash64("ba", 2));
    ck_assert_uint_ne(proto_hash64("", 0), 0);
}
END_TEST

static Suite *keys_suite(void)
{
    Suite *s = suite_create("proto_keys");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, crc16_vectors);
    tcase_add_test(tc, partition_mod);
    tcase_add_test(tc, key_slots);
    tcase_add_test(tc, key_names);
    tcase_add_test(tc, key_hash_tag_slot);
    tcase_add_test(tc, key_overflow);
    tcase_add_test(tc, stream_ids);
    tcase_add_test(tc, hash64);
    tcase_add_test(tc, schema_rules);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    return unit_run(keys_suite());
}

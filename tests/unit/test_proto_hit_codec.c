/* test_proto_hit_codec.c: unit tests of proto/hit_codec.c — stream fields and the packed encoding. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hit.h"
#include "guard.h"

/* Fills every field of h with valid, distinctive values; never fails. */
static void fill(proto_hit *h)
{
    proto_hit_init(h);
    strcpy(h->campaign, "spring-2026");
    strcpy(h->event, "donate");
    strcpy(h->subject, "contact:42 \xC3\xA9");
    strcpy(h->ref, "ann");
    strcpy(h->channel, "email");
    strcpy(h->goal, "match");
    strcpy(h->nonce, "n-1");
    strcpy(h->to, "https://example.org/thanks");
    strcpy(h->sig, "AbCdEfGhIjKlMnOpQr-_09");
    h->depth = 75;
    h->value = 2500;
    h->client_ts = 1700000000123LL;
    strcpy(h->hid, "c1-000000000042");
    h->ts = 1700000000456LL;
    strcpy(h->ip, "203.0.113.0");
    strcpy(h->ua, "Mozilla/5.0 (X11; Linux x86_64)");
    h->agent = PROTO_AGENT_MAILPROXY;
    h->via = PROTO_VIA_BEACON;
}

/* Asserts that two hits hold the same values; never fails otherwise. */
static void same(const proto_hit *a, const proto_hit *b)
{
    ck_assert_str_eq(a->campaign, b->campaign);
    ck_assert_str_eq(a->event, b->event);
    ck_assert_str_eq(a->subject, b->subject);
    ck_assert_str_eq(a->ref, b->ref);
    ck_assert_str_eq(a->channel, b->channel);
    ck_assert_str_eq(a->goal, b->goal);
    ck_assert_str_eq(a->nonce, b->nonce);
    ck_assert_str_eq(a->to, b->to);
    ck_assert_str_eq(a->sig, b->sig);
    ck_assert_int_eq(a->depth, b->depth);
    ck_assert_int_eq(a->value, b->value);
    ck_assert_int_eq(a->client_ts, b->client_ts);
    ck_assert_str_eq(a->hid, b->hid);
    ck_assert_int_eq(a->ts, b->ts);
    ck_assert_str_eq(a->ip, b->ip);
    ck_assert_str_eq(a->ua, b->ua);
    ck_assert_int_eq(a->agent, b->agent);
    ck_assert_int_eq(a->via, b->via);
}

/* Checks the stream fields of a full hit one by one, and back; fails on any difference. */
START_TEST(fields_full)
{
    proto_hit h;
    const char *names[PROTO_HIT_FIELDS], *values[PROTO_HIT_FIELDS];
    size_t lens[PROTO_HIT_FIELDS];
    char scratch[96];
    fill(&h);
    int n = proto_hit_fields(&h, names, values, lens, scratch, sizeof scratch);
    static const char *want[][2] = {
        { "hid", "c1-000000000042" }, { "ts", "1700000000456" }, { "campaign", "spring-2026" },
        { "event", "donate" }, { "subject", "contact:42 \xC3\xA9" }, { "ref", "ann" },
        { "channel", "email" }, { "depth", "75" }, { "value", "2500" }, { "goal", "match" },
        { "client_ts", "1700000000123" }, { "nonce", "n-1" }, { "ip", "203.0.113.0" },
        { "agent", "mailproxy" }, { "ua", "Mozilla/5.0 (X11; Linux x86_64)" }, { "via", "beacon" },
    };
    ck_assert_int_eq(n, (int)(sizeof want / sizeof want[0]));
    ck_assert_int_le(n, PROTO_HIT_FIELDS);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(names[i], want[i][0]);
        ck_assert_uint_eq(lens[i], strlen(want[i][1]));
        ck_assert_mem_eq(values[i], want[i][1], lens[i]);
    }
    /* and back */
    size_t nlens[PROTO_HIT_FIELDS];
    for (int i = 0; i < n; i++)
        nlens[i] = strlen(names[i]);
    proto_hit b;
    ck_assert_int_eq(proto_hit_from_fields(&b, n, names, nlens, values, lens), PROTO_OK);
    strcpy(b.to, h.to);       /* to and sig are not stream fields */
    strcpy(b.sig, h.sig);
    same(&h, &b);
}
END_TEST

/* Checks that empty fields are left out of the stream fields; fails otherwise. */
START_TEST(fields_minimal)
{
    proto_hit h;
    const char *names[PROTO_HIT_FIELDS], *values[PROTO_HIT_FIELDS];
    size_t lens[PROTO_HIT_FIELDS];
    char scratch[96];
    const char *q = "c=x&e=scroll&d=0";
    proto_hit_init(&h);
    ck_assert_int_eq(proto_hit_parse_query(&h, q, strlen(q)), PROTO_OK);
    ck_assert_int_eq(proto_hit_finish(&h, PROTO_VIA_PIXEL), PROTO_OK);
    int n = proto_hit_fields(&h, names, values, lens, scratch, sizeof scratch);
    ck_assert_int_eq(n, 5);
    ck_assert_str_eq(names[0], "campaign");
    ck_assert_mem_eq(values[0], "x", 1);
    ck_assert_str_eq(names[1], "event");
    ck_assert_mem_eq(values[1], "scroll", 6);
    ck_assert_str_eq(names[2], "depth");
    ck_assert_uint_eq(lens[2], 1);
    ck_assert_mem_eq(values[2], "0", 1);
    ck_assert_str_eq(names[3], "agent");
    ck_assert_mem_eq(values[3], "human", 5);
    ck_assert_str_eq(names[4], "via");
    ck_assert_mem_eq(values[4], "pixel", 5);
}
END_TEST

/* Checks malformed stream entries give bad_body; fails on a wrong result. */
START_TEST(from_fields_errors)
{
    proto_hit h;
    const char *nm[4] = { "campaign", "event", "depth", "junk" };
    size_t nl[4] = { 8, 5, 5, 4 };
    const char *v[4] = { "x", "open", "10", "anything" };
    size_t vl[4] = { 1, 4, 2, 8 };
    ck_assert_int_eq(proto_hit_from_fields(&h, 4, nm, nl, v, vl), PROTO_OK);
    ck_assert_int_eq(h.depth, 10);
    ck_assert_int_eq(proto_hit_from_fields(&h, 1, nm, nl, v, vl), PROTO_ERR_BODY);   /* no event */
    ck_assert_int_eq(proto_hit_from_fields(&h, 0, nm, nl, v, vl), PROTO_ERR_BODY);
    v[2] = "101";
    vl[2] = 3;
    ck_assert_int_eq(proto_hit_from_fields(&h, 4, nm, nl, v, vl), PROTO_ERR_BODY);
    v[2] = "-1";
    vl[2] = 2;
    ck_assert_int_eq(proto_hit_from_fields(&h, 4, nm, nl, v, vl), PROTO_ERR_BODY);
    v[2] = "1";
    vl[2] = 1;
    nm[3] = "agent";
    nl[3] = 5;
    ck_assert_int_eq(proto_hit_from_fields(&h, 4, nm, nl, v, vl), PROTO_ERR_BODY);   /* agent "anything" */
    v[3] = "bot";
    vl[3] = 3;
    ck_assert_int_eq(proto_hit_from_fields(&h, 4, nm, nl, v, vl), PROTO_OK);
    ck_assert_int_eq(h.agent, PROTO_AGENT_BOT);
    nm[3] = "via";
    nl[3] = 3;
    ck_assert_int_eq(proto_hit_from_fields(&h, 4, nm, nl, v, vl), PROTO_ERR_BODY);
    v[3] = "api";
    ck_assert_int_eq(proto_hit_from_fields(&h, 4, nm, nl, v, vl), PROTO_OK);
    ck_assert_int_eq(h.via, PROTO_VIA_API);
    v[0] = "{bad}";
    vl[0] = 5;
    ck_assert_int_eq(proto_hit_from_fields(&h, 4, nm, nl, v, vl), PROTO_ERR_BODY);   /* campaign */
    char *longua = malloc(PROTO_UA_MAX + 2);
    ck_assert_ptr_nonnull(longua);
    memset(longua, 'u', PROTO_UA_MAX + 1);
    longua[PROTO_UA_MAX + 1] = '\0';
    const char *nm2[3] = { "campaign", "event", "ua" };
    size_t nl2[3] = { 8, 5, 2 };
    const char *v2[3] = { "x", "open", longua };
    size_t vl2[3] = { 1, 4, PROTO_UA_MAX + 1 };
    ck_assert_int_eq(proto_hit_from_fields(&h, 3, nm2, nl2, v2, vl2), PROTO_ERR_BODY);
    vl2[2] = PROTO_UA_MAX;
    ck_assert_int_eq(proto_hit_from_fields(&h, 3, nm2, nl2, v2, vl2), PROTO_OK);
    ck_assert_uint_eq(strlen(h.ua), PROTO_UA_MAX);
    free(longua);
}
END_TEST

/* Packs and unpacks full, maximal and minimal hits; fails on any difference. */
START_TEST(pack_roundtrip)
{
    proto_hit h, b;
    unsigned char buf[PROTO_HIT_PACKED_MAX];
    fill(&h);
    size_t n = proto_hit_pack(&h, buf, sizeof buf);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(proto_hit_unpack(&b, buf, n), 0);
    same(&h, &b);

    /* every field at its maximum still fits PROTO_HIT_PACKED_MAX */
    proto_hit m;
    fill(&m);
    memset(m.campaign, 'c', PROTO_CAMPAIGN_MAX);
    memset(m.event, 'e', PROTO_EVENT_MAX);
    memset(m.subject, 's', PROTO_SUBJECT_MAX);
    memset(m.ref, 'r', PROTO_REF_MAX);
    memset(m.channel, 'h', PROTO_CHANNEL_MAX);
    memset(m.goal, 'g', PROTO_GOAL_MAX);
    memset(m.nonce, 'n', PROTO_NONCE_MAX);
    memset(m.to, 't', PROTO_TO_MAX);
    memset(m.hid, 'i', PROTO_HID_MAX);
    memset(m.ip, 'p', PROTO_IP_MAX);
    memset(m.ua, 'u', PROTO_UA_MAX);
    m.value = INT64_MAX;
    m.ts = INT64_MAX;
    m.client_ts = 9999999999999999LL;
    m.depth = 100;
    n = proto_hit_pack(&m, buf, sizeof buf);
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_le(n, PROTO_HIT_PACKED_MAX);
    ck_assert_int_eq(proto_hit_unpack(&b, buf, n), 0);
    same(&m, &b);

    /* a minimal hit: absent fields stay absent */
    proto_hit_init(&h);
    strcpy(h.campaign, "x");
    strcpy(h.event, "view");
    n = proto_hit_pack(&h, buf, sizeof buf);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(proto_hit_unpack(&b, buf, n), 0);
    same(&h, &b);
    ck_assert_int_eq(b.depth, -1);
    ck_assert_int_eq(b.ts, -1);
}
END_TEST

/* Checks small buffers and malformed packed records; fails if one is accepted. */
START_TEST(pack_errors)
{
    proto_hit h, b;
    unsigned char buf[PROTO_HIT_PACKED_MAX];
    fill(&h);
    size_t n = proto_hit_pack(&h, buf, sizeof buf);
    ck_assert_uint_gt(n, 0);
    /* too small a buffer */
    ck_assert_uint_eq(proto_hit_pack(&h, buf, n - 1), 0);
    ck_assert_uint_eq(proto_hit_pack(&h, buf, 0), 0);
    ck_assert_uint_eq(proto_hit_pack(&h, buf, n), n);
    /* every truncation is malformed */
    for (size_t k = 0; k < n; k++)
        ck_assert_msg(proto_hit_unpack(&b, buf, k) == -1, "prefix %zu accepted", k);
    /* trailing byte */
    unsigned char big[PROTO_HIT_PACKED_MAX + 1];
    memcpy(big, buf, n);
    big[n] = 0;
    ck_assert_int_eq(proto_hit_unpack(&b, big, n + 1), -1);
    /* bad version */
    memcpy(big, buf, n);
    big[0] ^= 0xFF;
    ck_assert_int_eq(proto_hit_unpack(&b, big, n), -1);
    /* unknown field id, over-long field, duplicate field, bad enum, NUL inside */
    const unsigned char unknown[] = { 1, 99, 0, 1, 'x', 0 };
    ck_assert_int_eq(proto_hit_unpack(&b, unknown, sizeof unknown), -1);
    unsigned char over[3 + 4 + 65 + 1] = { 1, 1, 0, 65 };
    memset(over + 4, 'c', 65);
    over[4 + 65] = 0;
    ck_assert_int_eq(proto_hit_unpack(&b, over, 4 + 65 + 1), -1);
    over[3] = 64;
    over[4 + 64] = 0;
    ck_assert_int_eq(proto_hit_unpack(&b, over, 4 + 64 + 1), 0);
    const unsigned char dup[] = { 1, 1, 0, 1, 'x', 1, 0, 1, 'y', 0 };
    ck_assert_int_eq(proto_hit_unpack(&b, dup, sizeof dup), -1);
    const unsigned char badagent[] = { 1, 17, 0, 1, 9, 0 };
    ck_assert_int_eq(proto_hit_unpack(&b, badagent, sizeof badagent), -1);
    const unsigned char nul[] = { 1, 1, 0, 3, 'a', 0, 'b', 0 };
    ck_assert_int_eq(proto_hit_unpack(&b, nul, sizeof nul), -1);
    const unsigned char baddepth[] = { 1, 13, 0, 8, 0, 0, 0, 0, 0, 0, 0, 101, 0 };
    ck_assert_int_eq(proto_hit_unpack(&b, baddepth, sizeof baddepth), -1);
    const unsigned char shortnum[] = { 1, 14, 0, 4, 0, 0, 0, 1, 0 };
    ck_assert_int_eq(proto_hit_unpack(&b, shortnum, sizeof shortnum), -1);
    ck_assert_int_eq(proto_hit_unpack(&b, NULL, 0), -1);
}
END_TEST

/* Builds the hit codec suite; never fails. */
static Suite *hit_codec_suite(void)
{
    Suite *s = suite_create("proto_hit_codec");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, fields_full);
    tcase_add_test(tc, fields_minimal);
    tcase_add_test(tc, from_fields_errors);
    tcase_add_test(tc, pack_roundtrip);
    tcase_add_test(tc, pack_errors);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    return unit_run(hit_codec_suite());
}

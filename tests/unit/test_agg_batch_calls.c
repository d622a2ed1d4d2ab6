/* test_agg_batch_calls.c: unit tests of aggregator/batch.c — buckets and expiry, first/last ts, duplicates, watermarks, activity, a collector hit in full, and chunking of its apply calls (fixture: batch_fixture.h). */
#include <stdlib.h>
#include <string.h>

#include "batch_fixture.h"
#include "expiry.h"
#include "schema.h"
#include "keys.h"
#include "guard.h"

/* Checks hourly and daily buckets follow the hit's ts across an hour and
 * a midnight, revisited out of order, each expiring retention_hours or
 * retention_days after it begins, once; with another prefix; fails on a
 * wrong bucket, expiry or count, or an expiry repeated. */
START_TEST(buckets_and_expiry)
{
    proto_conf conf = defconf();
    snprintf(conf.prefix, sizeof conf.prefix, "t:");
    conf.retention_hours = 48;
    conf.retention_days = 30;
    conf.followup_sla_s = 60;
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = 1795456235426LL, .campaign = "spring", .event = "open"),  /* 17:50:35 */
        HIT(.id = "1795456235427-1", .ts = 1795456800000LL, .campaign = "spring", .event = "open"),  /* 18:00:00 */
        HIT(.id = "1795456235427-2", .ts = 1795456799999LL, .campaign = "spring", .event = "open"),  /* 17:59:59.999 */
        HIT(.id = "1795456235427-3", .ts = 1795478700000LL, .campaign = "spring", .event = "click"), /* 11-24 00:05 */
    };
    agg_batch *b = batch_of(&conf, 2, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    expect_argv(&v[0], "2", "", "1795456235427-3", "spring", NOW, "60");
    expect_keys(&v[0], "t:c:{spring}",
                ARGS("t:c:{spring}:h:2026112317", "t:c:{spring}:d:20261123", "t:c:{spring}:h:2026112318",
                     "t:c:{spring}:h:2026112400", "t:c:{spring}:d:20261124"));
    expect_ops(&v[0], ONLY("H ", "X "),
               ARGS("H t:c:{spring} open 3", "H t:c:{spring} click 1", "H t:c:{spring} anonymous 4",
                    "H t:c:{spring}:h:2026112317 open 2", "H t:c:{spring}:h:2026112318 open 1",
                    "H t:c:{spring}:h:2026112400 click 1", "H t:c:{spring}:d:20261123 open 3",
                    "H t:c:{spring}:d:20261124 click 1",
                    /* hour start + 48 h: 1795453200000 + 172800000, … */
                    "X t:c:{spring}:h:2026112317 1795626000000", "X t:c:{spring}:h:2026112318 1795629600000",
                    "X t:c:{spring}:h:2026112400 1795651200000",
                    /* day start + 30 days: 1795392000000 + 2592000000, … */
                    "X t:c:{spring}:d:20261123 1797984000000", "X t:c:{spring}:d:20261124 1798070400000"));
    agg_batch_free(b);
}
END_TEST

/* Checks first_ts/last_ts span the applied hits by ts (not stream order),
 * machine hits included, duplicates and malformed entries excluded, and
 * that last activity is the latest applied ts; fails on a wrong bound. */
START_TEST(first_last_ts)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-1"),
        /* another collector's clock: earlier ts, later id */
        HIT(.id = "1795456235427-1", .ts = 1795456200000LL, .campaign = "spring", .event = "view"),
        HIT(.id = "1795456235427-2", .ts = 1795456299999LL, .campaign = "spring", .event = "open",
            .agent = "bot", .ua = CURL_UA),
        /* a retry of n-1, earliest of all: a dup, no bound */
        HIT(.id = "1795456235427-3", .ts = 1795456100000LL, .campaign = "spring", .event = "open",
            .nonce = "n-1"),
        /* malformed, latest of all: no bound */
        HIT(.id = "1795456235427-4", .ts = 1795459999999LL, .campaign = "spring", .event = "Open"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(res.duplicates, 1);
    ck_assert_uint_eq(res.malformed, 1);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    expect_ops(&v[0], ONLY("lo ", "hi "), ARGS("lo first_ts 1795456200000", "hi last_ts 1795456299999"));
    proto_resp out = {0};
    ck_assert_int_eq(agg_batch_activity(b, "ag:campaigns", &out), 1);
    const redisReply **c = commands(&out, &n);
    ck_assert_uint_eq(n, 1);
    expect_cmd(c[0], ARGS("ZADD", "ag:campaigns", "GT", "1795456299999", "spring"));
    proto_resp_free(&out);
    agg_batch_free(b);
}
END_TEST

/* Checks a nonce repeated inside the batch is a dup (counted in totals
 * dup, nothing else), recorded once with its first ts, and that the same
 * nonce in another campaign is not; fails if a retry is counted twice or
 * another campaign's hit is dropped. */
START_TEST(dup_in_batch)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1", .nonce = "n-1"),
        HIT(.id = "1795456235427-1", .ts = TS + 10, .campaign = "autumn", .event = "open",
            .subject = "contact-1", .nonce = "n-1"),
        /* the beacon's retry of the first hit, half a second later */
        HIT(.id = "1795456235427-2", .ts = TS + 500, .campaign = "spring", .event = "open",
            .subject = "contact-1", .nonce = "n-1"),
        HIT(.id = "1795456235427-3", .ts = TS + 600, .campaign = "spring", .event = "view",
            .subject = "contact-1", .nonce = "n-2"),
        HIT(.id = "1795456235427-4", .ts = TS + 700, .campaign = "spring", .event = "view",
            .subject = "contact-1", .nonce = "n-2", .agent = "bot", .ua = CURL_UA),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(res.duplicates, 2);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 2);
    ck_assert_uint_eq(agg_batch_applied(b, 1), 1);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 2);
    expect_argv(&v[0], "0", "", "1795456235427-4", "spring", NOW, "900");
    expect_ops(&v[0], ALL,
               ARGS("H " SP " open 1", "H " SP " view 1", "H " SP " dup 2", "H " SP_H17 " open 1",
                    "H " SP_H17 " view 1", "H " SP_D23 " open 1", "H " SP_D23 " view 1", X_H17, X_D23,
                    "P " SP ":u:open s:contact-1", "P " SP ":u:view s:contact-1",
                    "lo first_ts 1795456235426", "hi last_ts 1795456236026",
                    "NZ 1795456235426 n-1 1795456236026 n-2", "T " CUTOFF));
    expect_ops(&v[1], ONLY("H ag:c:{autumn} ", "NZ "),
               ARGS("H ag:c:{autumn} open 1", "NZ 1795456235436 n-1"));
    agg_batch_free(b);
}
END_TEST

/* Checks the ZMSCORE reply decides dups: a nonce last seen less than 24 h
 * before the hit's ts is a dup, exactly 24 h before or never is not, and
 * only new nonces are recorded; fails on a window off by one millisecond
 * or a score read for the wrong nonce. */
START_TEST(dup_seen_within_24h)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-1"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "open"), /* no nonce */
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-2"),
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-3"),
        HIT(.id = "1795456235427-4", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-4"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    /* n-1 a second before TS: dup; n-2 exactly 24 h before: not; n-3
     * never; n-4 24 h less 1 ms before: dup */
    filter_all(b, NULL,
               (const redisReply *const[]){scores(4, "1795456234426", "1795369835426", NULL, "1795369835427")},
               &res);
    ck_assert_uint_eq(res.duplicates, 2);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 3);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    expect_ops(&v[0], ONLY("H " SP " ", "NZ ", "T "),
               ARGS("H " SP " open 3", "H " SP " dup 2", "H " SP " anonymous 3",
                    "NZ 1795456235426 n-2 1795456235426 n-3",
                    "T " CUTOFF));
    agg_batch_free(b);
}
END_TEST

/* Checks watermark filtering: entries at or below a campaign's watermark
 * are skipped and counted, ids compare by value ("9-0" < "10-0", seq
 * within a ms), ZMSCORE replies stay aligned past skipped entries, the
 * call carries old and new watermark, and a campaign with every entry
 * skipped gets no call and no activity; fails on a string comparison, a
 * misaligned score, or a call that would re-apply. */
START_TEST(watermark_skips)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        /* spring, watermark 9-0 (a new stream's first ids) */
        HIT(.id = "8-0", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-8"),
        HIT(.id = "9-0", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-9"),
        /* autumn, watermark 10-0: both below it, though "9-5" > "10-0" as strings */
        HIT(.id = "9-5", .ts = TS, .campaign = "autumn", .event = "open"),
        HIT(.id = "9-7", .ts = TS, .campaign = "autumn", .event = "open", .nonce = "a-9"),
        /* above 9-0, though "10-0" < "9-0" as strings */
        HIT(.id = "10-0", .ts = TS + 1, .campaign = "spring", .event = "view", .nonce = "n-10"),
        HIT(.id = "10-1", .ts = TS + 2, .campaign = "spring", .event = "click", .nonce = "n-11"),
        /* winter, watermark 1795456235427-1: seq compared within a ms */
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "winter", .event = "open"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "winter", .event = "open"),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "winter", .event = "view"),
        /* summer, no watermark yet */
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "summer", .event = "open"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    ck_assert_uint_eq(agg_batch_ncamps(b), 4);
    /* spring's n-8 and n-9 were recorded when they were applied: scores a
     * skipped entry consumes; n-10 and n-11 are new */
    filter_all(b, ARGS("9-0", "10-0", "1795456235427-1", NULL),
               (const redisReply *const[]){scores(4, "1795456235426", "1795456235426", NULL, NULL),
                                           scores(1, "1795456235426"), NULL, NULL},
               &res);
    ck_assert_uint_eq(res.skipped, 6);
    ck_assert_uint_eq(res.duplicates, 0);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 2);
    ck_assert_uint_eq(agg_batch_applied(b, 1), 0);
    ck_assert_uint_eq(agg_batch_applied(b, 2), 1);
    ck_assert_uint_eq(agg_batch_applied(b, 3), 1);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(agg_batch_called(b, 0), 1);
    ck_assert_int_eq(agg_batch_called(b, 1), 0);
    ck_assert_int_eq(agg_batch_called(b, 2), 1);
    ck_assert_int_eq(agg_batch_called(b, 3), 1);
    expect_argv(&v[0], "0", "9-0", "10-1", "spring", NOW, "900");
    expect_ops(&v[0], ONLY("H " SP " ", "NZ "),
               ARGS("H " SP " view 1", "H " SP " click 1", "H " SP " anonymous 2",
                    "NZ 1795456235427 n-10 1795456235428 n-11"));
    expect_argv(&v[1], "0", "1795456235427-1", "1795456235427-2", "winter", NOW, "900");
    expect_ops(&v[1], ONLY("H ag:c:{winter} "),
               ARGS("H ag:c:{winter} view 1", "H ag:c:{winter} anonymous 1"));
    expect_argv(&v[2], "0", "", "1795456235427-3", "summer", NOW, "900");
    /* activity: the three campaigns with applied hits, not autumn */
    proto_resp out = {0};
    ck_assert_int_eq(agg_batch_nactive(b), 0);
    ck_assert_int_eq(agg_batch_activity(b, "ag:campaigns", &out), 3);
    ck_assert_int_eq(agg_batch_nactive(b), 3);
    const redisReply **c = commands(&out, &n);
    ck_assert_uint_eq(n, 3);
    expect_cmd(c[0], ARGS("ZADD", "ag:campaigns", "GT", "1795456235428", "spring"));
    expect_cmd(c[1], ARGS("ZADD", "ag:campaigns", "GT", "1795456235426", "winter"));
    expect_cmd(c[2], ARGS("ZADD", "ag:campaigns", "GT", "1795456235426", "summer"));
    proto_resp_free(&out);
    agg_batch_free(b);
}
END_TEST

/* Checks a batch already applied (every entry at or below the watermark,
 * as after a crash before XACK) appends no call and no activity; fails if
 * anything would be applied twice. */
START_TEST(replay_appends_nothing)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open", .nonce = "n-1"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "autumn", .event = "open"),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "signup",
            .subject = "contact-2"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, ARGS("1795456235427-2", "1795456235427-1"), NULL, &res);
    ck_assert_uint_eq(res.skipped, 3);
    proto_resp out = {0};
    ck_assert_int_eq(agg_batch_calls(b, SHA, MAXLEN, NOW, &out), 0);
    ck_assert_int_eq(agg_batch_activity(b, "ag:campaigns", &out), 0);
    ck_assert_int_eq(agg_batch_nactive(b), 0);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(agg_batch_called(b, 0), 0);
    ck_assert_int_eq(agg_batch_called(b, 1), 0);
    ck_assert_uint_eq(agg_batch_applied(b, 0) + agg_batch_applied(b, 1), 0);
    proto_resp_free(&out);
    agg_batch_free(b);
}
END_TEST

/* Checks activity updates: one ZADD GT per campaign with applied hits, in
 * campaign order, none for a campaign whose hits were all dups or
 * malformed even though its call moves the watermark, and that
 * agg_batch_activity appends and nactive counts the last call; fails on a
 * missing, extra or wrong update. */
START_TEST(activity_updates)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "autumn", .event = "open", .nonce = "n-1"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "winter", .event = "Open"),
        HIT(.id = "1795456235427-2", .ts = TS + 5, .campaign = "spring", .event = "open",
            .agent = "bot", .ua = CURL_UA),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, (const redisReply *const[]){scores(1, "1795456235000"), NULL, NULL}, &res);
    ck_assert_uint_eq(res.duplicates, 1);
    ck_assert_uint_eq(res.malformed, 1);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 3);
    expect_ops(&v[0], ALL, ARGS("H ag:c:{autumn} dup 1", "T " CUTOFF));
    expect_ops(&v[1], ALL, ARGS("T " CUTOFF));
    proto_resp out = {0}, ping = {0};
    proto_resp_str(&ping, "PING");
    proto_resp_command(&out, &ping);
    ck_assert_int_eq(agg_batch_activity(b, "t:campaigns", &out), 1);
    ck_assert_int_eq(agg_batch_nactive(b), 1);
    const redisReply **c = commands(&out, &n);
    ck_assert_uint_eq(n, 2);
    expect_cmd(c[0], ARGS("PING"));
    expect_cmd(c[1], ARGS("ZADD", "t:campaigns", "GT", "1795456235431", "spring"));
    proto_resp_free(&out);
    proto_resp_free(&ping);
    agg_batch_free(b);
}
END_TEST

/* Checks a hit in every field the collector writes (proto_hit_fields, the
 * real encoder) is applied whole: KEYS, ARGV and every op; fails if a
 * field the collector writes is misread or a counter is added or lost. */
START_TEST(collector_hit)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    proto_hit h;
    proto_hit_init(&h);
    snprintf(h.hid, sizeof h.hid, "17593765.0-7");
    h.ts = TS;
    snprintf(h.campaign, sizeof h.campaign, "spring");
    snprintf(h.event, sizeof h.event, "donate");
    snprintf(h.subject, sizeof h.subject, "contact-2");
    snprintf(h.ref, sizeof h.ref, "ann");
    snprintf(h.channel, sizeof h.channel, "email");
    h.value = 2500;
    snprintf(h.goal, sizeof h.goal, "spring-goal");
    h.client_ts = 1795456235000;
    snprintf(h.nonce, sizeof h.nonce, "n-1");
    snprintf(h.ip, sizeof h.ip, "203.0.113.0");
    h.agent = PROTO_AGENT_HUMAN;
    snprintf(h.ua, sizeof h.ua, HUMAN_UA);
    h.via = PROTO_VIA_BEACON;
    const char *names[PROTO_HIT_FIELDS], *values[PROTO_HIT_FIELDS];
    size_t lens[PROTO_HIT_FIELDS];
    char scratch[128];
    int k = proto_hit_fields(&h, names, values, lens, scratch, sizeof scratch);
    ck_assert_int_eq(k, 15); /* everything but depth */
    sbuf s = {0};
    sb_fmt(&s, "*2\r\n$15\r\n1795456235427-0\r\n*%d\r\n", 2 * k);
    for (int i = 0; i < k; i++) {
        sb_bulk(&s, names[i]);
        sb_bulkn(&s, values[i], lens[i]);
    }
    const redisReply *ents[] = {parse1(s.p, s.len)};
    free(s.p);
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 1);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(v[0].nkeys, 14);
    char aud[64], aop[200];
    snprintf(aud, sizeof aud, SP ":aud:%u", proto_aud_bucket("contact-2", 9));
    expect_keys(&v[0], SP, ARGS(SP_H17, SP_D23, SP ":u:donate", aud));
    snprintf(aop, sizeof aop, "A %s contact-2 16 1795456235 ann 1803254400000 977", aud);
    expect_ops(&v[0], ONLY("A "), ARGS(aop));
    expect_argv(&v[0], "0", "", "1795456235427-0", "spring", NOW, "900");
    expect_ops(&v[0], ALL,
               ARGS("H " SP " donate 1", "H " SP " value 2500", "H " SP_H17 " donate 1",
                    "H " SP_D23 " donate 1", "H " SP_D23 " adv_action:ann 1", "Z " SP ":ref ann 1",
                    X_H17, X_D23,
                    "P " SP ":u:donate s:contact-2", "lo first_ts 1795456235426",
                    "hi last_ts 1795456235426", "NZ 1795456235426 n-1", "T " CUTOFF));
    agg_batch_free(b);
}
END_TEST

/* Checks big batches are cut for Lua's unpack: PFADD and nonce ops of at
 * most 2,000 elements or pairs, in stream order, none lost, and 4,500
 * advocates each counted once (past the increment table's first size);
 * fails on a lost, doubled or oversized chunk. */
START_TEST(chunks)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    enum { N = 4500 };
    const redisReply **ents = tcalloc(N, sizeof *ents);
    for (int i = 0; i < N; i++) {
        char id[32], subj[16], nonce[16], ref[16];
        snprintf(id, sizeof id, "1795456235427-%d", i);
        snprintf(subj, sizeof subj, "contact-%d", i);
        snprintf(nonce, sizeof nonce, "n-%d", i);
        snprintf(ref, sizeof ref, "adv%d", i);
        ents[i] = HIT(.id = id, .ts = TS + i, .campaign = "spring", .event = "open", .subject = subj,
                      .ref = ref, .nonce = nonce);
    }
    agg_batch *b = batch_of(&conf, 0, ents, N, &res);
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(agg_batch_applied(b, 0), N);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    size_t p = 0, nz = 0, z = 0, pe = 0, ne = 0;
    char *seen = tcalloc(N, 1);
    for (size_t i = 0; i < v[0].nops; i++) {
        const char *o = v[0].ops[i];
        if (!strncmp(o, "P ", 2)) {
            size_t want = p < 2 ? 2000 : 500, cnt = 0;
            const char *q = o + strlen("P " SP ":u:open");
            ck_assert_msg(!strncmp(o, "P " SP ":u:open ", strlen("P " SP ":u:open ")), "%s", o);
            while (*q == ' ') {
                char elem[32];
                snprintf(elem, sizeof elem, " s:contact-%zu", pe++);
                ck_assert_msg(!strncmp(q, elem, strlen(elem)), "chunk %zu element %zu", p, cnt);
                q += strlen(elem);
                cnt++;
            }
            ck_assert_uint_eq(cnt, want);
            p++;
        } else if (!strncmp(o, "NZ ", 3)) {
            size_t want = nz < 2 ? 2000 : 500, cnt = 0;
            const char *q = o + 2;
            while (*q == ' ') {
                char pair[48];
                snprintf(pair, sizeof pair, " %lld n-%zu", TS + (long long)ne, ne);
                ne++;
                ck_assert_msg(!strncmp(q, pair, strlen(pair)), "nonce chunk %zu pair %zu", nz, cnt);
                q += strlen(pair);
                cnt++;
            }
            ck_assert_uint_eq(cnt, want);
            nz++;
        } else if (!strncmp(o, "Z ", 2)) {
            int a;
            char tail[8];
            ck_assert_int_eq(sscanf(o, "Z " SP ":ref:reach adv%d %7s", &a, tail), 2);
            ck_assert_str_eq(tail, "1");
            ck_assert(a >= 0 && a < N && !seen[a]);
            seen[a] = 1;
            z++;
        }
    }
    ck_assert_uint_eq(p, 3);
    ck_assert_uint_eq(nz, 3);
    ck_assert_uint_eq(pe, N);
    ck_assert_uint_eq(ne, N);
    ck_assert_uint_eq(z, N);
    expect_ops(&v[0], ONLY("H ", "lo ", "hi ", "T "),
               ARGS("H " SP " open 4500", "H " SP_H17 " open 4500", "H " SP_D23 " open 4500",
                    "lo first_ts 1795456235426", "hi last_ts 1795456239925", "T " CUTOFF));
    agg_batch_free(b);
}
END_TEST

/* Checks an empty batch builds nothing and agg_batch_free(NULL) is a
 * no-op; fails if an empty batch appends a command. */
START_TEST(empty_batch)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    agg_batch *b = batch_of(&conf, 0, NULL, 0, &res);
    ck_assert_uint_eq(agg_batch_ncamps(b), 0);
    proto_resp out = {0};
    ck_assert_int_eq(agg_batch_reads(b, &out), 0);
    ck_assert_int_eq(agg_batch_calls(b, SHA, MAXLEN, NOW, &out), 0);
    ck_assert_int_eq(agg_batch_activity(b, "ag:campaigns", &out), 0);
    ck_assert_int_eq(agg_batch_nactive(b), 0);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_uint_eq(res.applied + res.skipped + res.duplicates + res.malformed + res.conflicts, 0);
    proto_resp_free(&out);
    agg_batch_free(b);
    agg_batch_free(NULL);
}
END_TEST

/* Checks a held campaign (a poisoned key that cannot be dead-lettered):
 * no call is built for it, its entries and only its entries are held
 * (a malformed entry, of no campaign, is not), and the other campaign's
 * call is built as usual. */
START_TEST(held_campaign)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "autumn", .event = "open"),
        raw("*2\r\n$15\r\n1795456235427-2\r\n$-1\r\n"),      /* a deleted entry: malformed */
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "view"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    ck_assert_uint_eq(agg_batch_ncamps(b), 2);
    ck_assert_uint_eq(agg_batch_part(b), 0);
    ck_assert_str_eq(agg_batch_name(b, 0), "spring");
    agg_batch_hold(b, 0);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(at(&v[0], v[0].argv1 + 3), "autumn");
    ck_assert_int_eq(agg_batch_held(b, 0), 1);
    ck_assert_int_eq(agg_batch_held(b, 1), 0);
    ck_assert_int_eq(agg_batch_called(b, 0), 0);
    ck_assert_int_eq(agg_batch_called(b, 1), 1);
    const int want[] = {1, 0, 0, 1};
    for (size_t i = 0; i < NENTS(ents); i++)
        ck_assert_msg(agg_batch_entry_held(b, i) == want[i], "entry %zu held %d", i,
                      agg_batch_entry_held(b, i));
    agg_batch_free(b);
}
END_TEST

/* Checks the audience ops: one A op a human hit with a subject, in stream
 * order, on the subject's bucket, with the event's bit, the time in
 * seconds, the advocate, the retention (the end of the UTC day audience_days
 * after the hit) and
 * the bucket's cap (audience_max / PROTO_AUD_BUCKETS, rounded up); none for
 * a machine, an anonymous hit or a hit without a subject. */
START_TEST(audience_ops)
{
    proto_conf conf = defconf();
    conf.audience_days = 2;
    conf.audience_max = 2048;
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open", .subject = "s1",
            .ref = "ann"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "open", .subject = "s2",
            .agent = "mailproxy", .ua = PROXY_UA),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "view", .ip = "203.0.113.0",
            .ua = HUMAN_UA),
        HIT(.id = "1795456235427-3", .ts = TS + 1000, .campaign = "spring", .event = "signup", .subject = "s1"),
        HIT(.id = "1795456235427-4", .ts = TS + 2000, .campaign = "spring", .event = "scroll", .subject = "s4",
            .depth = "50"),
        HIT(.id = "1795456235427-5", .ts = TS + 3000, .campaign = "spring", .event = "petition",
            .subject = "s3"),
        HIT(.id = "1795456235427-6", .ts = TS + 4000, .campaign = "spring", .event = "followup",
            .subject = "s1", .via = "api"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    char k1[64], k3[64], k4[64], o[5][200];
    snprintf(k1, sizeof k1, SP ":aud:%u", proto_aud_bucket("s1", 2));
    snprintf(k3, sizeof k3, SP ":aud:%u", proto_aud_bucket("s3", 2));
    snprintf(k4, sizeof k4, SP ":aud:%u", proto_aud_bucket("s4", 2));
    /* at = the end of the UTC day 2 days after ts (1795456235427 is on day
     * 20780: (20780 + 3) * 86400000); cap = 2048 / 1024 */
    snprintf(o[0], sizeof o[0], "A %s s1 1 1795456235 ann 1795651200000 2", k1);
    snprintf(o[1], sizeof o[1], "A %s s1 8 1795456236  1795651200000 2", k1);
    snprintf(o[2], sizeof o[2], "A %s s4 2 1795456237  1795651200000 2", k4);
    snprintf(o[3], sizeof o[3], "A %s s3 64 1795456238  1795651200000 2", k3);
    snprintf(o[4], sizeof o[4], "A %s s1 128 1795456239  1795651200000 2", k1);
    expect_ops(&v[0], ONLY("A "), ARGS(o[0], o[1], o[2], o[3], o[4]));
    /* in stream order: the A ops come last, in the order of their hits */
    size_t first = v[0].nops - 5;
    for (size_t i = 0; i < 5; i++)
        ck_assert_str_eq(v[0].ops[first + i], o[i]);
    agg_batch_free(b);
}
END_TEST

/* Checks the expiry memory (expiry.h): once a call is confirmed, the next
 * batch's A ops on the buckets it set carry the expiry negated ("known"),
 * on other buckets and for a later day as is; an unconfirmed call (a
 * watermark conflict, an error) teaches nothing. */
START_TEST(audience_expiry_known)
{
    proto_conf conf = defconf();
    conf.audience_days = 2;
    conf.audience_max = 2048;
    agg_expiry *e = agg_expiry_new();
    ck_assert_ptr_nonnull(e);
    char k1[64], k2[64], o[3][200];
    snprintf(k1, sizeof k1, SP ":aud:%u", proto_aud_bucket("s1", 2));
    snprintf(k2, sizeof k2, SP ":aud:%u", proto_aud_bucket("s2", 2));
    ck_assert_str_ne(k1, k2);
    for (int round = 0; round < 3; round++) {
        agg_apply_result res = {0};
        char id[3][32];
        for (int i = 0; i < 3; i++)
            snprintf(id[i], sizeof id[i], "1795456235427-%d", round * 3 + i);
        const redisReply *ents[] = {
            HIT(.id = id[0], .ts = TS, .campaign = "spring", .event = "open", .subject = "s1"),
            HIT(.id = id[1], .ts = TS + 1000, .campaign = "spring", .event = "open",
                .subject = round ? "s2" : "s1"),
            HIT(.id = id[2], .ts = TS + 2 * PROTO_DAY_MS, .campaign = "spring", .event = "open",
                .subject = "s1"),
        };
        agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
        agg_batch_expiry(b, e);
        filter_all(b, NULL, NULL, &res);
        size_t n;
        call *v = calls(b, NOW, &n);
        ck_assert_uint_eq(n, 1);
        /* round 0 knows nothing; round 1 knows s1's bucket for the first
         * day (confirmed in round 0 with the least expiry asked) but not
         * s2's, nor the later day; round 2 as round 1: round 1 was not
         * confirmed */
        const char *k = round ? k2 : k1, *s2 = round ? "s2" : "s1";
        snprintf(o[0], sizeof o[0], "A %s s1 1 1795456235  %s1795651200000 2", k1, round ? "-" : "");
        snprintf(o[1], sizeof o[1], "A %s %s 1 1795456236  %s1795651200000 2", k, s2, round ? "" : "");
        snprintf(o[2], sizeof o[2], "A %s s1 1 1795629035  1795824000000 2", k1);
        expect_ops(&v[0], ONLY("A "), ARGS(o[0], o[1], o[2]));
        if (round == 0)
            agg_batch_confirm(b, 0);
        agg_batch_free(b);
    }
    agg_expiry_free(e);
}
END_TEST

/* Checks agg_expiry_at: the end of the UTC day days after the hit. */
START_TEST(expiry_at_day_end)
{
    ck_assert_int_eq(agg_expiry_at(0, 1), 2 * PROTO_DAY_MS);
    ck_assert_int_eq(agg_expiry_at(PROTO_DAY_MS - 1, 1), 2 * PROTO_DAY_MS);
    ck_assert_int_eq(agg_expiry_at(PROTO_DAY_MS, 1), 3 * PROTO_DAY_MS);
    ck_assert_int_eq(agg_expiry_at(1795456235427LL, 90), 1803254400000LL);
}
END_TEST

/* Builds the suite. */
static Suite *batch_suite(void)
{
    Suite *s = suite_create("agg_batch_calls");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, buckets_and_expiry);
    tcase_add_test(tc, first_last_ts);
    tcase_add_test(tc, dup_in_batch);
    tcase_add_test(tc, dup_seen_within_24h);
    tcase_add_test(tc, watermark_skips);
    tcase_add_test(tc, replay_appends_nothing);
    tcase_add_test(tc, activity_updates);
    tcase_add_test(tc, collector_hit);
    tcase_add_test(tc, chunks);
    tcase_add_test(tc, audience_expiry_known);
    tcase_add_test(tc, expiry_at_day_end);
    tcase_add_test(tc, empty_batch);
    tcase_add_test(tc, held_campaign);
    tcase_add_test(tc, audience_ops);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite. Returns 0 if every test passed, 1 otherwise. */
int main(void)
{
    return unit_run(batch_suite());
}

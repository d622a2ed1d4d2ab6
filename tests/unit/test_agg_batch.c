/* test_agg_batch.c: unit tests of aggregator/batch.c — the reads it builds, entries it refuses, and the counts, uniques, scroll, leaderboard and signup ops of its apply calls (fixture: batch_fixture.h). */
#include <stdlib.h>
#include <string.h>

#include "batch_fixture.h"
#include "guard.h"

/* ---------------------------------------------------------------- tests */

/* Checks agg_batch_reads appends, per campaign in stream order, HGET of
 * the watermark field of the batch's partition and ZMSCORE of its nonces
 * (a placeholder member when there are none, so there is still one reply);
 * fails if a read is missing, reordered, mis-keyed or carries a wrong
 * nonce. */
START_TEST(reads_per_campaign)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1", .channel = "email", .nonce = "n-1", .ip = "127.0.0.0",
            .ua = HUMAN_UA),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "autumn", .event = "view", .ip = "127.0.0.0",
            .ua = HUMAN_UA),
        raw("*2\r\n$15\r\n1795456235427-2\r\n$-1\r\n"), /* a deleted entry: malformed */
        HIT(.id = "1795456235427-3", .ts = TS + 1, .campaign = "spring", .event = "click",
            .subject = "contact-1", .nonce = "n-2", .via = "click"),
        HIT(.id = "1795456235427-4", .ts = TS + 2, .campaign = "winter", .event = "open", .nonce = "n-1"),
    };
    agg_batch *b = batch_of(&conf, 3, ents, NENTS(ents), &res);
    ck_assert_uint_eq(res.malformed, 1);
    ck_assert_uint_eq(agg_batch_ncamps(b), 3);
    ck_assert_str_eq(agg_batch_name(b, 0), "spring");
    ck_assert_str_eq(agg_batch_name(b, 1), "autumn");
    ck_assert_str_eq(agg_batch_name(b, 2), "winter");
    /* appends: what the buffer already holds stays first */
    proto_resp out = {0}, ping = {0};
    proto_resp_str(&ping, "PING");
    proto_resp_command(&out, &ping);
    ck_assert_int_eq(agg_batch_reads(b, &out), 0);
    size_t n;
    const redisReply **c = commands(&out, &n);
    ck_assert_uint_eq(n, 7);
    expect_cmd(c[0], ARGS("PING"));
    expect_cmd(c[1], ARGS("HGET", "ag:c:{spring}:wm", "3"));
    expect_cmd(c[2], ARGS("ZMSCORE", "ag:c:{spring}:nonce", "n-1", "n-2"));
    expect_cmd(c[3], ARGS("HGET", "ag:c:{autumn}:wm", "3"));
    expect_cmd(c[4], ARGS("ZMSCORE", "ag:c:{autumn}:nonce", "\x01"));
    expect_cmd(c[5], ARGS("HGET", "ag:c:{winter}:wm", "3"));
    expect_cmd(c[6], ARGS("ZMSCORE", "ag:c:{winter}:nonce", "n-1"));
    proto_resp_free(&out);
    proto_resp_free(&ping);
    agg_batch_free(b);
}
END_TEST

/* Checks 600 campaigns (past the first sizes of batch.c's tables) keep
 * stream order, a campaign seen again keeps its first place, and the reads
 * follow that order; fails on a lost, doubled or reordered campaign. */
START_TEST(campaigns_in_stream_order)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    enum { N = 600 };
    const redisReply **ents = tcalloc(N + 2, sizeof *ents);
    char id[32], name[16];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "1795456235427-%d", i);
        snprintf(name, sizeof name, "c%d", (i * 7) % N); /* c0 c7 c14 … every name once */
        ents[i] = HIT(.id = id, .ts = TS, .campaign = name, .event = "view");
    }
    ents[N] = HIT(.id = "1795456235428-0", .ts = TS, .campaign = "c7", .event = "view");
    ents[N + 1] = HIT(.id = "1795456235428-1", .ts = TS, .campaign = "c0", .event = "view");
    agg_batch *b = batch_of(&conf, 0, ents, N + 2, &res);
    ck_assert_uint_eq(res.malformed, 0);
    ck_assert_uint_eq(agg_batch_ncamps(b), N);
    proto_resp out = {0};
    ck_assert_int_eq(agg_batch_reads(b, &out), 0);
    size_t n;
    const redisReply **c = commands(&out, &n);
    ck_assert_uint_eq(n, 2 * N);
    for (int i = 0; i < N; i++) {
        char key[64];
        snprintf(name, sizeof name, "c%d", (i * 7) % N);
        ck_assert_str_eq(agg_batch_name(b, (size_t)i), name);
        snprintf(key, sizeof key, "ag:c:{%s}:wm", name);
        expect_cmd(c[2 * i], ARGS("HGET", key, "0"));
    }
    proto_resp_free(&out);
    /* c0 and c7 got two entries each, the others one */
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 2);
    ck_assert_uint_eq(agg_batch_applied(b, 1), 2);
    ck_assert_uint_eq(agg_batch_applied(b, 2), 1);
    agg_batch_free(b);
}
END_TEST

/* Checks every entry that is not [id, [field, value, …]] with a valid
 * campaign is counted malformed by agg_batch_new and kept out of the
 * campaigns, and that 64 pairs are still taken; fails if a bad shape is
 * grouped or a good one is not. */
START_TEST(malformed_shapes)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    sbuf many = {0}, max = {0};
    /* 65 pairs (over 64) and exactly 64: campaign, event, ts, then
     * unknown fields (utm_*-like, ignored) */
    static const char *const head[] = {"campaign", "spring", "event", "open", "ts", "1795456235426"};
    sb_fmt(&many, "*2\r\n$3\r\n5-0\r\n*130\r\n");
    sb_fmt(&max, "*2\r\n$3\r\n6-0\r\n*128\r\n");
    for (size_t i = 0; i < 6; i++) {
        sb_bulk(&many, head[i]);
        sb_bulk(&max, head[i]);
    }
    for (int i = 0; i < 62; i++)
        sb_fmt(&many, "$5\r\nutm%02d\r\n$1\r\nx\r\n", i);
    for (int i = 0; i < 61; i++)
        sb_fmt(&max, "$5\r\nutm%02d\r\n$1\r\nx\r\n", i);
    const redisReply *ents[] = {
        raw("+OK\r\n"),                                           /* a status */
        raw("$15\r\n1795456235427-0\r\n"),                        /* a bare id */
        raw("*1\r\n$3\r\n1-0\r\n"),                               /* [id] */
        raw("*3\r\n$3\r\n1-0\r\n*2\r\n$8\r\ncampaign\r\n$6\r\nspring\r\n$1\r\nx\r\n"), /* 3 items */
        raw("*2\r\n:1\r\n*2\r\n$8\r\ncampaign\r\n$6\r\nspring\r\n"), /* integer id */
        raw("*2\r\n$3\r\n1-0\r\n$-1\r\n"),                        /* deleted: nil fields */
        raw("*2\r\n$3\r\n1-0\r\n*3\r\n$8\r\ncampaign\r\n$6\r\nspring\r\n$5\r\nevent\r\n"), /* odd */
        raw("*2\r\n$3\r\n1-0\r\n*2\r\n$8\r\ncampaign\r\n:7\r\n"), /* integer value */
        raw("*2\r\n$3\r\n1-0\r\n*4\r\n$5\r\nevent\r\n$4\r\nopen\r\n$2\r\nts\r\n$1\r\n1\r\n"), /* no campaign */
        raw("*2\r\n$3\r\n1-0\r\n*2\r\n$8\r\ncampaign\r\n$13\r\nspring appeal\r\n"), /* a space */
        RAWN("*2\r\n$3\r\n1-0\r\n*2\r\n$8\r\ncampaign\r\n$6\r\nspr\0ng\r\n"), /* a NUL */
        raw("*2\r\n$3\r\n1-0\r\n*2\r\n$8\r\ncampaign\r\n$0\r\n\r\n"), /* empty */
        HIT(.id = "2-0", .ts = TS, .event = "open",               /* 65 characters */
            .campaign = "a123456789b123456789c123456789d123456789e123456789f123456789abcde"),
        parse1(many.p, many.len),
        parse1(max.p, max.len),
        HIT(.id = "7-0", .ts = TS, .event = "open", /* 64 characters: valid */
            .campaign = "a123456789b123456789c123456789d123456789e123456789f123456789abcd"),
    };
    free(many.p);
    free(max.p);
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    ck_assert_uint_eq(res.malformed, 14);
    ck_assert_uint_eq(res.applied + res.skipped + res.duplicates + res.conflicts, 0);
    ck_assert_uint_eq(agg_batch_ncamps(b), 2);
    ck_assert_str_eq(agg_batch_name(b, 0), "spring");
    ck_assert_str_eq(agg_batch_name(b, 1),
                     "a123456789b123456789c123456789d123456789e123456789f123456789abcd");
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(res.malformed, 14);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 1); /* the 64-pair entry */
    ck_assert_uint_eq(agg_batch_applied(b, 1), 1);
    agg_batch_free(b);
}
END_TEST

/* Checks entries whose fields do not decode are counted malformed by
 * agg_batch_filter (only above the watermark: below, skipped), are not
 * applied, and still move the watermark; fails if one is counted, applied
 * or left unacknowledged. */
START_TEST(malformed_fields)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        /* at the watermark: skipped before it is decoded */
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "Open"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "Open"), /* bad event */
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "open",
            .agent = "robot"),                                                         /* bad agent */
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "scroll",
            .depth = "101"),                                                           /* bad depth */
        HIT(.id = "1795456235427-4", .ts = TS, .campaign = "spring", .event = "open",
            .via = "smoke"),                                                           /* bad via */
        HIT(.id = "1795456235427-5", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1"),
        /* autumn: nothing but a bad hit, its nonce must not be recorded */
        HIT(.id = "1795456235427-6", .ts = TS, .campaign = "autumn", .event = "donate",
            .value = "-5", .nonce = "n-1"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    ck_assert_uint_eq(res.malformed, 0);
    filter_all(b, ARGS("1795456235427-0", NULL), NULL, &res);
    ck_assert_uint_eq(res.skipped, 1);
    ck_assert_uint_eq(res.malformed, 5);
    ck_assert_uint_eq(res.duplicates, 0);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 1);
    ck_assert_uint_eq(agg_batch_applied(b, 1), 0);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 2);
    expect_argv(&v[0], "0", "1795456235427-0", "1795456235427-5", "spring", NOW, "900");
    expect_ops(&v[0], ALL,
               ARGS("H " SP " open 1", "H " SP_H17 " open 1", "H " SP_D23 " open 1", X_H17, X_D23,
                    "P " SP ":u:open s:contact-1", "lo first_ts 1795456235426",
                    "hi last_ts 1795456235426", "T " CUTOFF));
    /* autumn's call only moves the watermark over its bad entry */
    expect_argv(&v[1], "0", "", "1795456235427-6", "autumn", NOW, "900");
    expect_keys(&v[1], "ag:c:{autumn}", ARGS(NULL));
    expect_ops(&v[1], ALL, ARGS("T " CUTOFF));
    agg_batch_free(b);
}
END_TEST

/* Checks the totals, hourly and daily counts of human and machine (bot,
 * mailproxy) hits, value summed from human hits only, the buckets'
 * expiries and KEYS, the whole op stream of one realistic campaign; fails
 * on any counter the encoder adds, drops or miscounts. */
START_TEST(counts_human_and_machine)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1", .channel = "email", .ip = "127.0.0.0", .ua = HUMAN_UA),
        /* README's curl open: a bot */
        HIT(.id = "1795456235427-1", .ts = TS + 1, .campaign = "spring", .event = "open",
            .subject = "contact-1", .channel = "email", .ip = "127.0.0.0", .agent = "bot", .ua = CURL_UA),
        HIT(.id = "1795456235427-2", .ts = TS + 2, .campaign = "spring", .event = "open",
            .subject = "contact-2", .channel = "email", .ip = "66.249.84.0", .agent = "mailproxy",
            .ua = PROXY_UA),
        HIT(.id = "1795456235427-3", .ts = TS + 3, .campaign = "spring", .event = "view",
            .subject = "contact-2", .ip = "198.51.100.0", .ua = HUMAN_UA, .via = "beacon"),
        HIT(.id = "1795456235427-4", .ts = TS + 4, .campaign = "spring", .event = "click",
            .subject = "contact-1", .ip = "127.0.0.0", .ua = HUMAN_UA, .via = "click"),
        HIT(.id = "1795456235427-5", .ts = TS + 5, .campaign = "spring", .event = "donate",
            .subject = "contact-2", .value = "2500", .ip = "198.51.100.0", .ua = HUMAN_UA, .via = "beacon"),
        HIT(.id = "1795456235427-6", .ts = TS + 6, .campaign = "spring", .event = "donate",
            .value = "9900", .ip = "127.0.0.0", .agent = "bot", .ua = CURL_UA),
        HIT(.id = "1795456235427-7", .ts = TS + 7, .campaign = "spring", .event = "petition_signed",
            .subject = "contact-3", .value = "500", .via = "api"),
        HIT(.id = "1795456235427-8", .ts = TS + 8, .campaign = "spring", .event = "petition_signed",
            .agent = "bot", .ua = CURL_UA),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    ck_assert_uint_eq(agg_batch_applied(b, 0), 9);
    ck_assert_uint_eq(res.skipped + res.duplicates + res.malformed, 0);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(agg_batch_called(b, 0), 1);
    expect_argv(&v[0], "0", "", "1795456235427-8", "spring", NOW, "900");
    expect_keys(&v[0], SP,
                ARGS(SP_H17, SP_D23, SP ":u:open", SP ":u:view", SP ":u:click", SP ":u:donate",
                     SP ":u:petition_signed"));
    expect_ops(&v[0], ALL,
               ARGS(/* totals: human events, machine_<event>, value = 2500 + 500 (not the bot's 9900) */
                    "H " SP " open 1", "H " SP " machine_open 2", "H " SP " view 1", "H " SP " click 1",
                    "H " SP " donate 1", "H " SP " machine_donate 1", "H " SP " petition_signed 1",
                    "H " SP " machine_petition_signed 1", "H " SP " value 3000",
                    /* the hour and the day: the same event fields, no value */
                    "H " SP_H17 " open 1", "H " SP_H17 " machine_open 2", "H " SP_H17 " view 1",
                    "H " SP_H17 " click 1", "H " SP_H17 " donate 1", "H " SP_H17 " machine_donate 1",
                    "H " SP_H17 " petition_signed 1", "H " SP_H17 " machine_petition_signed 1",
                    "H " SP_D23 " open 1", "H " SP_D23 " machine_open 2", "H " SP_D23 " view 1",
                    "H " SP_D23 " click 1", "H " SP_D23 " donate 1", "H " SP_D23 " machine_donate 1",
                    "H " SP_D23 " petition_signed 1", "H " SP_D23 " machine_petition_signed 1",
                    X_H17, X_D23,
                    /* uniques: human hits only, per event */
                    "P " SP ":u:open s:contact-1", "P " SP ":u:view s:contact-2",
                    "P " SP ":u:click s:contact-1", "P " SP ":u:donate s:contact-2",
                    "P " SP ":u:petition_signed s:contact-3",
                    /* first_ts/last_ts span machine hits too */
                    "lo first_ts 1795456235426", "hi last_ts 1795456235434", "T " CUTOFF));
    agg_batch_free(b);
}
END_TEST

/* Checks unique elements: "s:<subject>", else "a:<ip>|<ua>", nothing for
 * an anonymous hit (it still counts in the totals) or a machine hit, one
 * HLL per event, in stream order; fails on a wrong, missing or extra
 * element. */
START_TEST(uniques_and_anonymous)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1", .ip = "127.0.0.0", .ua = HUMAN_UA),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "open", .ip = "127.0.0.0",
            .ua = HUMAN_UA),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "open", .ip = "198.51.100.0"),
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "open", .ua = HUMAN_UA),
        /* Sec-GPC: neither subject nor ip nor ua */
        HIT(.id = "1795456235427-4", .ts = TS, .campaign = "spring", .event = "open"),
        HIT(.id = "1795456235427-5", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-1", .ip = "127.0.0.0", .ua = HUMAN_UA),
        HIT(.id = "1795456235427-6", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-9", .ip = "66.249.84.0", .agent = "mailproxy", .ua = PROXY_UA),
        HIT(.id = "1795456235427-7", .ts = TS, .campaign = "spring", .event = "view",
            .subject = "contact-1", .via = "beacon"),
        HIT(.id = "1795456235427-8", .ts = TS, .campaign = "spring", .event = "view"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    expect_keys(&v[0], SP, ARGS(SP_H17, SP_D23, SP ":u:open", SP ":u:view"));
    expect_ops(&v[0], ONLY("P "),
               ARGS("P " SP ":u:open s:contact-1 a:127.0.0.0|" HUMAN_UA " a:198.51.100.0| a:|" HUMAN_UA
                    " s:contact-1",
                    "P " SP ":u:view s:contact-1"));
    /* all six human opens count, the anonymous one too */
    expect_ops(&v[0], ONLY("H " SP " "),
               ARGS("H " SP " open 6", "H " SP " machine_open 1", "H " SP " view 2",
                    "H " SP " anonymous 2")); /* the open and the view with no identity */
    agg_batch_free(b);
}
END_TEST

/* Checks scroll buckets: a human scroll of depth d counts in 25, 50, 75,
 * 100 up to d; machine scrolls count none; fails on an off-by-one bucket
 * or a machine hit counted. */
START_TEST(scroll_buckets)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "0",
            .subject = "visitor-7", .via = "beacon"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "24",
            .subject = "visitor-7", .via = "beacon"),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "25",
            .subject = "visitor-7", .via = "beacon"),
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "74",
            .subject = "visitor-7", .via = "beacon"),
        HIT(.id = "1795456235427-4", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "100",
            .subject = "visitor-7", .via = "beacon"),
        HIT(.id = "1795456235427-5", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "100",
            .agent = "bot", .ua = CURL_UA, .via = "beacon"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    /* one reader, counted once per bucket up to the deepest hit (100);
     * depth 0 and 24 reach none; the machine scroll none */
    expect_ops(&v[0], ONLY("P " SP ":scroll:"),
               ARGS("P " SP ":scroll:25 s:visitor-7 s:visitor-7 s:visitor-7",
                    "P " SP ":scroll:50 s:visitor-7 s:visitor-7", "P " SP ":scroll:75 s:visitor-7",
                    "P " SP ":scroll:100 s:visitor-7"));
    expect_ops(&v[0], ONLY("H " SP " "), ARGS("H " SP " scroll 5", "H " SP " machine_scroll 1"));
    agg_batch_free(b);
}
END_TEST

/* Checks the advocate leaderboards: ref on open/view/click counts in
 * ref:reach, on signup/donate/convert/custom in ref, on scroll or followup
 * in neither, and never from a machine hit; fails on a ref misfiled,
 * miscounted or counted from a bot. */
START_TEST(ref_leaderboards)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "open",
            .subject = "contact-2", .ref = "ann"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "view",
            .subject = "contact-3", .ref = "ann"),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "click",
            .subject = "contact-4", .ref = "ann", .via = "click"),
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "signup",
            .subject = "contact-2", .ref = "ann"),
        HIT(.id = "1795456235427-4", .ts = TS, .campaign = "spring", .event = "donate",
            .subject = "contact-2", .ref = "ann", .value = "2500"),
        HIT(.id = "1795456235427-5", .ts = TS, .campaign = "spring", .event = "convert",
            .subject = "contact-3", .ref = "ann"),
        HIT(.id = "1795456235427-6", .ts = TS, .campaign = "spring", .event = "petition_signed",
            .subject = "contact-4", .ref = "ann"),
        HIT(.id = "1795456235427-7", .ts = TS, .campaign = "spring", .event = "scroll", .depth = "50",
            .subject = "contact-5", .ref = "bob"),
        HIT(.id = "1795456235427-8", .ts = TS, .campaign = "spring", .event = "followup",
            .subject = "contact-2", .ref = "bob", .via = "api"),
        HIT(.id = "1795456235427-9", .ts = TS, .campaign = "spring", .event = "click",
            .ref = "bob", .agent = "bot", .ua = CURL_UA, .via = "click"),
        HIT(.id = "1795456235427-10", .ts = TS, .campaign = "spring", .event = "signup",
            .subject = "contact-6", .ref = "bob", .agent = "bot", .ua = CURL_UA),
        HIT(.id = "1795456235427-11", .ts = TS, .campaign = "spring", .event = "view",
            .subject = "contact-7", .ref = "bob"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    /* ann: reach open + view + click = 3, actions signup + donate +
     * convert + petition_signed = 4, one click on her links; bob: reach
     * from the human view only (his click is a bot's) */
    expect_ops(&v[0], ONLY("Z "),
               ARGS("Z " SP ":ref:click ann 1", "Z " SP ":ref:reach ann 3", "Z " SP ":ref ann 4",
                    "Z " SP ":ref:reach bob 1"));
    agg_batch_free(b);
}
END_TEST

/* Checks that an advocate named unsigned (uref, a landing page's ?via=)
 * is counted apart: actions in ref:unverified and the totals' unverified,
 * never on the leaderboard or in reach; a hit with a ref of its own
 * credits that ref alone. */
START_TEST(unverified_credit)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "signup",
            .subject = "contact-2", .uref = "ann"),
        HIT(.id = "1795456235427-1", .ts = TS, .campaign = "spring", .event = "view",
            .subject = "contact-3", .uref = "ann"),
        HIT(.id = "1795456235427-2", .ts = TS, .campaign = "spring", .event = "donate",
            .subject = "contact-3", .uref = "cy", .value = "500"),
        HIT(.id = "1795456235427-3", .ts = TS, .campaign = "spring", .event = "signup",
            .subject = "contact-4", .ref = "bob", .uref = "ann"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    expect_ops(&v[0], ONLY("Z "),
               ARGS("Z " SP ":ref:unverified ann 1", "Z " SP ":ref:unverified cy 1", "Z " SP ":ref bob 1"));
    expect_ops(&v[0], ONLY("H " SP " unverified"), ARGS("H " SP " unverified 2"));
    agg_batch_free(b);
}
END_TEST

/* Checks S (signup) and F (follow-up) ops carry subject and ts, in stream
 * order, from human hits with a subject only; fails if one is lost,
 * reordered, mislabelled or made from a bot's signup. */
START_TEST(signup_followup_ops)
{
    proto_conf conf = defconf();
    agg_apply_result res = {0};
    const redisReply *ents[] = {
        HIT(.id = "1795456235427-0", .ts = TS, .campaign = "spring", .event = "signup",
            .subject = "contact-2", .ref = "ann"),
        HIT(.id = "1795456235427-1", .ts = TS + 1000, .campaign = "spring", .event = "followup",
            .subject = "contact-1", .via = "api"),
        HIT(.id = "1795456235427-2", .ts = TS + 2000, .campaign = "spring", .event = "signup",
            .subject = "contact-3"),
        HIT(.id = "1795456235427-3", .ts = TS + 3000, .campaign = "spring", .event = "signup",
            .subject = "contact-4", .agent = "bot", .ua = CURL_UA),
        /* a signup without subject (no collector writes one: proto_hit_finish
         * refuses it, but the stream decodes it): counted, no S op */
        HIT(.id = "1795456235427-5", .ts = TS + 4000, .campaign = "spring", .event = "signup",
            .via = "api"),
        /* a follow-up stamped before the signup that precedes it in the stream */
        HIT(.id = "1795456235427-6", .ts = TS - 500, .campaign = "spring", .event = "followup",
            .subject = "contact-2", .via = "api"),
    };
    agg_batch *b = batch_of(&conf, 0, ents, NENTS(ents), &res);
    filter_all(b, NULL, NULL, &res);
    size_t n;
    call *v = calls(b, NOW, &n);
    ck_assert_uint_eq(n, 1);
    expect_ops(&v[0], ONLY("S ", "F "),
               ARGS("S contact-2 1795456235426", "F contact-1 1795456236426", "S contact-3 1795456237426",
                    "F contact-2 1795456234926"));
    expect_ops(&v[0], ONLY("H " SP " "),
               ARGS("H " SP " signup 3", "H " SP " machine_signup 1", "H " SP " followup 2",
                    "H " SP " anonymous 1"));
    expect_ops(&v[0], ONLY("lo ", "hi "), ARGS("lo first_ts 1795456234926", "hi last_ts 1795456239426"));
    agg_batch_free(b);
}
END_TEST

/* Builds the suite. */
static Suite *batch_suite(void)
{
    Suite *s = suite_create("agg_batch");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, reads_per_campaign);
    tcase_add_test(tc, campaigns_in_stream_order);
    tcase_add_test(tc, malformed_shapes);
    tcase_add_test(tc, malformed_fields);
    tcase_add_test(tc, counts_human_and_machine);
    tcase_add_test(tc, uniques_and_anonymous);
    tcase_add_test(tc, scroll_buckets);
    tcase_add_test(tc, ref_leaderboards);
    tcase_add_test(tc, unverified_credit);
    tcase_add_test(tc, signup_followup_ops);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite. Returns 0 if every test passed, 1 otherwise. */
int main(void)
{
    return unit_run(batch_suite());
}

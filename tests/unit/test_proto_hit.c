/* test_proto_hit.c: unit tests of proto/hit.c — names, validation, query/form and JSON parsing, finish rules. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hit.h"
#include "guard.h"

/* Parses q into a fresh hit and, if that succeeds, finishes it for via;
 * returns the first reason. */
static proto_reason pq(proto_hit *h, const char *q, proto_via via)
{
    proto_hit_init(h);
    proto_reason r = proto_hit_parse_query(h, q, strlen(q));
    if (r != PROTO_OK)
        return r;
    return proto_hit_finish(h, via);
}

/* Parses and finishes q on the pixel; returns the reason. */
static proto_reason px(const char *q)
{
    proto_hit h;
    return pq(&h, q, PROTO_VIA_PIXEL);
}

/* Returns a heap string of n copies of c (caller frees). */
static char *rep(char c, size_t n)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

/* Parses "c=x&<name>=<value of n copies of ch>" on the pixel; returns the reason. */
static proto_reason px_len(const char *prefix, char ch, size_t n)
{
    char *v = rep(ch, n);
    size_t cap = strlen(prefix) + n + 1;
    char *q = malloc(cap);
    ck_assert_ptr_nonnull(q);
    snprintf(q, cap, "%s%s", prefix, v);
    proto_reason r = px(q);
    free(q);
    free(v);
    return r;
}

/* Checks every reason, via and agent name; fails on a wrong or repeated name. */
START_TEST(names)
{
    ck_assert_str_eq(proto_reason_name(PROTO_OK), "ok");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_ENCODING), "bad_encoding");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_TOO_MANY), "too_many_params");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_DUPLICATE), "duplicate_param");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_NO_CAMPAIGN), "missing_campaign");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_CAMPAIGN), "bad_campaign");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_EVENT), "bad_event");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_NO_SUBJECT), "missing_subject");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_SUBJECT), "bad_subject");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_REF), "bad_ref");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_CHANNEL), "bad_channel");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_DEPTH), "bad_depth");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_VALUE), "bad_value");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_GOAL), "bad_goal");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_CLIENT_TS), "bad_client_ts");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_NONCE), "bad_nonce");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_TO), "bad_to");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_NO_TO), "missing_to");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_NO_SIG), "missing_signature");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_SIG), "bad_signature");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_FOLLOWUP), "followup_forbidden");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_BODY), "bad_body");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_JSON), "bad_json");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_BATCH), "batch_too_large");
    ck_assert_str_eq(proto_reason_name(PROTO_ERR_SPOOL_FULL), "spool_full");
    ck_assert_str_eq(proto_reason_name(PROTO_REASON_COUNT), "unknown");
    /* all distinct */
    for (int i = 0; i < PROTO_REASON_COUNT; i++)
        for (int j = i + 1; j < PROTO_REASON_COUNT; j++)
            ck_assert_str_ne(proto_reason_name((proto_reason)i), proto_reason_name((proto_reason)j));
    ck_assert_str_eq(proto_via_name(PROTO_VIA_PIXEL), "pixel");
    ck_assert_str_eq(proto_via_name(PROTO_VIA_BEACON), "beacon");
    ck_assert_str_eq(proto_via_name(PROTO_VIA_CLICK), "click");
    ck_assert_str_eq(proto_via_name(PROTO_VIA_API), "api");
    ck_assert_str_eq(proto_via_name(PROTO_VIA_COUNT), "unknown");
    ck_assert_str_eq(proto_agent_name(PROTO_AGENT_HUMAN), "human");
    ck_assert_str_eq(proto_agent_name(PROTO_AGENT_BOT), "bot");
    ck_assert_str_eq(proto_agent_name(PROTO_AGENT_MAILPROXY), "mailproxy");
    ck_assert_str_eq(proto_agent_name(PROTO_AGENT_COUNT), "unknown");
}
END_TEST

/* Checks that init marks every field absent; fails on a leftover value. */
START_TEST(init_absent)
{
    proto_hit h;
    memset(&h, 0x5A, sizeof h);
    proto_hit_init(&h);
    ck_assert_str_eq(h.campaign, "");
    ck_assert_str_eq(h.event, "");
    ck_assert_str_eq(h.to, "");
    ck_assert_str_eq(h.ua, "");
    ck_assert_int_eq(h.depth, -1);
    ck_assert_int_eq(h.value, -1);
    ck_assert_int_eq(h.client_ts, -1);
    ck_assert_int_eq(h.ts, -1);
}
END_TEST

/* Parses a query using every parameter; fails on any field mismatch. */
START_TEST(parse_full_query)
{
    proto_hit h;
    const char *q = "c=spring-2026&e=donate&s=contact%3A42+x&ref=ann.b&ch=email&v=2500&g=match_gift"
                    "&t=1700000000123&n=r4nd0m&utm_source=news&cb=123";
    ck_assert_int_eq(pq(&h, q, PROTO_VIA_PIXEL), PROTO_OK);
    ck_assert_str_eq(h.campaign, "spring-2026");
    ck_assert_str_eq(h.event, "donate");
    ck_assert_str_eq(h.subject, "contact:42 x");
    ck_assert_str_eq(h.ref, "ann.b");
    ck_assert_str_eq(h.channel, "email");
    ck_assert_int_eq(h.value, 2500);
    ck_assert_str_eq(h.goal, "match_gift");
    ck_assert_int_eq(h.client_ts, 1700000000123LL);
    ck_assert_str_eq(h.nonce, "r4nd0m");
    ck_assert_int_eq(h.depth, -1);
    ck_assert_int_eq(h.via, PROTO_VIA_PIXEL);
}
END_TEST

/* Checks the default event per endpoint and the `to` rule; fails on a wrong default. */
START_TEST(defaults_by_via)
{
    proto_hit h;
    ck_assert_int_eq(pq(&h, "c=a", PROTO_VIA_PIXEL), PROTO_OK);
    ck_assert_str_eq(h.event, "view");
    ck_assert_int_eq(pq(&h, "c=a", PROTO_VIA_BEACON), PROTO_OK);
    ck_assert_str_eq(h.event, "view");
    ck_assert_int_eq(h.via, PROTO_VIA_BEACON);
    ck_assert_int_eq(pq(&h, "c=a", PROTO_VIA_API), PROTO_OK);
    ck_assert_str_eq(h.event, "view");
    ck_assert_int_eq(pq(&h, "c=a&to=https%3A%2F%2Fexample.org%2F", PROTO_VIA_CLICK), PROTO_OK);
    ck_assert_str_eq(h.event, "click");
    ck_assert_str_eq(h.to, "https://example.org/");
    ck_assert_int_eq(h.via, PROTO_VIA_CLICK);
    /* click without to */
    ck_assert_int_eq(pq(&h, "c=a", PROTO_VIA_CLICK), PROTO_ERR_NO_TO);
    ck_assert_int_eq(pq(&h, "c=a&to=", PROTO_VIA_CLICK), PROTO_ERR_NO_TO);
}
END_TEST

/* Checks accepted and rejected campaign ids; fails on a wrong verdict. */
START_TEST(rule_campaign)
{
    ck_assert_int_eq(px("c=A.b_c-9"), PROTO_OK);
    ck_assert_int_eq(px_len("c=", 'x', 64), PROTO_OK);
    ck_assert_int_eq(px_len("c=", 'x', 65), PROTO_ERR_CAMPAIGN);
    ck_assert_int_eq(px("c=a%20b"), PROTO_ERR_CAMPAIGN);
    ck_assert_int_eq(px("c=a/b"), PROTO_ERR_CAMPAIGN);
    ck_assert_int_eq(px("c=%7Bx%7D"), PROTO_ERR_CAMPAIGN);     /* {x}: would break the hash tag */
    ck_assert_int_eq(px("c=%C3%A9"), PROTO_ERR_CAMPAIGN);
    ck_assert_int_eq(px("c=a:b"), PROTO_ERR_CAMPAIGN);
    ck_assert_int_eq(px(""), PROTO_ERR_NO_CAMPAIGN);
    ck_assert_int_eq(px("e=open"), PROTO_ERR_NO_CAMPAIGN);
    ck_assert_int_eq(px("c="), PROTO_ERR_NO_CAMPAIGN);
    ck_assert_int_eq(px("c&e=open"), PROTO_ERR_NO_CAMPAIGN);
    ck_assert_int_eq(px("C=abc"), PROTO_ERR_NO_CAMPAIGN);      /* names are case-sensitive */
}
END_TEST

/* Checks built-in, custom and invalid events; fails on a wrong verdict. */
START_TEST(rule_event)
{
    static const char *ok[] = { "open", "view", "click", "scroll&d=50", "signup&s=x", "donate",
                                "convert", "petition_signed", "a", "x9_", "share2" };
    char q[128];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        snprintf(q, sizeof q, "c=x&e=%s", ok[i]);
        ck_assert_msg(px(q) == PROTO_OK, "%s", q);
    }
    ck_assert_int_eq(px_len("c=x&e=a", 'b', 31), PROTO_OK);    /* 32 bytes */
    ck_assert_int_eq(px_len("c=x&e=a", 'b', 32), PROTO_ERR_EVENT);
    static const char *bad[] = { "Open", "9lives", "_x", "a-b", "a.b", "a%20b", "%C3%A9", "OPEN" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(q, sizeof q, "c=x&e=%s", bad[i]);
        ck_assert_msg(px(q) == PROTO_ERR_EVENT, "%s", q);
    }
    ck_assert_int_eq(px("c=x&e="), PROTO_OK);                  /* empty: default */
}
END_TEST

/* Checks subject syntax, length and the signup/followup requirement; fails on a wrong verdict. */
START_TEST(rule_subject)
{
    proto_hit h;
    ck_assert_int_eq(pq(&h, "c=x&s=J%C3%BCrgen+%E2%82%AC+%F0%9F%98%80~%21", PROTO_VIA_PIXEL), PROTO_OK);
    ck_assert_str_eq(h.subject, "J\xC3\xBCrgen \xE2\x82\xAC \xF0\x9F\x98\x80~!");
    ck_assert_int_eq(px_len("c=x&s=", 's', 128), PROTO_OK);
    ck_assert_int_eq(px_len("c=x&s=", 's', 129), PROTO_ERR_SUBJECT);
    ck_assert_int_eq(px_len("c=x&s=", 's', 5000), PROTO_ERR_SUBJECT);   /* over the scratch buffer */
    ck_assert_int_eq(px("c=x&s=a%0Ab"), PROTO_ERR_SUBJECT);     /* LF */
    ck_assert_int_eq(px("c=x&s=a%09b"), PROTO_ERR_SUBJECT);     /* TAB */
    ck_assert_int_eq(px("c=x&s=a%7Fb"), PROTO_ERR_SUBJECT);     /* DEL */
    ck_assert_int_eq(px("c=x&s=a%C2%85b"), PROTO_ERR_SUBJECT);  /* C1 NEL */
    ck_assert_int_eq(px("c=x&s=a%C2%A0b"), PROTO_OK);           /* NBSP is printable */
    ck_assert_int_eq(px("c=x&e=signup"), PROTO_ERR_NO_SUBJECT);
    ck_assert_int_eq(px("c=x&e=signup&s="), PROTO_ERR_NO_SUBJECT);
    ck_assert_int_eq(px("c=x&e=signup&s=42"), PROTO_OK);
    ck_assert_int_eq(pq(&h, "c=x&e=followup", PROTO_VIA_API), PROTO_ERR_NO_SUBJECT);
    ck_assert_int_eq(pq(&h, "c=x&e=followup&s=42", PROTO_VIA_API), PROTO_OK);
}
END_TEST

/* Checks that followup passes only through the API; fails otherwise. */
START_TEST(rule_followup_api_only)
{
    proto_hit h;
    ck_assert_int_eq(pq(&h, "c=x&e=followup&s=1", PROTO_VIA_PIXEL), PROTO_ERR_FOLLOWUP);
    ck_assert_int_eq(pq(&h, "c=x&e=followup&s=1", PROTO_VIA_BEACON), PROTO_ERR_FOLLOWUP);
    ck_assert_int_eq(pq(&h, "c=x&e=followup&s=1&to=https%3A%2F%2Fa.org", PROTO_VIA_CLICK),
                     PROTO_ERR_FOLLOWUP);
    ck_assert_int_eq(pq(&h, "c=x&e=followup&s=1", PROTO_VIA_API), PROTO_OK);
}
END_TEST

/* Checks ref, goal and channel syntax and lengths; fails on a wrong verdict. */
START_TEST(rule_ref_goal_channel)
{
    ck_assert_int_eq(px("c=x&ref=Ann_B-1.x"), PROTO_OK);
    ck_assert_int_eq(px_len("c=x&ref=", 'r', 64), PROTO_OK);
    ck_assert_int_eq(px_len("c=x&ref=", 'r', 65), PROTO_ERR_REF);
    ck_assert_int_eq(px("c=x&ref=a+b"), PROTO_ERR_REF);
    ck_assert_int_eq(px("c=x&ref=a@b"), PROTO_ERR_REF);
    ck_assert_int_eq(px("c=x&g=Goal.1"), PROTO_OK);
    ck_assert_int_eq(px_len("c=x&g=", 'g', 64), PROTO_OK);
    ck_assert_int_eq(px_len("c=x&g=", 'g', 65), PROTO_ERR_GOAL);
    ck_assert_int_eq(px("c=x&g=a,b"), PROTO_ERR_GOAL);
    ck_assert_int_eq(px("c=x&ch=email"), PROTO_OK);
    ck_assert_int_eq(px("c=x&ch=web-2_x"), PROTO_OK);
    ck_assert_int_eq(px_len("c=x&ch=", 'c', 32), PROTO_OK);
    ck_assert_int_eq(px_len("c=x&ch=", 'c', 33), PROTO_ERR_CHANNEL);
    ck_assert_int_eq(px("c=x&ch=Email"), PROTO_ERR_CHANNEL);
    ck_assert_int_eq(px("c=x&ch=e.mail"), PROTO_ERR_CHANNEL);
}
END_TEST

/* Checks d: integer 0-100, only and required on scroll; fails on a wrong verdict. */
START_TEST(rule_depth)
{
    proto_hit h;
    ck_assert_int_eq(pq(&h, "c=x&e=scroll&d=0", PROTO_VIA_PIXEL), PROTO_OK);
    ck_assert_int_eq(h.depth, 0);
    ck_assert_int_eq(pq(&h, "c=x&e=scroll&d=100", PROTO_VIA_PIXEL), PROTO_OK);
    ck_assert_int_eq(h.depth, 100);
    ck_assert_int_eq(pq(&h, "c=x&e=scroll&d=075", PROTO_VIA_PIXEL), PROTO_OK);
    ck_assert_int_eq(h.depth, 75);
    ck_assert_int_eq(px("c=x&e=scroll&d=101"), PROTO_ERR_DEPTH);
    ck_assert_int_eq(px("c=x&e=scroll&d=-1"), PROTO_ERR_DEPTH);
    ck_assert_int_eq(px("c=x&e=scroll&d=%2B5"), PROTO_ERR_DEPTH);
    ck_assert_int_eq(px("c=x&e=scroll&d=+5"), PROTO_ERR_DEPTH);   /* '+' decodes to space */
    ck_assert_int_eq(px("c=x&e=scroll&d=5.0"), PROTO_ERR_DEPTH);
    ck_assert_int_eq(px("c=x&e=scroll&d=0x10"), PROTO_ERR_DEPTH);
    ck_assert_int_eq(px("c=x&e=scroll&d=%D9%A5"), PROTO_ERR_DEPTH); /* Arabic-Indic five */
    ck_assert_int_eq(px("c=x&e=scroll"), PROTO_ERR_DEPTH);        /* required on scroll */
    ck_assert_int_eq(px("c=x&e=scroll&d="), PROTO_ERR_DEPTH);
    ck_assert_int_eq(px("c=x&e=view&d=50"), PROTO_ERR_DEPTH);     /* only on scroll */
    ck_assert_int_eq(px("c=x&d=50"), PROTO_ERR_DEPTH);
}
END_TEST

/* Checks v: non-negative integer, only on donate/convert/custom; fails on a wrong verdict. */
START_TEST(rule_value)
{
    proto_hit h;
    ck_assert_int_eq(pq(&h, "c=x&e=donate&v=0", PROTO_VIA_PIXEL), PROTO_OK);
    ck_assert_int_eq(h.value, 0);
    ck_assert_int_eq(pq(&h, "c=x&e=convert&v=9223372036854775807", PROTO_VIA_PIXEL), PROTO_OK);
    ck_assert_int_eq(h.value, INT64_MAX);
    ck_assert_int_eq(pq(&h, "c=x&e=petition&v=5", PROTO_VIA_PIXEL), PROTO_OK);   /* custom */
    ck_assert_int_eq(px("c=x&e=donate"), PROTO_OK);                               /* optional */
    ck_assert_int_eq(px("c=x&e=donate&v=9223372036854775808"), PROTO_ERR_VALUE);  /* overflow */
    ck_assert_int_eq(px("c=x&e=donate&v=99999999999999999999"), PROTO_ERR_VALUE);
    ck_assert_int_eq(px("c=x&e=donate&v=-5"), PROTO_ERR_VALUE);
    ck_assert_int_eq(px("c=x&e=donate&v=%2B5"), PROTO_ERR_VALUE);
    ck_assert_int_eq(px("c=x&e=donate&v=12.50"), PROTO_ERR_VALUE);
    ck_assert_int_eq(px("c=x&e=donate&v=1e3"), PROTO_ERR_VALUE);
    static const char *no_value[] = { "open", "view", "scroll&d=1", "signup&s=1" };
    char q[64];
    for (size_t i = 0; i < sizeof no_value / sizeof no_value[0]; i++) {
        snprintf(q, sizeof q, "c=x&v=5&e=%s", no_value[i]);
        ck_assert_msg(px(q) == PROTO_ERR_VALUE, "%s", q);
    }
    ck_assert_int_eq(pq(&h, "c=x&v=5&to=https%3A%2F%2Fa.org", PROTO_VIA_CLICK), PROTO_ERR_VALUE);
    ck_assert_int_eq(pq(&h, "c=x&v=5&e=followup&s=1", PROTO_VIA_API), PROTO_ERR_VALUE);
}
END_TEST

/* Checks t: at most 16 digits; fails on a wrong verdict. */
START_TEST(rule_client_ts)
{
    proto_hit h;
    ck_assert_int_eq(pq(&h, "c=x&t=1700000000000", PROTO_VIA_PIXEL), PROTO_OK);
    ck_assert_int_eq(h.client_ts, 1700000000000LL);
    ck_assert_int_eq(pq(&h, "c=x&t=9999999999999999", PROTO_VIA_PIXEL), PROTO_OK);  /* 16 digits */
    ck_assert_int_eq(px("c=x&t=10000000000000000"), PROTO_ERR_CLIENT_TS);            /* 17 */
    ck_assert_int_eq(px("c=x&t=-1"), PROTO_ERR_CLIENT_TS);
    ck_assert_int_eq(px("c=x&t=17e11"), PROTO_ERR_CLIENT_TS);
    ck_assert_int_eq(px("c=x&t=now"), PROTO_ERR_CLIENT_TS);
}
END_TEST

/* Checks n: printable, at most 64 bytes; fails on a wrong verdict. */
START_TEST(rule_nonce)
{
    proto_hit h;
    ck_assert_int_eq(pq(&h, "c=x&n=abc-123+%C3%A9", PROTO_VIA_PIXEL), PROTO_OK);
    ck_assert_str_eq(h.nonce, "abc-123 \xC3\xA9");
    ck_assert_int_eq(px_len("c=x&n=", 'n', 64), PROTO_OK);
    ck_assert_int_eq(px_len("c=x&n=", 'n', 65), PROTO_ERR_NONCE);
    ck_assert_int_eq(px("c=x&n=a%0Db"), PROTO_ERR_NONCE);
    ck_assert_int_eq(px("c=x&n=a%01"), PROTO_ERR_NONCE);
}
END_TEST

/* Checks redirect targets through the query; fails on a wrong verdict. */
START_TEST(rule_to)
{
    proto_hit h;
    ck_assert_int_eq(pq(&h, "c=x&to=https%3A%2F%2Fexample.org%2Fa%3Fb%3D1", PROTO_VIA_CLICK), PROTO_OK);
    ck_assert_str_eq(h.to, "https://example.org/a?b=1");
    ck_assert_int_eq(pq(&h, "c=x&to=//evil.example", PROTO_VIA_CLICK), PROTO_ERR_TO);
    ck_assert_int_eq(pq(&h, "c=x&to=https%3A%2F%2Fok.example%40evil.example", PROTO_VIA_CLICK), PROTO_ERR_TO);
    ck_assert_int_eq(pq(&h, "c=x&to=javascript%3Aalert(1)", PROTO_VIA_CLICK), PROTO_ERR_TO);
    ck_assert_int_eq(pq(&h, "c=x&to=https%3A%2F%2Fa.org%0D%0ASet-Cookie%3A+x", PROTO_VIA_CLICK), PROTO_ERR_TO);
    ck_assert_int_eq(pq(&h, "c=x&to=http%3A%2F%2F%2Fx", PROTO_VIA_CLICK), PROTO_ERR_TO);
    /* 2048 bytes ok, 2049 refused, far longer refused */
    ck_assert_int_eq(px_len("c=x&to=https://a.org/", 'p', 2048 - 14), PROTO_OK);
    ck_assert_int_eq(px_len("c=x&to=https://a.org/", 'p', 2049 - 14), PROTO_ERR_TO);
    ck_assert_int_eq(px_len("c=x&to=https://a.org/", 'p', 10000), PROTO_ERR_TO);
}
END_TEST

/* Checks sig: exactly 22 base64url characters; fails on a wrong verdict. */
START_TEST(rule_sig)
{
    proto_hit h;
    ck_assert_int_eq(pq(&h, "c=x&sig=AbCdEfGhIjKlMnOpQr-_09", PROTO_VIA_PIXEL), PROTO_OK);
    ck_assert_str_eq(h.sig, "AbCdEfGhIjKlMnOpQr-_09");
    ck_assert_int_eq(px("c=x&sig=AbCdEfGhIjKlMnOpQr-_0"), PROTO_ERR_SIG);     /* 21 */
    ck_assert_int_eq(px("c=x&sig=AbCdEfGhIjKlMnOpQr-_091"), PROTO_ERR_SIG);   /* 23 */
    ck_assert_int_eq(px("c=x&sig=AbCdEfGhIjKlMnOpQr%2B%2F09"), PROTO_ERR_SIG); /* +/ base64 */
    ck_assert_int_eq(px("c=x&sig=AbCdEfGhIjKlMnOpQr-_0="), PROTO_ERR_SIG);
}
END_TEST

/* Checks bad encoding anywhere, duplicates and the parameter cap; fails on a wrong reason. */
START_TEST(encoding_and_limits)
{
    ck_assert_int_eq(px("c=x&s=%ZZ"), PROTO_ERR_ENCODING);
    ck_assert_int_eq(px("c=x&s=%4"), PROTO_ERR_ENCODING);
    ck_assert_int_eq(px("c=x&s=a%00b"), PROTO_ERR_ENCODING);
    ck_assert_int_eq(px("c=x&s=%C3%28"), PROTO_ERR_ENCODING);
    ck_assert_int_eq(px("c=x&s=%ED%A0%80"), PROTO_ERR_ENCODING);
    /* unknown parameters are ignored but must decode */
    ck_assert_int_eq(px("c=x&utm_source=news%20letter&_=1"), PROTO_OK);
    ck_assert_int_eq(px("c=x&utm_source=%G0"), PROTO_ERR_ENCODING);
    ck_assert_int_eq(px("c=x&%G0=1"), PROTO_ERR_ENCODING);
    ck_assert_int_eq(px("c=x&a_very_long_unknown_parameter_name%=1"), PROTO_ERR_ENCODING);
    ck_assert_int_eq(px_len("c=x&junk=%C3%A9", 'j', 9000), PROTO_OK);
    /* an escaped known name is the same parameter */
    ck_assert_int_eq(px("%63=x"), PROTO_OK);
    ck_assert_int_eq(px("c=x&%63=y"), PROTO_ERR_DUPLICATE);
    /* duplicates of known parameters, also when one is empty */
    ck_assert_int_eq(px("c=x&c=x"), PROTO_ERR_DUPLICATE);
    ck_assert_int_eq(px("c=x&e=open&e=view"), PROTO_ERR_DUPLICATE);
    ck_assert_int_eq(px("c=x&s=&s=a"), PROTO_ERR_DUPLICATE);
    ck_assert_int_eq(px("c=x&utm=1&utm=2"), PROTO_OK);
    /* PROTO_PARAMS_MAX parameters pass, one more is too many */
    char q[PROTO_PARAMS_MAX * 8 + 16];
    strcpy(q, "c=x");
    for (int i = 1; i < PROTO_PARAMS_MAX; i++) {
        char one[16];
        snprintf(one, sizeof one, "&u%d=1", i);
        strcat(q, one);
    }
    ck_assert_int_eq(px(q), PROTO_OK);
    strcat(q, "&z=1");
    ck_assert_int_eq(px(q), PROTO_ERR_TOO_MANY);
}
END_TEST

/* Calls proto_hit_set directly with unterminated values; fails on a wrong result. */
START_TEST(set_direct)
{
    proto_hit h;
    unsigned seen = 0;
    proto_hit_init(&h);
    ck_assert_int_eq(proto_hit_set(&h, &seen, "c", 1, "camp", 4), PROTO_OK);
    ck_assert_str_eq(h.campaign, "camp");
    /* value is not NUL-terminated: only value_len bytes are taken */
    ck_assert_int_eq(proto_hit_set(&h, &seen, "e", 1, "openXYZ", 4), PROTO_OK);
    ck_assert_str_eq(h.event, "open");
    ck_assert_int_eq(proto_hit_set(&h, &seen, "cx", 1, "other", 5), PROTO_ERR_DUPLICATE);
    ck_assert_int_eq(proto_hit_set(&h, &seen, "whatever", 8, "\x01\x02", 2), PROTO_OK);
    ck_assert_int_eq(proto_hit_set(&h, &seen, "d", 1, "x", 1), PROTO_ERR_DEPTH);
    ck_assert_int_eq(proto_hit_set(&h, &seen, "v", 1, "1", 1), PROTO_OK);
    ck_assert_int_eq(h.value, 1);
}
END_TEST

/* Parses inputs that end at a PROT_NONE page; crashes on any over-read. */
START_TEST(guard_page_query)
{
    static const char *cases[] = {
        "c=x&s=abc%", "c=x&s=abc%4", "c=x&s=%C3", "c=x&e", "c=x&e=", "c=x&", "c=x&d=10",
        "c=x&to=https%3A%2F%2Fa.org", "c=x&sig=AbCdEfGhIjKlMnOpQr-_09", "c", "c=",
        "c=x&utm=%", "c=x&t=1", "c=x&v=9", "c=x&n=abc", "c=x&ref=a&ch=b&g=c",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = strlen(cases[i]);
        proto_hit a, b;
        proto_hit_init(&a);
        proto_reason want = proto_hit_parse_query(&a, cases[i], len);
        char *p = guarded(cases[i], len);
        ck_assert_ptr_nonnull(p);
        proto_hit_init(&b);
        ck_assert_int_eq(proto_hit_parse_query(&b, p, len), want);
    }
    /* JSON bodies ending at the guard */
    static const char *js[] = { "{\"c\":\"x\"}", "[{\"c\":\"x\",\"d\":5}]", "{\"c\":\"x", "[", "{\"c\":1e" };
    for (size_t i = 0; i < sizeof js / sizeof js[0]; i++) {
        size_t len = strlen(js[i]);
        proto_reason want = proto_hit_parse_json(js[i], len, NULL, NULL);
        char *p = guarded(js[i], len);
        ck_assert_ptr_nonnull(p);
        ck_assert_int_eq(proto_hit_parse_json(p, len, NULL, NULL), want);
    }
}
END_TEST

/* Collected results of a JSON parse. */
typedef struct {
    int calls;
    int stop_after;
    proto_reason r[PROTO_BATCH_MAX + 2];
    proto_hit first;
    proto_hit last;
} collect_t;

/* Records one callback; returns 1 to stop after stop_after calls, else 0. */
static int collect(void *arg, proto_hit *hit, proto_reason r)
{
    collect_t *c = arg;
    if (c->calls < PROTO_BATCH_MAX + 2)
        c->r[c->calls] = r;
    if (c->calls == 0)
        c->first = *hit;
    c->last = *hit;
    c->calls++;
    return c->stop_after && c->calls >= c->stop_after;
}

/* Parses a NUL-terminated JSON body into c; returns the body reason. */
static proto_reason pj(const char *body, collect_t *c)
{
    memset(c, 0, sizeof *c);
    return proto_hit_parse_json(body, strlen(body), collect, c);
}

/* Parses single JSON objects with strings and numbers; fails on a wrong field. */
START_TEST(json_single_object)
{
    collect_t c;
    ck_assert_int_eq(pj("{\"c\":\"spring\",\"e\":\"donate\",\"s\":\"J\\u00fcrgen %41\",\"v\":2500,"
                        "\"t\":1700000000123,\"n\":\"abc\",\"utm\":{\"x\":1}}", &c), PROTO_OK);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(c.r[0], PROTO_OK);
    ck_assert_str_eq(c.first.campaign, "spring");
    ck_assert_str_eq(c.first.event, "donate");
    ck_assert_str_eq(c.first.subject, "J\xC3\xBCrgen %41");     /* literal, not percent-decoded */
    ck_assert_int_eq(c.first.value, 2500);
    ck_assert_int_eq(c.first.client_ts, 1700000000123LL);
    ck_assert_str_eq(c.first.nonce, "abc");
    /* numbers as strings work too, and d as a number */
    ck_assert_int_eq(pj("{\"c\":\"x\",\"e\":\"scroll\",\"d\":\"50\",\"v\":\"7\",\"t\":\"12\"}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_OK);
    ck_assert_int_eq(c.first.depth, 50);
    ck_assert_int_eq(c.first.value, 7);
    ck_assert_int_eq(c.first.client_ts, 12);
    ck_assert_int_eq(pj(" {\"c\":\"x\",\"e\":\"scroll\",\"d\":100} \r\n", &c), PROTO_OK);
    ck_assert_int_eq(c.first.depth, 100);
    /* the hit is not finished: no default event */
    ck_assert_int_eq(pj("{\"c\":\"x\"}", &c), PROTO_OK);
    ck_assert_str_eq(c.first.event, "");
    ck_assert_int_eq(proto_hit_finish(&c.first, PROTO_VIA_BEACON), PROTO_OK);
    ck_assert_str_eq(c.first.event, "view");
    /* an empty object is a hit without campaign */
    ck_assert_int_eq(pj("{}", &c), PROTO_OK);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(proto_hit_finish(&c.first, PROTO_VIA_BEACON), PROTO_ERR_NO_CAMPAIGN);
}
END_TEST

/* Checks JSON number rules and wrong types; fails on a wrong reason. */
START_TEST(json_numbers_and_types)
{
    collect_t c;
    ck_assert_int_eq(pj("{\"c\":\"x\",\"d\":50.5}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_DEPTH);
    ck_assert_int_eq(pj("{\"c\":\"x\",\"d\":101}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_DEPTH);
    ck_assert_int_eq(pj("{\"c\":\"x\",\"v\":-1}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_VALUE);
    ck_assert_int_eq(pj("{\"c\":\"x\",\"v\":1e300}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_VALUE);
    ck_assert_int_eq(pj("{\"c\":\"x\",\"v\":1e3}", &c), PROTO_OK);   /* integral */
    ck_assert_int_eq(c.r[0], PROTO_OK);
    ck_assert_int_eq(c.first.value, 1000);
    ck_assert_int_eq(pj("{\"c\":\"x\",\"t\":12345678901234567}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_CLIENT_TS);
    /* wrong types */
    ck_assert_int_eq(pj("{\"c\":42}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_JSON);
    ck_assert_int_eq(pj("{\"c\":\"x\",\"s\":true}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_JSON);
    ck_assert_int_eq(pj("{\"c\":\"x\",\"e\":null}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_JSON);
    ck_assert_int_eq(pj("{\"c\":\"x\",\"d\":[1]}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_JSON);
    /* field rules apply to strings */
    ck_assert_int_eq(pj("{\"c\":\"a b\"}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_CAMPAIGN);
    ck_assert_int_eq(pj("{\"c\":\"x\",\"s\":\"a\\nb\"}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_SUBJECT);
    ck_assert_int_eq(pj("{\"c\":\"x\",\"c\":\"y\"}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_DUPLICATE);
    /* unknown keys: any type */
    ck_assert_int_eq(pj("{\"c\":\"x\",\"extra\":[1,2],\"z\":null,\"b\":false}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_OK);
}
END_TEST

/* Parses JSON arrays, good and with non-object items; fails on a wrong result. */
START_TEST(json_arrays)
{
    collect_t c;
    ck_assert_int_eq(pj("[{\"c\":\"a\"},{\"c\":\"b\",\"e\":\"Bad\"},{\"c\":\"c\",\"e\":\"scroll\",\"d\":25}]", &c),
                     PROTO_OK);
    ck_assert_int_eq(c.calls, 3);
    ck_assert_int_eq(c.r[0], PROTO_OK);
    ck_assert_int_eq(c.r[1], PROTO_ERR_EVENT);
    ck_assert_int_eq(c.r[2], PROTO_OK);
    ck_assert_str_eq(c.first.campaign, "a");
    ck_assert_str_eq(c.last.campaign, "c");
    ck_assert_int_eq(c.last.depth, 25);
    /* each object starts from a fresh hit */
    ck_assert_int_eq(pj("[{\"c\":\"a\",\"s\":\"x\"},{\"c\":\"b\"}]", &c), PROTO_OK);
    ck_assert_str_eq(c.last.subject, "");
    /* empty array: nothing to do */
    ck_assert_int_eq(pj("[]", &c), PROTO_OK);
    ck_assert_int_eq(c.calls, 0);
    /* non-object item: the whole body is bad, no callback */
    ck_assert_int_eq(pj("[{\"c\":\"a\"},\"x\"]", &c), PROTO_ERR_JSON);
    ck_assert_int_eq(c.calls, 0);
    ck_assert_int_eq(pj("[{\"c\":\"a\"},[]]", &c), PROTO_ERR_JSON);
    ck_assert_int_eq(pj("[1]", &c), PROTO_ERR_JSON);
    ck_assert_int_eq(pj("[null]", &c), PROTO_ERR_JSON);
    /* the callback can stop the batch */
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    const char *b = "[{\"c\":\"a\"},{\"c\":\"b\"},{\"c\":\"c\"}]";
    ck_assert_int_eq(proto_hit_parse_json(b, strlen(b), collect, &c), PROTO_OK);
    ck_assert_int_eq(c.calls, 2);
}
END_TEST

/* Builds a JSON array of n small objects into a heap string (caller frees). */
static char *array_of(int n)
{
    size_t cap = (size_t)n * 16 + 8;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    size_t l = 0;
    s[l++] = '[';
    for (int i = 0; i < n; i++)
        l += (size_t)snprintf(s + l, cap - l, "%s{\"c\":\"c%d\"}", i ? "," : "", i);
    s[l++] = ']';
    s[l] = '\0';
    return s;
}

/* Checks 100 objects pass and 101 give batch_too_large; fails otherwise. */
START_TEST(json_batch_limit)
{
    collect_t c;
    char *s = array_of(PROTO_BATCH_MAX);
    ck_assert_int_eq(pj(s, &c), PROTO_OK);
    ck_assert_int_eq(c.calls, PROTO_BATCH_MAX);
    ck_assert_str_eq(c.last.campaign, "c99");
    free(s);
    s = array_of(PROTO_BATCH_MAX + 1);
    ck_assert_int_eq(pj(s, &c), PROTO_ERR_BATCH);
    ck_assert_int_eq(c.calls, 0);
    free(s);
}
END_TEST

/* Checks malformed, too deep and NUL-carrying bodies; fails if one is accepted. */
START_TEST(json_bad_shapes)
{
    static const char *bad[] = {
        "", " ", "null", "true", "42", "\"c=x\"", "{", "[", "{\"c\":\"x\"", "{\"c\":\"x\"}x",
        "{\"c\":\"x\"}{\"c\":\"y\"}", "[{\"c\":\"x\"}],", "{c:\"x\"}", "{'c':'x'}",
        "[[{\"c\":\"x\"}]]",                       /* nesting 3 */
        "[{\"c\":\"x\",\"u\":{\"a\":1}}]",           /* nesting 3 */
        "{\"c\":\"x\",\"u\":{\"a\":{\"b\":1}}}",     /* nesting 3 */
        "{\"c\":\"a\\u0000b\"}",                   /* NUL escape */
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    };
    collect_t c;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(pj(bad[i], &c) == PROTO_ERR_JSON, "accepted %s", bad[i]);
        ck_assert_int_eq(c.calls, 0);
    }
    /* a raw NUL inside the length */
    ck_assert_int_eq(proto_hit_parse_json("{\"c\":\"x\0\"}", 10, collect, &c), PROTO_ERR_JSON);
    /* brackets and an escaped \\u0000 inside strings are text, not structure */
    ck_assert_int_eq(pj("{\"c\":\"x\",\"s\":\"[[{{\\\\u0000\"}", &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_OK);
    ck_assert_str_eq(c.first.subject, "[[{{\\u0000");
    /* too many keys */
    char body[PROTO_PARAMS_MAX * 16 + 16];
    size_t l = 0;
    l += (size_t)snprintf(body + l, sizeof body - l, "{\"c\":\"x\"");
    for (int i = 0; i < PROTO_PARAMS_MAX; i++)
        l += (size_t)snprintf(body + l, sizeof body - l, ",\"k%d\":1", i);
    snprintf(body + l, sizeof body - l, "}");
    ck_assert_int_eq(pj(body, &c), PROTO_OK);
    ck_assert_int_eq(c.r[0], PROTO_ERR_TOO_MANY);
}
END_TEST

/* Builds the hit suite; never fails. */
static Suite *hit_suite(void)
{
    Suite *s = suite_create("proto_hit");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, names);
    tcase_add_test(tc, init_absent);
    tcase_add_test(tc, parse_full_query);
    tcase_add_test(tc, defaults_by_via);
    tcase_add_test(tc, rule_campaign);
    tcase_add_test(tc, rule_event);
    tcase_add_test(tc, rule_subject);
    tcase_add_test(tc, rule_followup_api_only);
    tcase_add_test(tc, rule_ref_goal_channel);
    tcase_add_test(tc, rule_depth);
    tcase_add_test(tc, rule_value);
    tcase_add_test(tc, rule_client_ts);
    tcase_add_test(tc, rule_nonce);
    tcase_add_test(tc, rule_to);
    tcase_add_test(tc, rule_sig);
    tcase_add_test(tc, encoding_and_limits);
    tcase_add_test(tc, set_direct);
    tcase_add_test(tc, guard_page_query);
    tcase_add_test(tc, json_single_object);
    tcase_add_test(tc, json_numbers_and_types);
    tcase_add_test(tc, json_arrays);
    tcase_add_test(tc, json_batch_limit);
    tcase_add_test(tc, json_bad_shapes);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    return unit_run(hit_suite());
}

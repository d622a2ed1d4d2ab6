/* test_proto_hook.c: inbound hooks — configuration, each source's signature
 * scheme (vectors computed independently with Python's hmac module), and the
 * hits the presets and JSON pointers make of a payload. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "hook.h"
#include "guard.h"

#define NOW INT64_C(1764633600000)      /* 2025-12-02T00:00:00Z */

/* Sets hook keys from "key=value" pairs, then checks; returns the first failure's rc. */
static int conf_hooks(proto_hooks *hs, const char *const kv[], char *err, size_t cap)
{
    memset(hs, 0, sizeof *hs);
    for (int i = 0; kv[i]; i += 2)
        if (proto_hook_conf_set(hs, kv[i], kv[i + 1], err, cap) < 0)
            return -1;
    return proto_hook_conf_check(hs, err, cap);
}

START_TEST(conf_errors_name_the_key)
{
    static const struct { const char *kv[12]; const char *key; } cases[] = {
        {{"crm.source", "hubspot", "crm.campaign", "c", NULL}, "hook.crm.secret"},
        {{"crm.source", "hubspot", "crm.secret", "0123456789abcdef", NULL}, "hook.crm.campaign"},
        {{"crm.secret", "0123456789abcdef", "crm.campaign", "c", NULL}, "hook.crm.source"},
        {{"crm.source", "salesforce", NULL}, "hook.crm.source"},
        {{"crm.campaign", "bad campaign", NULL}, "hook.crm.campaign"},
        {{"crm.subject", "phone", NULL}, "hook.crm.subject"},
        {{"crm.map.x", "Signup", NULL}, "hook.crm.map.x"},
        {{"crm.ptr.kind", "kind", NULL}, "hook.crm.ptr.kind"},
        {{"crm.ptr.colour", "/c", NULL}, "hook.crm.ptr.colour"},
        {{"crm.colour", "red", NULL}, "hook.crm.colour"},
        {{"CRM.source", "hubspot", NULL}, "hook.CRM.source"},
        {{"g.source", "generic", "g.secret", "0123456789abcdef", "g.campaign", "c", "g.ptr.id", "/id", NULL},
         "hook.g.ptr.kind"},
        {{"g.source", "generic", "g.secret", "0123456789abcdef", "g.campaign", "c", "g.event", "signup", NULL},
         "hook.g.ptr.id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        proto_hooks hs;
        char err[256] = "";
        ck_assert_int_eq(conf_hooks(&hs, cases[i].kv, err, sizeof err), -1);
        ck_assert_msg(strstr(err, cases[i].key) != NULL, "case %zu: %s lacks %s", i, err, cases[i].key);
        ck_assert_ptr_null(strchr(err, '\n'));
    }
}
END_TEST

START_TEST(conf_presets_and_overrides)
{
    proto_hooks hs;
    char err[256];
    const char *const kv[] = {"crm.source", "hubspot", "crm.secret", "0123456789abcdef",
                              "crm.campaign", "spring", "crm.map.deal.creation", "convert",
                              "crm.map.contact.creation", "ignore", NULL};
    ck_assert_int_eq(conf_hooks(&hs, kv, err, sizeof err), 0);
    ck_assert_int_eq(hs.n, 1);
    const proto_hook *h = proto_hook_find(&hs, "crm", 3);
    ck_assert_ptr_nonnull(h);
    ck_assert_ptr_null(proto_hook_find(&hs, "cr", 2));
    ck_assert_int_eq(h->subject, PROTO_HOOK_SUBJ_ID);
    ck_assert_str_eq(h->ptr[PROTO_HP_KEY], "/eventId");
    ck_assert_int_eq(h->nmap, 2);           /* the user's contact.creation wins over the preset's */
    ck_assert_str_eq(h->map[1].event, "ignore");
    /* the collector's configuration routes hook.* keys and checks them at the end */
    proto_conf c;
    proto_conf_defaults(&c);
    ck_assert_int_eq(proto_conf_set(&c, "hook.an.source", "actionnetwork", err, sizeof err), 0);
    ck_assert_int_eq(proto_conf_check(&c, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "hook.an.secret"));
    ck_assert_int_eq(c.hook_window_s, 300);
}
END_TEST

/* ---- signatures: vectors from Python's hmac (see each comment) ---- */

typedef struct { const char *names[4], *values[4]; } hdrs;

static const char *get_hdr(void *arg, const char *name, size_t *len)
{
    hdrs *h = arg;
    for (int i = 0; i < 4 && h->names[i]; i++)
        if (strcasecmp(h->names[i], name) == 0) {
            *len = strlen(h->values[i]);
            return h->values[i];
        }
    return NULL;
}

static proto_hook hook_of(proto_hook_source s, const char *secret)
{
    proto_hook h;
    memset(&h, 0, sizeof h);
    snprintf(h.name, sizeof h.name, "t");
    h.source = s;
    snprintf(h.secret, sizeof h.secret, "%s", secret);
    return h;
}

START_TEST(verify_hubspot_v3)
{
    /* base64(hmac.new(b"hubspot-secret-0123", b"POST" + b"https://x.org/api/hooks/t" + body + b"1764633590000", sha256)) */
    const char *body = "[{\"eventId\":1}]";
    proto_hook h = hook_of(PROTO_HOOK_HUBSPOT, "hubspot-secret-0123");
    hdrs hd = {{"X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"},
               {"WpFQRnHzjwwPTZpfrGbD1dJaehj6wBp+tqZonuCpCmY=", "1764633590000"}};
    proto_hook_req r = {"POST", "https://x.org/api/hooks/t", 25, "", 0, body, strlen(body), get_hdr, &hd};
    ck_assert_int_eq(proto_hook_verify(&h, &r, NOW, 300), PROTO_HOOK_AUTH_OK);
    ck_assert_int_eq(proto_hook_verify(&h, &r, NOW + 291000, 300), PROTO_HOOK_AUTH_STALE);
    ck_assert_int_eq(proto_hook_verify(&h, &r, NOW - 311000, 300), PROTO_HOOK_AUTH_STALE);
    ck_assert_int_eq(proto_hook_verify(&h, &r, NOW + 289000, 300), PROTO_HOOK_AUTH_OK);
    r.uri_len = 24;     /* another URL */
    ck_assert_int_eq(proto_hook_verify(&h, &r, NOW, 300), PROTO_HOOK_AUTH_BAD);
    r.uri_len = 25;
    r.body_len--;       /* another body */
    ck_assert_int_eq(proto_hook_verify(&h, &r, NOW, 300), PROTO_HOOK_AUTH_BAD);
    r.body_len++;
    hd.values[1] = "1764633590001";     /* another timestamp */
    ck_assert_int_eq(proto_hook_verify(&h, &r, NOW, 300), PROTO_HOOK_AUTH_BAD);
    hd.names[0] = "X-Other";
    ck_assert_int_eq(proto_hook_verify(&h, &r, NOW, 300), PROTO_HOOK_AUTH_MISSING);
}
END_TEST

START_TEST(verify_listmonk)
{
    /* "sha256=" + hmac.new(b"listmonk-secret-012", b"1764633600." + body, sha256).hexdigest() */
    const char *body = "{\"event\":\"subscriber.created\"}";
    proto_hook h = hook_of(PROTO_HOOK_LISTMONK, "listmonk-secret-012");
    const char *want = "2199f911513c7b406f63d5a05758ad0d1466ebb59a59e37bdbd3fa3adb92fa17";
    char sig[80];
    snprintf(sig, sizeof sig, "sha256=%s", want);
    hdrs hd = {{"X-Listmonk-Signature", "X-Listmonk-Timestamp"}, {sig, "1764633600"}};
    proto_hook_req r = {"POST", "", 0, "", 0, body, strlen(body), get_hdr, &hd};
    hd.values[0] = sig;
    ck_assert_int_eq(proto_hook_verify(&h, &r, NOW, 300), PROTO_HOOK_AUTH_OK);
    hd.values[0] = want;    /* without its "sha256=" */
    ck_assert_int_eq(proto_hook_verify(&h, &r, NOW, 300), PROTO_HOOK_AUTH_BAD);
    hd.values[0] = sig;
    hd.values[1] = "1764633000";
    ck_assert_int_eq(proto_hook_verify(&h, &r, NOW, 300), PROTO_HOOK_AUTH_STALE);
}
END_TEST

START_TEST(verify_tokens)
{
    proto_hook an = hook_of(PROTO_HOOK_ACTIONNETWORK, "an-key-0123456789");
    hdrs none = {{NULL}, {NULL}};
    proto_hook_req r = {"POST", "", 0, "x=1&key=an-key-0123456789", 25, "[]", 2, get_hdr, &none};
    ck_assert_int_eq(proto_hook_verify(&an, &r, NOW, 300), PROTO_HOOK_AUTH_OK);
    r.query = "key=an-key-0123456788";
    r.query_len = 21;
    ck_assert_int_eq(proto_hook_verify(&an, &r, NOW, 300), PROTO_HOOK_AUTH_BAD);
    r.query = "key=an-key-012345678";   /* a prefix of the key */
    r.query_len = 20;
    ck_assert_int_eq(proto_hook_verify(&an, &r, NOW, 300), PROTO_HOOK_AUTH_BAD);
    r.query_len = 0;
    ck_assert_int_eq(proto_hook_verify(&an, &r, NOW, 300), PROTO_HOOK_AUTH_MISSING);
    proto_hook g = hook_of(PROTO_HOOK_GENERIC, "bearer-0123456789");
    g.bearer = 1;
    hdrs auth = {{"Authorization"}, {"Bearer bearer-0123456789"}};
    r.arg = &auth;
    ck_assert_int_eq(proto_hook_verify(&g, &r, NOW, 300), PROTO_HOOK_AUTH_OK);
    auth.values[0] = "Bearer bearer-012345678";
    ck_assert_int_eq(proto_hook_verify(&g, &r, NOW, 300), PROTO_HOOK_AUTH_BAD);
}
END_TEST

START_TEST(verify_generic_hmac)
{
    /* generic: hex, "sha256=" hex or base64 of HMAC(secret, body) */
    proto_hook g = hook_of(PROTO_HOOK_GENERIC, "generic-secret-0123");
    snprintf(g.header, sizeof g.header, "X-Signature");
    /* hmac.new(b"generic-secret-0123", b"{}", sha256): hex and base64 */
    char hex[] = "ae488c58be8e9a5a762c89d0f2b370baec27aa8502833d005035a2c95d552c5e";
    char b64[] = "rkiMWL6Omlp2LInQ8rNwuuwnqoUCgz0AUDWiyV1VLF4=";
    hdrs hd = {{"x-signature"}, {hex}};
    proto_hook_req r = {"POST", "", 0, "", 0, "{}", 2, get_hdr, &hd};
    ck_assert_int_eq(proto_hook_verify(&g, &r, NOW, 300), PROTO_HOOK_AUTH_OK);
    hd.values[0] = b64;
    ck_assert_int_eq(proto_hook_verify(&g, &r, NOW, 300), PROTO_HOOK_AUTH_OK);
    hex[0] = hex[0] == '0' ? '1' : '0';
    hd.values[0] = hex;
    ck_assert_int_eq(proto_hook_verify(&g, &r, NOW, 300), PROTO_HOOK_AUTH_BAD);
    /* with a timestamp header, the timestamp is signed and checked */
    snprintf(g.ts_header, sizeof g.ts_header, "X-Ts");
    hdrs ts = {{"X-Signature", "X-Ts"}, {b64, "1764633600"}};
    r.arg = &ts;
    ck_assert_int_eq(proto_hook_verify(&g, &r, NOW, 300), PROTO_HOOK_AUTH_BAD);
    ts.names[1] = "X-None";
    ck_assert_int_eq(proto_hook_verify(&g, &r, NOW, 300), PROTO_HOOK_AUTH_MISSING);
}
END_TEST

/* ---- payloads ---- */

typedef struct {
    int n, ignored;
    proto_hit hits[8];
    proto_reason reasons[8];
    int64_t when[8];
} got;

static int collect(void *arg, int index, proto_hit *hit, proto_reason r, const char *why,
                   int64_t when_ms)
{
    got *g = arg;
    (void)why;
    ck_assert_int_eq(index, g->n + g->ignored);
    if (!hit) {
        g->ignored++;
        return 0;
    }
    g->hits[g->n] = *hit;
    g->reasons[g->n] = r;
    g->when[g->n++] = when_ms;
    return 0;
}

static proto_hook preset(proto_hook_source s, const char *const extra[])
{
    proto_hooks hs;
    char err[256];
    const char *kv[20] = {"t.source", proto_hook_source_name(s), "t.secret", "0123456789abcdef",
                          "t.campaign", "camp"};
    int n = 6;
    for (int i = 0; extra && extra[i]; i++)
        kv[n++] = extra[i];
    kv[n] = NULL;
    ck_assert_msg(conf_hooks(&hs, kv, err, sizeof err) == 0, "%s", err);
    return hs.h[0];
}

START_TEST(parse_hubspot)
{
    proto_hook h = preset(PROTO_HOOK_HUBSPOT, NULL);
    const char *body = "[{\"eventId\":11,\"subscriptionType\":\"contact.creation\",\"objectId\":501,"
                       "\"occurredAt\":1764633500000},"
                       "{\"eventId\":12,\"subscriptionType\":\"contact.deletion\",\"objectId\":502}]";
    got g = {0};
    ck_assert_int_eq(proto_hook_parse(&h, body, strlen(body), NULL, "", NOW, collect, &g), PROTO_OK);
    ck_assert_int_eq(g.n, 2);
    ck_assert_int_eq(g.reasons[0], PROTO_OK);
    ck_assert_str_eq(g.hits[0].campaign, "camp");
    ck_assert_str_eq(g.hits[0].event, "signup");
    ck_assert_str_eq(g.hits[0].subject, "501");
    ck_assert_int_eq(g.when[0], INT64_C(1764633500000));
    ck_assert_int_eq(strlen(g.hits[0].nonce), 32);
    ck_assert_int_eq(g.reasons[1], PROTO_ERR_UNMAPPED);
    /* the same event id gives the same nonce; another id another */
    got g2 = {0};
    const char *again = "{\"eventId\":11,\"subscriptionType\":\"contact.creation\",\"objectId\":501,"
                        "\"attemptNumber\":1}";
    proto_hook_parse(&h, again, strlen(again), NULL, "", NOW, collect, &g2);
    ck_assert_str_eq(g2.hits[0].nonce, g.hits[0].nonce);
    ck_assert_int_eq(g2.when[0], 0);
    /* an item whose own time is over 24 h old: a replay past the nonces' memory */
    got g4 = {0};
    const char *old = "{\"eventId\":13,\"subscriptionType\":\"contact.creation\",\"objectId\":503,"
                      "\"occurredAt\":1764547100000}";
    proto_hook_parse(&h, old, strlen(old), NULL, "", NOW, collect, &g4);
    ck_assert_int_eq(g4.reasons[0], PROTO_ERR_STALE);
    /* a workflow body: no kind, the hook's event; subject from vid */
    snprintf(h.event, sizeof h.event, "followup");
    got g3 = {0};
    const char *wf = "{\"vid\":501,\"properties\":{\"email\":{\"value\":\"a@b.org\"}}}";
    proto_hook_parse(&h, wf, strlen(wf), NULL, "", NOW, collect, &g3);
    ck_assert_int_eq(g3.reasons[0], PROTO_OK);
    ck_assert_str_eq(g3.hits[0].event, "followup");
    ck_assert_str_eq(g3.hits[0].subject, "501");
}
END_TEST

START_TEST(parse_actionnetwork)
{
    proto_hook h = preset(PROTO_HOOK_ACTIONNETWORK, NULL);
    const char *body =
        "[{\"osdi:donation\":{\"identifiers\":[\"action_network:d1\"],\"created_date\":\"2025-12-01T23:59:00Z\","
        "\"amount\":\"25.50\",\"action_network:referrer_data\":{\"referrer\":\"ann\"},"
        "\"person\":{\"email_addresses\":[{\"address\":\" Jo@Example.ORG \"}]}},\"idempotency_key\":\"k1\"},"
        "{\"osdi:outreach\":{\"person\":{\"email_addresses\":[{\"address\":\"x@y.org\"}]}}},"
        "{\"osdi:signature\":{\"person\":{\"email_addresses\":[{\"address\":\"not-an-address\"}]}}},"
        "{\"no_type\":1}]";
    got g = {0};
    ck_assert_int_eq(proto_hook_parse(&h, body, strlen(body), NULL, "", NOW, collect, &g), PROTO_OK);
    ck_assert_int_eq(g.n, 4);
    ck_assert_int_eq(g.reasons[0], PROTO_OK);
    ck_assert_str_eq(g.hits[0].event, "donate");
    ck_assert_str_eq(g.hits[0].subject, "jo@example.org");
    ck_assert_str_eq(g.hits[0].ref, "ann");
    ck_assert_int_eq(g.hits[0].value, 2550);
    ck_assert_int_eq(g.when[0], NOW - 60000);
    ck_assert_int_eq(g.reasons[1], PROTO_ERR_UNMAPPED);
    ck_assert_int_eq(g.reasons[2], PROTO_ERR_SUBJECT);
    ck_assert_int_eq(g.reasons[3], PROTO_ERR_UNMAPPED);
    /* with a key, the address becomes its keyed hash (32 hex digits):
     * hmac.new(b"k-0123456789abcdef", b"jo@example.org", sha256).hexdigest()[:32] */
    got g2 = {0};
    proto_hook_parse(&h, body, strlen(body), NULL, "k-0123456789abcdef", NOW, collect, &g2);
    char out[64];
    ck_assert_int_eq(proto_hook_subject("JO@example.org", 14, "k-0123456789abcdef", out, sizeof out), 32);
    ck_assert_str_eq(out, "7cbfb829526347c8217965a91bbd36e1");
    ck_assert_str_eq(g2.hits[0].subject, out);
    ck_assert_int_eq(proto_hook_subject("a@b@c", 5, "", out, sizeof out), -1);
    ck_assert_int_eq(proto_hook_subject("@b.org", 6, "", out, sizeof out), -1);
    ck_assert_int_eq(proto_hook_subject("a b@c.org", 9, "", out, sizeof out), -1);
}
END_TEST

START_TEST(parse_listmonk_and_generic)
{
    const char *const ign[] = {"t.map.subscriber.updated", "ignore", NULL};
    proto_hook h = preset(PROTO_HOOK_LISTMONK, ign);
    const char *body = "{\"event\":\"subscriber.created\",\"timestamp\":\"2025-12-01T23:59:30.5+00:00\","
                       "\"data\":{\"subscriber\":{\"email\":\"r@x.org\",\"uuid\":\"u-1\"}}}";
    got g = {0};
    proto_hook_parse(&h, body, strlen(body), "77", "", NOW, collect, &g);
    ck_assert_int_eq(g.n, 1);
    ck_assert_str_eq(g.hits[0].subject, "r@x.org");
    ck_assert_int_eq(g.when[0], NOW - 29500);
    got g1 = {0};   /* another delivery of the same body: another nonce */
    proto_hook_parse(&h, body, strlen(body), "78", "", NOW, collect, &g1);
    ck_assert_str_ne(g1.hits[0].nonce, g.hits[0].nonce);
    const char *upd = "{\"event\":\"subscriber.updated\",\"data\":{}}";
    got g2 = {0};
    proto_hook_parse(&h, upd, strlen(upd), "79", "", NOW, collect, &g2);
    ck_assert_int_eq(g2.n, 0);
    ck_assert_int_eq(g2.ignored, 1);

    const char *const gen[] = {"t.ptr.kind", "/a~1b/k", "t.ptr.id", "/who/0|/who_else", "t.ptr.value",
                               "/v", "t.ptr.campaign", "/c", "t.map.paid", "donate", NULL};
    proto_hook gh = preset(PROTO_HOOK_GENERIC, gen);
    const char *gb = "[{\"a/b\":{\"k\":\"paid\"},\"who_else\":42,\"v\":3,\"c\":\"other\"},"
                     "{\"a/b\":{\"k\":\"paid\"},\"who\":[\"w\"],\"v\":-1},"
                     "{\"a/b\":{\"k\":\"paid\"},\"who\":[\"w\"],\"c\":\"bad campaign\"}]";
    got g3 = {0};
    proto_hook_parse(&gh, gb, strlen(gb), NULL, "", NOW, collect, &g3);
    ck_assert_int_eq(g3.n, 3);
    ck_assert_int_eq(g3.reasons[0], PROTO_OK);
    ck_assert_str_eq(g3.hits[0].campaign, "other");
    ck_assert_str_eq(g3.hits[0].subject, "42");
    ck_assert_int_eq(g3.hits[0].value, 300);
    ck_assert_int_eq(g3.reasons[1], PROTO_ERR_VALUE);
    ck_assert_int_eq(g3.reasons[2], PROTO_ERR_CAMPAIGN);
    /* two items the same but for their place: the item itself is the key, so the same nonce */
    ck_assert_int_eq(strlen(g3.hits[0].nonce), 32);
}
END_TEST

START_TEST(parse_shapes)
{
    proto_hook h = preset(PROTO_HOOK_HUBSPOT, NULL);
    got g = {0};
    ck_assert_int_eq(proto_hook_parse(&h, "[1]", 3, NULL, "", NOW, collect, &g), PROTO_ERR_JSON);
    ck_assert_int_eq(proto_hook_parse(&h, "{\"a\":1} x", 9, NULL, "", NOW, collect, &g), PROTO_ERR_JSON);
    ck_assert_int_eq(proto_hook_parse(&h, "\"s\"", 3, NULL, "", NOW, collect, &g), PROTO_ERR_JSON);
    char deep[64];
    memset(deep, '[', 20);
    memset(deep + 20, ']', 20);
    ck_assert_int_eq(proto_hook_parse(&h, deep, 40, NULL, "", NOW, collect, &g), PROTO_ERR_JSON);
    char big[4096] = "[";
    for (int i = 0; i < 101; i++)
        strcat(big, i ? ",{}" : "{}");
    strcat(big, "]");
    ck_assert_int_eq(proto_hook_parse(&h, big, strlen(big), NULL, "", NOW, collect, &g), PROTO_ERR_BATCH);
    ck_assert_int_eq(g.n, 0);
}
END_TEST

START_TEST(iso_times)
{
    int64_t t;
    ck_assert_int_eq(proto_hook_iso_ms("2025-12-02T00:00:00Z", 20, &t), 0);
    ck_assert_int_eq(t, NOW);
    ck_assert_int_eq(proto_hook_iso_ms("2025-12-02T01:30:00.25+01:30", 28, &t), 0);
    ck_assert_int_eq(t, NOW + 250);
    ck_assert_int_eq(proto_hook_iso_ms("2024-02-29T12:00:00Z", 20, &t), 0);
    ck_assert_int_eq(t, INT64_C(1709208000000));
    ck_assert_int_eq(proto_hook_iso_ms("2025-12-02T00:00:00", 19, &t), -1);
    ck_assert_int_eq(proto_hook_iso_ms("2025-13-02T00:00:00Z", 20, &t), -1);
    ck_assert_int_eq(proto_hook_iso_ms("2025-12-02T00:00:00Zjunk", 24, &t), -1);
    ck_assert_int_eq(proto_hook_iso_ms("2025-12-02", 10, &t), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto_hook");
    TCase *c = tcase_create("conf");
    tcase_add_test(c, conf_errors_name_the_key);
    tcase_add_test(c, conf_presets_and_overrides);
    suite_add_tcase(s, c);
    TCase *v = tcase_create("verify");
    tcase_add_test(v, verify_hubspot_v3);
    tcase_add_test(v, verify_listmonk);
    tcase_add_test(v, verify_tokens);
    tcase_add_test(v, verify_generic_hmac);
    suite_add_tcase(s, v);
    TCase *p = tcase_create("parse");
    tcase_add_test(p, parse_hubspot);
    tcase_add_test(p, parse_actionnetwork);
    tcase_add_test(p, parse_listmonk_and_generic);
    tcase_add_test(p, parse_shapes);
    tcase_add_test(p, iso_times);
    suite_add_tcase(s, p);
    return unit_run(s);
}

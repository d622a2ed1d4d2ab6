/* ops.c: the apply, alert and move scripts' KEYS layout, the apply ops,
 * and the Lua of scripts.lua with the schema substituted. */
#include "ops.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "schema.h"
#include "scripts_lua.h"    /* agg_scripts_lua: scripts.lua, embedded by the build */

static const char *const section_names[AGG_SCRIPT_COUNT] = {"apply", "alert", "lease_take",
                                                             "lease_give", "dead", "repair", "move",
                                                             "done"};
static char *scripts[AGG_SCRIPT_COUNT];
static pthread_once_t scripts_once = PTHREAD_ONCE_INIT;

/* ---------------------------------------------------------------- rules */

/* Counts one hit: its event in the totals and both buckets (machine hits
 * as machine_<event>, and nothing else); for human hits the value, the
 * unique person of the event (or the anonymous count), the scroll buckets
 * reached, the advocate's reach or action, and signup/follow-up ops.
 * Returns 0 or -1. */
int agg_ops_count(const proto_hit *h, const agg_counts *out)
{
    char field[PROTO_EVENT_MAX + 16];
    int human = h->agent == PROTO_AGENT_HUMAN;
    proto_event ev = proto_event_of(h->event);
    size_t fl = proto_field_event(field, sizeof field, h->event, human);
    if (!fl || out->incr(out->arg, AGG_CK_TOTALS, field, fl, 1) < 0 ||
        out->incr(out->arg, AGG_CK_HOUR, field, fl, 1) < 0 ||
        out->incr(out->arg, AGG_CK_DAY, field, fl, 1) < 0 || out->seen(out->arg, h->ts) < 0)
        return -1;
    if (!human)
        return 0;
    if (h->value >= 0 && out->incr(out->arg, AGG_CK_TOTALS, PROTO_FIELD_VALUE,
                                   sizeof PROTO_FIELD_VALUE - 1, h->value) < 0)
        return -1;
    /* unique subjects, or ip+ua where there is none; anonymous hits apart */
    char elem[PROTO_SUBJECT_MAX + PROTO_IP_MAX + PROTO_UA_MAX + 4];
    size_t len = proto_uniq_elem(elem, sizeof elem, h->subject, h->ip, h->ua);
    if (len == 0 && out->incr(out->arg, AGG_CK_TOTALS, PROTO_FIELD_ANON,
                              sizeof PROTO_FIELD_ANON - 1, 1) < 0)
        return -1;
    if (len > 0 && out->hll(out->arg, AGG_HLL_EVENT, h->event, elem, len) < 0)
        return -1;
    /* a viewer counts once per scroll bucket up to the depth reached */
    if (ev == PROTO_EV_SCROLL && h->depth >= 0 && len > 0) {
        for (int i = 0; i < PROTO_SCROLL_BUCKETS; i++)
            if (h->depth >= proto_scroll_mark(i) &&
                out->hll(out->arg, AGG_HLL_SCROLL, proto_scroll_field(i), elem, len) < 0)
                return -1;
    }
    if (h->ref[0]) {
        size_t rl = strlen(h->ref);
        if ((proto_event_reach(ev) && out->incr(out->arg, AGG_CK_REACH, h->ref, rl, 1) < 0) ||
            (proto_event_action(ev) && out->incr(out->arg, AGG_CK_REF, h->ref, rl, 1) < 0) ||
            (ev == PROTO_EV_CLICK && out->incr(out->arg, AGG_CK_REF_CLICK, h->ref, rl, 1) < 0))
            return -1;
        /* the day's clicks and actions per advocate, for the digest */
        char af[PROTO_REF_MAX + 16];
        size_t al = ev == PROTO_EV_CLICK || proto_event_action(ev)
                        ? proto_field_adv(af, sizeof af, ev == PROTO_EV_CLICK, h->ref) : 0;
        if (al && out->incr(out->arg, AGG_CK_DAY, af, al, 1) < 0)
            return -1;
    } else if (h->uref[0] && proto_event_action(ev)) {   /* unsigned credit, counted apart */
        if (out->incr(out->arg, AGG_CK_UNVERIFIED, h->uref, strlen(h->uref), 1) < 0 ||
            out->incr(out->arg, AGG_CK_TOTALS, PROTO_FIELD_UNVERIFIED,
                      sizeof PROTO_FIELD_UNVERIFIED - 1, 1) < 0)
            return -1;
    }
    /* where the views come from: the page path and the referrer's host */
    if (ev == PROTO_EV_VIEW && h->page[0] &&
        out->incr(out->arg, AGG_CK_PAGES, h->page, strlen(h->page), 1) < 0)
        return -1;
    if (ev == PROTO_EV_VIEW && h->refhost[0] &&
        out->incr(out->arg, AGG_CK_REFERRERS, h->refhost, strlen(h->refhost), 1) < 0)
        return -1;
    /* the audience: a person with a subject, never an anonymous hit */
    if (h->subject[0] && out->aud(out->arg, h->subject, (unsigned)proto_aud_bit(ev), h->ref, h->ts) < 0)
        return -1;
    if (h->subject[0] && (ev == PROTO_EV_SIGNUP || ev == PROTO_EV_FOLLOWUP))
        return out->sf(out->arg, ev == PROTO_EV_SIGNUP, h->subject, h->ts);
    return 0;
}

/* Counts a duplicate in the totals. Returns 0 or -1. */
int agg_ops_count_dup(const agg_counts *out)
{
    return out->incr(out->arg, AGG_CK_TOTALS, PROTO_FIELD_DUP, sizeof PROTO_FIELD_DUP - 1, 1);
}

/* ---------------------------------------------------------------- keys */

/* Builds fixed KEYS[k] of the apply script; returns its length or -1. */
int agg_ops_key(char *buf, size_t cap, const char *prefix, const char *c, int k)
{
    static const proto_ckey of[AGG_K_FIXED + 1] = {
        [AGG_K_TOTALS] = PROTO_CK_TOTALS, [AGG_K_WM] = PROTO_CK_WM,
        [AGG_K_NONCE] = PROTO_CK_NONCE,
        [AGG_K_REF] = PROTO_CK_REF,       [AGG_K_REACH] = PROTO_CK_REF_REACH,
        [AGG_K_PENDING] = PROTO_CK_PENDING, [AGG_K_FL] = PROTO_CK_FL,
        [AGG_K_ALERTED] = PROTO_CK_ALERTED, [AGG_K_OUTBOX] = PROTO_CK_OUTBOX,
        [AGG_K_CFG] = PROTO_CK_CFG,
    };
    if (k < AGG_K_TOTALS || k > AGG_K_FIXED)
        return -1;
    return proto_key_of(buf, cap, prefix, c, of[k]);
}

/* Builds KEYS[k] of the alert script; returns its length or -1. */
int agg_ops_alert_key(char *buf, size_t cap, const char *prefix, const char *c, int k)
{
    switch (k) {
    case AGG_AK_PENDING: return proto_key_of(buf, cap, prefix, c, PROTO_CK_PENDING);
    case AGG_AK_ALERTED: return proto_key_of(buf, cap, prefix, c, PROTO_CK_ALERTED);
    case AGG_AK_OUTBOX: return proto_key_of(buf, cap, prefix, c, PROTO_CK_OUTBOX);
    case AGG_AK_CFG: return proto_key_of(buf, cap, prefix, c, PROTO_CK_CFG);
    }
    return -1;
}

/* Builds KEYS[k] of the move script; returns its length or -1. */
int agg_ops_move_key(char *buf, size_t cap, const char *prefix, int k)
{
    switch (k) {
    case AGG_MK_ALERTS: return proto_key_alerts(buf, cap, prefix);
    case AGG_MK_MOVED: return proto_key_alerts_moved(buf, cap, prefix);
    }
    return -1;
}

/* ---------------------------------------------------------------- ops */

/* Appends ARGV 1..7 of an apply call; never fails (see r->oom). */
void agg_op_args(proto_resp *r, const char *partition, const char *wm, const char *new_wm,
                 const char *campaign, size_t clen, long long now_ms, long long sla_s,
                 const char *outbox_maxlen)
{
    proto_resp_str(r, partition);
    proto_resp_str(r, wm);
    proto_resp_str(r, new_wm);
    proto_resp_arg(r, campaign, clen);
    proto_resp_ll(r, now_ms);
    proto_resp_ll(r, sla_s);
    proto_resp_str(r, outbox_maxlen);
}

/* Returns 1 for the counters kept in sorted sets; never fails. */
int agg_ops_zset(agg_counter_key k)
{
    return k == AGG_CK_REF || k == AGG_CK_REACH || k == AGG_CK_PAGES || k == AGG_CK_REFERRERS ||
           k == AGG_CK_REF_CLICK || k == AGG_CK_UNVERIFIED;
}

/* Appends H k field n, or Z k member n on a sorted set; never fails. */
void agg_op_incr(proto_resp *r, int zset, int key, const char *field, size_t flen, long long n)
{
    proto_resp_str(r, zset ? "Z" : "H");
    proto_resp_ll(r, key);
    proto_resp_arg(r, field, flen);
    proto_resp_ll(r, n);
}

/* Appends X k at; never fails. */
void agg_op_expire(proto_resp *r, int key, long long at_ms)
{
    proto_resp_str(r, "X");
    proto_resp_ll(r, key);
    proto_resp_ll(r, at_ms);
}

/* Appends P k n (the caller appends the n elements); never fails. */
void agg_op_pfadd(proto_resp *r, int key, size_t n)
{
    proto_resp_str(r, "P");
    proto_resp_ll(r, key);
    proto_resp_ll(r, (long long)n);
}

/* Appends NZ n (the caller appends n ts, nonce pairs); never fails. */
void agg_op_nonces(proto_resp *r, size_t n)
{
    proto_resp_str(r, "NZ");
    proto_resp_ll(r, (long long)n);
}

/* Appends T cutoff; never fails. */
void agg_op_trim_nonces(proto_resp *r, long long cutoff_ms)
{
    proto_resp_str(r, "T");
    proto_resp_ll(r, cutoff_ms);
}

/* Appends op s n (the shape of lo, hi, S and F); never fails. */
static void op_str_ll(proto_resp *r, const char *op, const char *s, long long n)
{
    proto_resp_str(r, op);
    proto_resp_str(r, s);
    proto_resp_ll(r, n);
}

/* Appends lo field v; never fails. */
void agg_op_lo(proto_resp *r, const char *field, long long v)
{
    op_str_ll(r, "lo", field, v);
}

/* Appends hi field v; never fails. */
void agg_op_hi(proto_resp *r, const char *field, long long v)
{
    op_str_ll(r, "hi", field, v);
}

/* Appends S subject ts; never fails. */
void agg_op_aud(proto_resp *r, int key, const char *subject, unsigned bit, long long ts_s, const char *ref,
                long long expire_at_ms, long long cap)
{
    proto_resp_str(r, "A");
    proto_resp_ll(r, key);
    proto_resp_str(r, subject);
    proto_resp_ll(r, (long long)bit);
    proto_resp_ll(r, ts_s);
    proto_resp_str(r, ref);
    proto_resp_ll(r, expire_at_ms);
    proto_resp_ll(r, cap);
}

void agg_op_signup(proto_resp *r, const char *subject, long long ts)
{
    op_str_ll(r, "S", subject, ts);
}

/* Appends F subject ts; never fails. */
void agg_op_followup(proto_resp *r, const char *subject, long long ts)
{
    op_str_ll(r, "F", subject, ts);
}

/* ---------------------------------------------------------------- scripts */

/* A growable string for the substituted scripts. */
typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} text;

/* Appends n bytes of p; sets t->oom on failure. */
static void text_add(text *t, const char *p, size_t n)
{
    if (t->oom)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 8192;
        while (nc < t->len + n + 1)
            nc *= 2;
        char *ns = realloc(t->s, nc);
        if (!ns) {
            t->oom = 1;
            return;
        }
        t->s = ns;
        t->cap = nc;
    }
    memcpy(t->s + t->len, p, n);
    t->len += n;
    t->s[t->len] = 0;
}

/* Writes the value of placeholder name (n bytes) into out. Returns 0, or
 * -1 for an unknown name. */
static int value_of(const char *name, size_t n, char *out, size_t cap)
{
    static const struct {
        const char *name;
        long long num;      /* used when str is NULL */
        const char *str;
    } table[] = {
        {"K_TOTALS", AGG_K_TOTALS, NULL},   {"K_WM", AGG_K_WM, NULL},
        {"K_NONCE", AGG_K_NONCE, NULL},     {"K_PENDING", AGG_K_PENDING, NULL},
        {"K_FL", AGG_K_FL, NULL},           {"K_ALERTED", AGG_K_ALERTED, NULL},
        {"K_OUTBOX", AGG_K_OUTBOX, NULL},   {"K_CFG", AGG_K_CFG, NULL},
        {"A_PENDING", AGG_AK_PENDING, NULL}, {"A_ALERTED", AGG_AK_ALERTED, NULL},
        {"A_OUTBOX", AGG_AK_OUTBOX, NULL},  {"A_CFG", AGG_AK_CFG, NULL},
        {"CFG_SLA", 0, PROTO_CFG_SLA},      {"CFG_NAME", 0, PROTO_CFG_NAME},
        {"FL_COUNT", 0, PROTO_FL_COUNT},    {"FL_SUM_MS", 0, PROTO_FL_SUM_MS},
        {"FL_MAX_MS", 0, PROTO_FL_MAX_MS},  {"FL_UNMATCHED", 0, PROTO_FL_UNMATCHED},
        {"AUD_FULL", 0, PROTO_AUD_FULL},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (strlen(table[i].name) != n || memcmp(table[i].name, name, n) != 0)
            continue;
        if (table[i].str)
            snprintf(out, cap, "%s", table[i].str);
        else
            snprintf(out, cap, "%lld", table[i].num);
        return 0;
    }
    if (n == 6 && memcmp(name, "FL_INF", 6) == 0) {
        snprintf(out, cap, "%s", proto_fl_field(PROTO_FL_BUCKETS));
        return 0;
    }
    if (n == 10 && memcmp(name, "FL_BUCKETS", 10) == 0) {
        size_t o = 0;
        out[0] = 0;
        for (int i = 0; i < PROTO_FL_BUCKETS && o < cap; i++)
            o += (size_t)snprintf(out + o, cap - o, "%s{%d, '%s'}", i ? ", " : "",
                                  proto_fl_bound_s(i) * 1000, proto_fl_field(i));
        return o < cap ? 0 : -1;
    }
    return -1;
}

/* Appends the body of section name of scripts.lua to t, placeholders
 * substituted. Returns 0, or -1 (logged). */
static int add_section(text *t, const char *name)
{
    char marker[32];
    snprintf(marker, sizeof marker, "--@@ %s\n", name);
    const char *p = strstr(agg_scripts_lua, marker);
    if (!p) {
        sys_error("scripts.lua: section missing", "section=%s", name);
        return -1;
    }
    p += strlen(marker);
    const char *end = strstr(p, "\n--@@ ");
    end = end ? end + 1 : p + strlen(p);
    while (p < end) {
        const char *at = memchr(p, '@', (size_t)(end - p));
        if (!at) {
            text_add(t, p, (size_t)(end - p));
            break;
        }
        text_add(t, p, (size_t)(at - p));
        const char *close = memchr(at + 1, '@', (size_t)(end - at - 1));
        char val[512];
        if (!close || value_of(at + 1, (size_t)(close - at - 1), val, sizeof val) < 0) {
            sys_error("scripts.lua: unknown placeholder", "section=%s at=\"%.20s\"", name, at);
            return -1;
        }
        text_add(t, val, strlen(val));
        p = close + 1;
    }
    return t->oom ? -1 : 0;
}

/* Builds every script once; a failure leaves its slot NULL. */
static void build_scripts(void)
{
    for (int i = 0; i < AGG_SCRIPT_COUNT; i++) {
        text t = {0};
        if (add_section(&t, "common") < 0 || add_section(&t, section_names[i]) < 0) {
            free(t.s);
            continue;
        }
        scripts[i] = t.s;
    }
}

/* Returns the substituted text of script s, or NULL (logged). */
const char *agg_ops_script(agg_script s)
{
    pthread_once(&scripts_once, build_scripts);
    return s >= 0 && s < AGG_SCRIPT_COUNT ? scripts[s] : NULL;
}

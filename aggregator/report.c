/* report.c: campaign figures from the SPEC 3 counters (see report.h). */
#include "report.h"
#include "advocate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "resp.h"

/* ---------------------------------------------------------------- values */

/* Parses a whole decimal integer; returns 0, or -1 (*out = 0). */
static int parse_i64(const char *text, int64_t *out)
{
    char *end;
    *out = 0;
    if (!text || !*text)
        return -1;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* Returns the integer value of field in an HGETALL reply; 0 if absent. */
static int64_t hval(const redisReply *h, const char *field)
{
    int64_t v = 0;
    if (!h || h->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->str && strcmp(h->element[i]->str, field) == 0)
            return parse_i64(h->element[i + 1]->str, &v) == 0 ? v : 0;
    return 0;
}

/* Returns a score reply element as a rounded integer (0 if not a number). */
static int64_t score(const redisReply *e)
{
    char *end;
    if (!e || !e->str)
        return 0;
    double d = strtod(e->str, &end);
    return (end == e->str || !isfinite(d)) ? 0 : (int64_t)llround(d);
}

/* Returns part ÷ whole clamped into [0, 1] (setting flag in *clamped when
 * it had to be), or NAN when whole is not positive. */
static double rate(int64_t part, int64_t whole, int flag, int *clamped)
{
    if (whole <= 0)
        return NAN;
    double r = (double)part / (double)whole;
    if (r < 0 || r > 1) {
        *clamped |= flag;
        r = r < 0 ? 0 : 1;
    }
    return r;
}

/* Counts the people in the union of the HLLs of events (built-in ones
 * listed in evs, ended by PROTO_EV_CUSTOM, then every custom event of the
 * totals when customs). Returns 0 with *out, or -1. */
static int people(sys_redis *r, const proto_conf *conf, const char *c, const proto_event *evs,
                  const agg_stats *st, int customs, int64_t *out)
{
    size_t n = 1, cap = 1 + PROTO_EV_BUILTIN + (customs ? st->ncounters : 0);
    const char **argv = calloc(cap, sizeof *argv);
    size_t *lens = calloc(cap, sizeof *lens);
    char (*keys)[PROTO_KEY_MAX] = calloc(cap, sizeof *keys);
    int rc = -1;
    if (!argv || !lens || !keys) {
        sys_redis_set_err(r, SYS_REDIS_NOMEM, "out of memory");
        goto out;
    }
    argv[0] = "PFCOUNT";
    for (const proto_event *e = evs; *e != PROTO_EV_CUSTOM; e++)
        if (proto_key_uniq(keys[n], PROTO_KEY_MAX, conf->prefix, c, proto_event_name(*e)) >= 0)
            n++;
    for (size_t i = 0; customs && i < st->ncounters; i++)
        if (!proto_field_builtin(st->counters[i].name) &&
            proto_key_uniq(keys[n], PROTO_KEY_MAX, conf->prefix, c, st->counters[i].name) >= 0)
            n++;
    for (size_t i = 1; i < n; i++) {
        argv[i] = keys[i];
        lens[i] = strlen(keys[i]);
    }
    lens[0] = 7;
    redisReply *rep = sys_redis_cmdv(r, (int)n, argv, lens);
    if (rep) {
        *out = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
        freeReplyObject(rep);
        rc = 0;
    }
out:
    free(argv);
    free(lens);
    free(keys);
    return rc;
}

/* Records a key that does not fit on r; returns -1. */
static int too_long(sys_redis *r)
{
    sys_redis_set_err(r, SYS_REDIS_NOMEM, "key name too long (check --prefix)");
    return -1;
}

/* Builds key k of campaign c. Returns 0, or -1 (recorded on r). */
static int ckey(sys_redis *r, char *buf, const proto_conf *conf, const char *c, proto_ckey k)
{
    return proto_key_of(buf, PROTO_KEY_MAX, conf->prefix, c, k) < 0 ? too_long(r) : 0;
}

/* Frees n members and the array; NULL is a no-op. */
void agg_members_free(agg_member *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].name);
    free(v);
}

/* Reads the first `stop + 1` members of sorted set key (stop -1: all)
 * with their scores, by score (highest first when rev). Returns 0 or -1. */
static int read_members(sys_redis *r, const char *key, int rev, long stop, agg_member **out,
                        size_t *n)
{
    redisReply *rep = sys_redis_cmd(r, "%s %s 0 %ld WITHSCORES", rev ? "ZREVRANGE" : "ZRANGE",
                                    key, stop);
    *out = NULL;
    *n = 0;
    if (!rep)
        return -1;
    agg_member *v = calloc(rep->elements / 2 + 1, sizeof *v);
    size_t cnt = 0;
    for (size_t i = 0; v && i + 1 < rep->elements; i += 2, cnt++) {
        if (!(v[cnt].name = strdup(rep->element[i]->str ? rep->element[i]->str : ""))) {
            agg_members_free(v, cnt);
            v = NULL;
            break;
        }
        v[cnt].score = score(rep->element[i + 1]);
    }
    freeReplyObject(rep);
    if (!v) {
        sys_redis_set_err(r, SYS_REDIS_NOMEM, "out of memory");
        return -1;
    }
    *out = v;
    *n = cnt;
    return 0;
}

/* ---------------------------------------------------------------- advocates */

/* Orders advocates by actions, then reach (descending), then name. */
static int adv_rank(const void *pa, const void *pb)
{
    const agg_advocate *a = pa, *b = pb;
    if (a->actions != b->actions)
        return a->actions > b->actions ? -1 : 1;
    if (a->reach != b->reach)
        return a->reach > b->reach ? -1 : 1;
    return strcmp(a->ref, b->ref);
}

/* Orders advocates by name. */
static int adv_name(const void *pa, const void *pb)
{
    return strcmp(((const agg_advocate *)pa)->ref, ((const agg_advocate *)pb)->ref);
}

/* Frees n advocates and the array; NULL is a no-op. */
void agg_advocates_free(agg_advocate *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].ref);
    free(v);
}

/* Reads the leaderboard and the advocates' reach, ranked. Returns 0 or -1. */
int agg_report_advocates(sys_redis *r, const proto_conf *conf, const char *c,
                         agg_advocate **out, size_t *n)
{
    char kref[PROTO_KEY_MAX], kreach[PROTO_KEY_MAX];
    redisReply *ra = NULL, *rr = NULL;
    agg_advocate *v = NULL;
    size_t cnt = 0;
    int rc = -1;
    *out = NULL;
    *n = 0;
    if (ckey(r, kref, conf, c, PROTO_CK_REF) < 0 || ckey(r, kreach, conf, c, PROTO_CK_REF_REACH) < 0)
        return -1;
    if (!(ra = sys_redis_cmd(r, "ZRANGE %s 0 -1 WITHSCORES", kref)) ||
        !(rr = sys_redis_cmd(r, "ZRANGE %s 0 -1 WITHSCORES", kreach)))
        goto out;
    if (!(v = calloc(ra->elements / 2 + rr->elements / 2 + 1, sizeof *v)))
        goto oom;
    for (size_t i = 0; i + 1 < ra->elements; i += 2) {
        if (!(v[cnt].ref = strdup(ra->element[i]->str ? ra->element[i]->str : "")))
            goto oom;
        v[cnt++].actions = score(ra->element[i + 1]);
    }
    size_t nref = cnt;
    qsort(v, nref, sizeof *v, adv_name);
    for (size_t i = 0; i + 1 < rr->elements; i += 2) {
        agg_advocate key = {.ref = rr->element[i]->str ? rr->element[i]->str : ""};
        agg_advocate *hit = bsearch(&key, v, nref, sizeof *v, adv_name);
        if (!hit) {
            if (!(v[cnt].ref = strdup(key.ref)))
                goto oom;
            hit = &v[cnt++];
        }
        hit->reach = score(rr->element[i + 1]);
    }
    qsort(v, cnt, sizeof *v, adv_rank);
    if (agg_advocates_clicks(r, conf, c, v, cnt) < 0)
        goto out;
    *out = v;
    *n = cnt;
    v = NULL;
    rc = 0;
    goto out;
oom:
    sys_redis_set_err(r, SYS_REDIS_NOMEM, "out of memory");
out:
    agg_advocates_free(v, cnt);
    if (ra)
        freeReplyObject(ra);
    if (rr)
        freeReplyObject(rr);
    return rc;
}

/* ---------------------------------------------------------------- stats */

/* Adds the members of a WITHSCORES reply to v (*cnt of them, cap room)
 * as advocates with that score as actions (actions) or reach, unless
 * already there (sorted by name in v[0..nsorted)). Returns 0 or -1 (memory). */
static int adv_add(agg_advocate *v, size_t *cnt, size_t nsorted, const redisReply *rep, int actions)
{
    for (size_t i = 0; rep && rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2) {
        agg_advocate key = {.ref = rep->element[i]->str ? rep->element[i]->str : ""};
        if (nsorted && bsearch(&key, v, nsorted, sizeof *v, adv_name))
            continue;
        if (!(v[*cnt].ref = strdup(key.ref)))
            return -1;
        if (actions)
            v[*cnt].actions = score(rep->element[i + 1]);
        else
            v[*cnt].reach = score(rep->element[i + 1]);
        (*cnt)++;
    }
    return 0;
}

/* Reads the k best of c's advocates without reading them all: those whose
 * actions reach the k-th best's (ties included), their reach by ZMSCORE,
 * and, when fewer than k acted, the best by reach of the rest. Returns 0 or
 * -1. */
int agg_report_top_advocates(sys_redis *r, const proto_conf *conf, const char *c, size_t k,
                             agg_advocate **out, size_t *n)
{
    char kref[PROTO_KEY_MAX], kreach[PROTO_KEY_MAX];
    redisReply *a = NULL, *b = NULL, *m = NULL;
    agg_advocate *v = NULL;
    const char **argv = NULL;
    size_t cnt = 0, na;
    int rc = -1;
    *out = NULL;
    *n = 0;
    if (k == 0)
        return 0;
    if (ckey(r, kref, conf, c, PROTO_CK_REF) < 0 || ckey(r, kreach, conf, c, PROTO_CK_REF_REACH) < 0)
        return -1;
    if (!(a = sys_redis_cmd(r, "ZREVRANGE %s 0 %lld WITHSCORES", kref, (long long)k - 1)))
        goto out;
    if (a->elements / 2 == k) {     /* the k-th best's actions, and every tie of it */
        char floor_[64];
        snprintf(floor_, sizeof floor_, "%s", a->element[2 * k - 1]->str ? a->element[2 * k - 1]->str : "0");
        freeReplyObject(a);
        if (!(a = sys_redis_cmd(r, "ZREVRANGEBYSCORE %s +inf %s WITHSCORES", kref, floor_)))
            goto out;
    }
    na = a->elements / 2;
    if (na < k) {                   /* fewer acted: the rest by reach (ties of the last included) */
        if (!(b = sys_redis_cmd(r, "ZREVRANGE %s 0 %lld WITHSCORES", kreach, (long long)(k + na) - 1)))
            goto out;
        size_t nb = b->elements / 2;
        if (nb == k + na && b->element[2 * nb - 1]->str) {
            char floor_[64];
            snprintf(floor_, sizeof floor_, "%s", b->element[2 * nb - 1]->str);
            freeReplyObject(b);
            if (!(b = sys_redis_cmd(r, "ZREVRANGEBYSCORE %s +inf %s WITHSCORES", kreach, floor_)))
                goto out;
        }
    }
    if (!(v = calloc(na + (b ? b->elements / 2 : 0) + 1, sizeof *v)) || adv_add(v, &cnt, 0, a, 1) < 0)
        goto oom;
    if (na) {                       /* the reach of those who acted */
        if (!(argv = calloc(na + 2, sizeof *argv)))
            goto oom;
        argv[0] = "ZMSCORE";
        argv[1] = kreach;
        for (size_t i = 0; i < na; i++)
            argv[i + 2] = v[i].ref;
        if (!(m = sys_redis_cmdv(r, (int)(na + 2), argv, NULL)))
            goto out;
        for (size_t i = 0; m->type == REDIS_REPLY_ARRAY && i < m->elements && i < na; i++)
            v[i].reach = score(m->element[i]);
    }
    qsort(v, cnt, sizeof *v, adv_name);
    if (adv_add(v, &cnt, cnt, b, 0) < 0)
        goto oom;
    qsort(v, cnt, sizeof *v, adv_rank);
    while (cnt > k)
        free(v[--cnt].ref);
    if (agg_advocates_clicks(r, conf, c, v, cnt) < 0)
        goto out;
    *out = v;
    *n = cnt;
    v = NULL;
    rc = 0;
    goto out;
oom:
    sys_redis_set_err(r, SYS_REDIS_NOMEM, "out of memory");
out:
    agg_advocates_free(v, cnt);
    free(argv);
    if (a)
        freeReplyObject(a);
    if (b)
        freeReplyObject(b);
    if (m)
        freeReplyObject(m);
    return rc;
}

/* Estimates a latency quantile from cumulative buckets; NAN if none. */
double agg_report_fl_quantile(const int64_t cum_in[PROTO_FL_BUCKETS + 1], double max_s, double q)
{
    double cum[PROTO_FL_BUCKETS + 1], lower = 0, prev = 0;
    for (int i = 0; i <= PROTO_FL_BUCKETS; i++) {
        cum[i] = (double)cum_in[i];
        if (i > 0 && cum[i] < cum[i - 1])
            cum[i] = cum[i - 1];
    }
    if (cum[PROTO_FL_BUCKETS] <= 0)
        return NAN;
    double rank = q * cum[PROTO_FL_BUCKETS];
    double last = proto_fl_bound_s(PROTO_FL_BUCKETS - 1);
    for (int i = 0; i <= PROTO_FL_BUCKETS; i++) {
        double upper = i < PROTO_FL_BUCKETS ? proto_fl_bound_s(i) : (max_s > last ? max_s : last);
        if (cum[i] >= rank && cum[i] > prev) {
            double est = lower + (upper - lower) * (rank - prev) / (cum[i] - prev);
            return (max_s > 0 && est > max_s) ? max_s : est;
        }
        prev = cum[i];
        lower = upper;
    }
    return NAN;
}

/* Reads a campaign's SLA. Returns 0 or -1. */
int agg_report_sla(sys_redis *r, const proto_conf *conf, const char *c, int64_t *sla_s)
{
    char key[PROTO_KEY_MAX];
    redisReply *rep;
    if (ckey(r, key, conf, c, PROTO_CK_CFG) < 0 ||
        !(rep = sys_redis_cmd(r, "HGET %s " PROTO_CFG_SLA, key)))
        return -1;
    if (rep->type != REDIS_REPLY_STRING || parse_i64(rep->str, sla_s) < 0 || *sla_s <= 0)
        *sla_s = conf->followup_sla_s;
    freeReplyObject(rep);
    return 0;
}

/* Frees what agg_report_stats filled; never fails. */
void agg_stats_free(agg_stats *st)
{
    agg_advocates_free(st->adv, st->nadv);
    for (size_t i = 0; i < st->ncounters; i++) {
        free(st->counters[i].name);
        free(st->counters[i].value);
    }
    free(st->counters);
    agg_members_free(st->pages, st->npages);
    agg_members_free(st->referrers, st->nreferrers);
    memset(st, 0, sizeof *st);
}

/* Derives the totals from the campaign hash h; returns 0 or -1 (no memory). */
static int totals_of(agg_stats *st, const redisReply *h)
{
    char f[64];
    st->opens = hval(h, proto_event_name(PROTO_EV_OPEN));
    proto_field_event(f, sizeof f, proto_event_name(PROTO_EV_OPEN), 0);
    st->machine_opens = hval(h, f);
    st->views = hval(h, proto_event_name(PROTO_EV_VIEW));
    st->clicks = hval(h, proto_event_name(PROTO_EV_CLICK));
    st->signups = hval(h, proto_event_name(PROTO_EV_SIGNUP));
    st->donations = hval(h, proto_event_name(PROTO_EV_DONATE));
    st->value_cents = hval(h, PROTO_FIELD_VALUE);
    st->conversions = hval(h, proto_event_name(PROTO_EV_CONVERT));
    st->dup = hval(h, PROTO_FIELD_DUP);
    st->anonymous = hval(h, PROTO_FIELD_ANON);
    if (h->elements && !(st->counters = calloc(h->elements / 2, sizeof *st->counters)))
        return -1;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const char *name = h->element[i]->str ? h->element[i]->str : "";
        const char *value = h->element[i + 1]->str ? h->element[i + 1]->str : "";
        int64_t v;
        agg_counter *k = &st->counters[st->ncounters];
        if (!(k->name = strdup(name)) || !(k->value = strdup(value))) {
            free(k->name);
            return -1;
        }
        st->ncounters++;
        if (!proto_field_builtin(name) && parse_i64(value, &v) == 0)
            st->custom += v;
    }
    st->actions = st->signups + st->donations + st->conversions + st->custom;
    return 0;
}

/* Reads every figure of campaign c. Returns 0 or -1. */
int agg_report_stats(sys_redis *r, const proto_conf *conf, const char *c, int64_t now_ms,
                     agg_stats *st)
{
    char k[PROTO_KEY_MAX];
    redisReply *h = NULL, *rep = NULL;
    int rc = -1;
    memset(st, 0, sizeof *st);
    if (ckey(r, k, conf, c, PROTO_CK_TOTALS) < 0 || !(h = sys_redis_cmd(r, "HGETALL %s", k)))
        goto out;
    if (totals_of(st, h) < 0) {
        sys_redis_set_err(r, SYS_REDIS_NOMEM, "out of memory");
        goto out;
    }
    static const proto_event reached[] = {PROTO_EV_OPEN, PROTO_EV_VIEW, PROTO_EV_CLICK,
                                          PROTO_EV_SIGNUP, PROTO_EV_DONATE, PROTO_EV_CONVERT,
                                          PROTO_EV_CUSTOM};
    static const proto_event acted[] = {PROTO_EV_SIGNUP, PROTO_EV_DONATE, PROTO_EV_CONVERT,
                                        PROTO_EV_CUSTOM};
    static const proto_event clicked[] = {PROTO_EV_CLICK, PROTO_EV_CUSTOM};
    static const proto_event viewed[] = {PROTO_EV_VIEW, PROTO_EV_CUSTOM};
    if (people(r, conf, c, reached, st, 1, &st->reach) < 0 ||
        people(r, conf, c, acted, st, 1, &st->actors) < 0 ||
        people(r, conf, c, clicked, st, 0, &st->clickers) < 0 ||
        people(r, conf, c, viewed, st, 0, &st->viewers) < 0)
        goto out;
    for (int i = 0; i < PROTO_SCROLL_BUCKETS; i++) {
        if (proto_key_scroll(k, sizeof k, conf->prefix, c, i) < 0) {
            too_long(r);
            goto out;
        }
        if (!(rep = sys_redis_cmd(r, "PFCOUNT %s", k)))
            goto out;
        st->scroll[i] = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
        freeReplyObject(rep);
        st->scroll_rate[i] = rate(st->scroll[i], st->viewers, AGG_CLAMP_SCROLL, &st->clamped);
    }
    if (ckey(r, k, conf, c, PROTO_CK_FL) < 0 || !(rep = sys_redis_cmd(r, "HGETALL %s", k)))
        goto out;
    for (int i = 0; i <= PROTO_FL_BUCKETS; i++)
        st->fl_cum[i] = hval(rep, proto_fl_field(i));
    st->followups = hval(rep, PROTO_FL_COUNT);
    st->unmatched = hval(rep, PROTO_FL_UNMATCHED);
    double max_s = (double)hval(rep, PROTO_FL_MAX_MS) / 1000.0;
    st->fl_p50_s = agg_report_fl_quantile(st->fl_cum, max_s, 0.5);
    st->fl_p90_s = agg_report_fl_quantile(st->fl_cum, max_s, 0.9);
    st->fl_max_s = st->followups > 0 ? max_s : NAN;
    freeReplyObject(rep);
    if (agg_report_sla(r, conf, c, &st->sla_s) < 0)
        goto out;
    if (ckey(r, k, conf, c, PROTO_CK_PENDING) < 0 || !(rep = sys_redis_cmd(r, "ZCARD %s", k)))
        goto out;
    st->pending = rep->integer;
    freeReplyObject(rep);
    if (!(rep = sys_redis_cmd(r, "ZCOUNT %s -inf (%lld", k, (long long)(now_ms - st->sla_s * 1000))))
        goto out;
    st->overdue = rep->integer;
    freeReplyObject(rep);
    if (agg_report_top_advocates(r, conf, c, AGG_REPORT_TOP, &st->adv, &st->nadv) < 0)
        goto out;
    if (ckey(r, k, conf, c, PROTO_CK_PAGES) < 0 ||
        read_members(r, k, 1, AGG_REPORT_TOP - 1, &st->pages, &st->npages) < 0 ||
        ckey(r, k, conf, c, PROTO_CK_REFERRERS) < 0 ||
        read_members(r, k, 1, AGG_REPORT_TOP - 1, &st->referrers, &st->nreferrers) < 0)
        goto out;
    st->click_rate = rate(st->clickers, st->reach, AGG_CLAMP_CLICK, &st->clamped);
    st->conversion_rate = rate(st->actors, st->reach, AGG_CLAMP_CONVERSION, &st->clamped);
    st->action_gap = st->reach > 0 ? 1.0 - st->conversion_rate : NAN;
    rc = 0;
out:
    if (h)
        freeReplyObject(h);
    if (rc < 0)
        agg_stats_free(st);
    return rc;
}

/* Returns the share of follow-ups answered within sla_s, when sla_s is a
 * bucket bound (exact), or NAN. Pure. */
double agg_report_within_sla(const agg_stats *st)
{
    if (st->followups <= 0)
        return NAN;
    for (int i = 0; i < PROTO_FL_BUCKETS; i++)
        if (proto_fl_bound_s(i) == st->sla_s)
            return (double)st->fl_cum[i] / (double)st->followups;
    return NAN;
}

double agg_report_adv_rate(const agg_advocate *a)
{
    if (a->reach <= 0)
        return NAN;
    double r = (double)a->actions / (double)a->reach;
    return r > 1 ? 1 : r;
}

/* ---------------------------------------------------------------- summaries */

/* One campaign of a pipelined summary read. */
typedef struct {
    agg_stats *st;
    long long *dead;
    int failed;
} summ;

/* Takes a campaign's totals (index 0) and SLA (1) replies. */
static int on_summ_head(void *arg, redisReply *rep, size_t i)
{
    summ *x = arg;
    int64_t v;
    if (rep->type == REDIS_REPLY_ERROR)
        x->failed = 1;
    else if (i == 0 && totals_of(x->st, rep) < 0)
        x->failed = 1;
    else if (i == 1)
        x->st->sla_s = rep->type == REDIS_REPLY_STRING && parse_i64(rep->str, &v) == 0 && v > 0 ? v : 0;
    freeReplyObject(rep);
    return 0;
}

/* Takes a campaign's reach, actors, pending, overdue and dead-letter
 * replies (indexes 0..4). */
static int on_summ_tail(void *arg, redisReply *rep, size_t i)
{
    summ *x = arg;
    int64_t v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
    if (rep->type == REDIS_REPLY_ERROR)
        x->failed = 1;
    int64_t *slot[] = {&x->st->reach, &x->st->actors, &x->st->pending, &x->st->overdue, NULL};
    if (i < 4)
        *slot[i] = v;
    else
        *x->dead = v;
    freeReplyObject(rep);
    return 0;
}

/* Appends command name with up to three arguments (NULL ends them) to out
 * as RESP; never fails (out->oom). */
static void cmd(proto_resp *out, const char *name, const char *a1, const char *a2, const char *a3)
{
    proto_resp args = {0};
    const char *v[] = {name, a1, a2, a3};
    for (size_t i = 0; i < 4 && v[i]; i++)
        proto_resp_str(&args, v[i]);
    proto_resp_command(out, &args);
    out->oom |= args.oom;
    proto_resp_free(&args);
}

/* Appends PFCOUNT of the union of c's HLLs of evs (and, with customs,
 * every custom event of st's totals) to out as RESP; never fails (oom). */
static void people_resp(const proto_conf *conf, const char *c, const proto_event *evs, const agg_stats *st,
                        int customs, proto_resp *out)
{
    proto_resp args = {0};
    char k[PROTO_KEY_MAX];
    proto_resp_str(&args, "PFCOUNT");
    for (const proto_event *e = evs; *e != PROTO_EV_CUSTOM; e++)
        if (proto_key_uniq(k, sizeof k, conf->prefix, c, proto_event_name(*e)) >= 0)
            proto_resp_str(&args, k);
    for (size_t i = 0; customs && i < st->ncounters; i++)
        if (!proto_field_builtin(st->counters[i].name) &&
            proto_key_uniq(k, sizeof k, conf->prefix, c, st->counters[i].name) >= 0)
            proto_resp_str(&args, k);
    proto_resp_command(out, &args);
    out->oom |= args.oom;
    proto_resp_free(&args);
}

int agg_report_summaries(sys_redis *r, const proto_conf *conf, const agg_member *camps, size_t n, int64_t now_ms,
                         agg_stats *st, long long *dead)
{
    static const proto_event reached[] = {PROTO_EV_OPEN, PROTO_EV_VIEW, PROTO_EV_CLICK, PROTO_EV_SIGNUP,
                                          PROTO_EV_DONATE, PROTO_EV_CONVERT, PROTO_EV_CUSTOM};
    static const proto_event acted[] = {PROTO_EV_SIGNUP, PROTO_EV_DONATE, PROTO_EV_CONVERT, PROTO_EV_CUSTOM};
    char k[PROTO_KEY_MAX], kp[PROTO_KEY_MAX];
    summ *x = calloc(n + 1, sizeof *x);
    proto_resp out = {0};
    int rc = -1;
    memset(st, 0, n * sizeof *st);
    if (!x) {
        sys_redis_set_err(r, SYS_REDIS_NOMEM, "out of memory");
        return -1;
    }
    if (sys_redis_connect(r) < 0)
        goto out;
    /* round 1: totals and SLA of every campaign */
    for (size_t i = 0; i < n; i++) {
        x[i] = (summ){&st[i], &dead[i], 0};
        proto_resp_reset(&out);
        if (ckey(r, k, conf, camps[i].name, PROTO_CK_TOTALS) < 0 ||
            ckey(r, kp, conf, camps[i].name, PROTO_CK_CFG) < 0)
            goto out;
        cmd(&out, "HGETALL", k, NULL, NULL);
        cmd(&out, "HGET", kp, PROTO_CFG_SLA, NULL);
        if (out.oom || sys_redis_send(r, out.data, out.len, 2, on_summ_head, &x[i], NULL, NULL) < 0)
            goto oom;
    }
    if (sys_redis_run(r, 0) < 0)
        goto out;
    /* round 2: people, follow-up queue and dead letters, from what round 1 read */
    for (size_t i = 0; i < n; i++) {
        const char *c = camps[i].name;
        if (!st[i].sla_s)
            st[i].sla_s = conf->followup_sla_s;
        proto_resp_reset(&out);
        people_resp(conf, c, reached, &st[i], 1, &out);
        people_resp(conf, c, acted, &st[i], 1, &out);
        if (ckey(r, k, conf, c, PROTO_CK_PENDING) < 0 || ckey(r, kp, conf, c, PROTO_CK_DEAD) < 0)
            goto out;
        char lim[32];
        snprintf(lim, sizeof lim, "(%lld", (long long)(now_ms - st[i].sla_s * 1000));
        cmd(&out, "ZCARD", k, NULL, NULL);
        cmd(&out, "ZCOUNT", k, "-inf", lim);
        cmd(&out, "XLEN", kp, NULL, NULL);
        if (out.oom || sys_redis_send(r, out.data, out.len, 5, on_summ_tail, &x[i], NULL, NULL) < 0)
            goto oom;
    }
    if (sys_redis_run(r, 0) < 0)
        goto out;
    rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i].failed) {
            sys_redis_set_err(r, SYS_REDIS_REPLY, "a campaign key of the wrong type");
            rc = -1;
        }
        st[i].conversion_rate = rate(st[i].actors, st[i].reach, AGG_CLAMP_CONVERSION, &st[i].clamped);
        st[i].action_gap = st[i].reach > 0 ? 1.0 - st[i].conversion_rate : NAN;
        st[i].click_rate = NAN;
        for (int b = 0; b < PROTO_SCROLL_BUCKETS; b++)
            st[i].scroll_rate[b] = NAN;
        st[i].fl_p50_s = st[i].fl_p90_s = st[i].fl_max_s = NAN;
    }
    goto out;
oom:
    sys_redis_set_err(r, SYS_REDIS_NOMEM, "out of memory");
out:
    if (rc < 0) {
        if (sys_redis_owed(r))
            sys_redis_close(r);
        for (size_t i = 0; i < n; i++)
            agg_stats_free(&st[i]);
    }
    proto_resp_free(&out);
    free(x);
    return rc;
}

/* ---------------------------------------------------------------- series */

void agg_series_free(agg_bucket *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        for (size_t j = 0; j < v[i].nfields; j++) {
            free(v[i].fields[j].name);
            free(v[i].fields[j].value);
        }
        free(v[i].fields);
    }
    free(v);
}

/* Takes one bucket's HGETALL reply (a ledger handler): copies its fields
 * into the bucket. Returns 0, or -1 (an error reply, or no memory: the
 * caller closes the connection). */
static int on_bucket(void *arg, redisReply *h, size_t i)
{
    agg_bucket *b = arg;
    int rc = 0;
    (void)i;
    if (h->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(h);
        return -1;
    }
    size_t nf = h->elements / 2;
    if (nf && !(b->fields = calloc(nf, sizeof *b->fields)))
        rc = -1;
    for (size_t j = 0; rc == 0 && j < nf; j++) {
        agg_counter *f = &b->fields[b->nfields++];
        f->name = strdup(h->element[2 * j]->str ? h->element[2 * j]->str : "");
        f->value = strdup(h->element[2 * j + 1]->str ? h->element[2 * j + 1]->str : "");
        if (!f->name || !f->value)
            rc = -1;
    }
    freeReplyObject(h);
    return rc;
}

/* Reads the hourly (hour) or daily buckets of c whose start lies in
 * [from_ms, to_ms], oldest first, in one pipelined round of HGETALLs.
 * Returns 0 or -1 (also for more than AGG_SERIES_MAX buckets). */
int agg_report_series(sys_redis *r, const proto_conf *conf, const char *c, int hour, int64_t from_ms,
                      int64_t to_ms, agg_bucket **out, size_t *n)
{
    int64_t step = hour ? PROTO_HOUR_MS : PROTO_DAY_MS;
    int64_t first = from_ms - from_ms % step;
    *out = NULL;
    *n = 0;
    if (to_ms < first || (to_ms - first) / step >= AGG_SERIES_MAX) {
        sys_redis_set_err(r, SYS_REDIS_REPLY, "range: at most " AGG_SERIES_MAX_TEXT " buckets");
        return -1;
    }
    size_t cnt = (size_t)((to_ms - first) / step) + 1;
    agg_bucket *v = calloc(cnt, sizeof *v);
    if (!v) {
        sys_redis_set_err(r, SYS_REDIS_NOMEM, "out of memory");
        return -1;
    }
    char k[PROTO_KEY_MAX];
    int rc = sys_redis_connect(r);
    for (size_t i = 0; rc == 0 && i < cnt; i++) {
        v[i].t_ms = first + (int64_t)i * step;
        if ((hour ? proto_key_hour(k, sizeof k, conf->prefix, c, v[i].t_ms)
                  : proto_key_day(k, sizeof k, conf->prefix, c, v[i].t_ms)) < 0)
            rc = too_long(r);
        else
            rc = sys_redis_sendf(r, on_bucket, &v[i], "HGETALL %s", k);
    }
    if (rc == 0 && sys_redis_run(r, 0) < 0)
        rc = -1;
    if (rc < 0) {
        if (sys_redis_owed(r))      /* replies still owed: the connection is out of step */
            sys_redis_close(r);
        agg_series_free(v, cnt);
        return -1;
    }
    *out = v;
    *n = cnt;
    return 0;
}

/* ---------------------------------------------------------------- lists */



/* Reads c's pending signups, oldest first. Returns 0 or -1. */
int agg_report_pending(sys_redis *r, const proto_conf *conf, const char *c, agg_member **out,
                       size_t *n)
{
    char key[PROTO_KEY_MAX];
    *out = NULL;
    *n = 0;
    if (ckey(r, key, conf, c, PROTO_CK_PENDING) < 0)
        return -1;
    return read_members(r, key, 0, -1, out, n);
}

/* Reads every campaign by last activity. Returns 0 or -1. */
int agg_report_campaigns(sys_redis *r, const proto_conf *conf, agg_member **out, size_t *n)
{
    char key[PROTO_KEY_MAX];
    *out = NULL;
    *n = 0;
    if (proto_key_campaigns(key, sizeof key, conf->prefix) < 0)
        return too_long(r);
    return read_members(r, key, 1, -1, out, n);
}

/* Reads whether campaign c has ever had a hit applied (it is in
 * ag:campaigns) into *known. Returns 0 or -1. */
int agg_report_known(sys_redis *r, const proto_conf *conf, const char *c, int *known)
{
    char key[PROTO_KEY_MAX];
    if (proto_key_campaigns(key, sizeof key, conf->prefix) < 0)
        return too_long(r);
    redisReply *rep = sys_redis_cmd(r, "ZSCORE %s %s", key, c);
    if (!rep)
        return -1;
    *known = rep->type == REDIS_REPLY_STRING;
    freeReplyObject(rep);
    return 0;
}

/* Reads how many entries wait in campaign c's dead-letter stream (a
 * poisoned key refused them; `actiongap repair` re-queues them). Returns 0
 * or -1. */
int agg_report_dead(sys_redis *r, const proto_conf *conf, const char *c, long long *n)
{
    char key[PROTO_KEY_MAX];
    if (ckey(r, key, conf, c, PROTO_CK_DEAD) < 0)
        return -1;
    redisReply *rep = sys_redis_cmd(r, "XLEN %s", key);
    if (!rep)
        return -1;
    *n = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
    freeReplyObject(rep);
    return 0;
}

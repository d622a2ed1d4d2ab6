/* cli_report.c: the read-only report verbs of `actiongap` — campaigns,
 * stats, top and pending — from the SPEC 3 counters. In JSON, rates are
 * fractions (0..1; null when the reach is 0) and durations seconds; tables
 * show percentages with one decimal and 4m12s-style durations. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cli.h"
#include "keys.h"

#define STATS_TOP 5

/* Follow-up latency buckets of ag:c:{C}:fl: names and upper bounds (s). */
static const char *const fl_names[] = {"le_60s", "le_300s", "le_900s", "le_3600s",
                                       "le_14400s", "le_86400s", "le_inf"};
static const double fl_bounds[] = {60, 300, 900, 3600, 14400, 86400};
#define FL_N 7

/* Hash fields of ag:c:{C} that are not custom events. */
static const char *const builtin_fields[] = {"open", "view", "click", "scroll", "signup",
                                             "donate", "convert", "followup", "value",
                                             "dup", "first_ts", "last_ts"};

/* One advocate of the leaderboard. */
typedef struct {
    char *ref;
    int64_t actions, reach;
} advocate;

/* ---------------------------------------------------------------- helpers */

/* Builds ag:c:{C}:<suffix> (or ag:c:{C} for NULL); returns 0, or -1
 * (printed) if it does not fit. */
static int ckey(cli_ctx *x, char *buf, const char *c, const char *suffix)
{
    int n = suffix ? proto_key_campaign_sub(buf, PROTO_KEY_MAX, x->conf.prefix, c, suffix)
                   : proto_key_campaign(buf, PROTO_KEY_MAX, x->conf.prefix, c);
    if (n < 0) {
        fputs("actiongap: key name too long (check --prefix)\n", stderr);
        return -1;
    }
    return 0;
}

/* Returns the integer value of field in an HGETALL reply, or 0 when the
 * field is absent or not an integer. */
static int64_t hval(const redisReply *h, const char *field)
{
    int64_t v = 0;

    if (!h || h->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->str && strcmp(h->element[i]->str, field) == 0)
            return cli_parse_i64(h->element[i + 1]->str, &v) == 0 ? v : 0;
    return 0;
}

/* Returns the score text of a reply element as a rounded integer (0 if not
 * a number). */
static int64_t score(const redisReply *e)
{
    char *end;
    double d;

    if (!e || !e->str)
        return 0;
    d = strtod(e->str, &end);
    return (end == e->str || !isfinite(d)) ? 0 : (int64_t)llround(d);
}

/* Writes part ÷ whole as a percentage with one decimal, or "-" when whole
 * is 0; returns buf. */
static char *pct(char *buf, size_t cap, double part, double whole)
{
    if (whole <= 0)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.1f%%", 100.0 * part / whole);
    return buf;
}

/* Adds part ÷ whole to obj, or null when whole is 0; never fails (cJSON
 * ignores a NULL obj). */
static void add_rate(cJSON *obj, const char *name, double part, double whole)
{
    if (whole <= 0)
        cJSON_AddNullToObject(obj, name);
    else
        cJSON_AddNumberToObject(obj, name, part / whole);
}

/* Returns the follow-up SLA of campaign c in seconds: its cfg
 * followup_sla_s if a positive integer, else conf.followup_sla_s; -1 (printed)
 * on a Redis failure. */
static int64_t campaign_sla(cli_ctx *x, const char *c)
{
    char key[PROTO_KEY_MAX];
    int64_t v;
    redisReply *r;

    if (ckey(x, key, c, "cfg") < 0 || !(r = cli_cmd(x, "HGET %s followup_sla_s", key)))
        return -1;
    if (r->type != REDIS_REPLY_STRING || cli_parse_i64(r->str, &v) < 0 || v <= 0)
        v = x->conf.followup_sla_s;
    freeReplyObject(r);
    return v;
}

/* Orders advocates by actions, then reach (both descending), then name;
 * never fails. */
static int adv_rank(const void *pa, const void *pb)
{
    const advocate *a = pa, *b = pb;

    if (a->actions != b->actions)
        return a->actions > b->actions ? -1 : 1;
    if (a->reach != b->reach)
        return a->reach > b->reach ? -1 : 1;
    return strcmp(a->ref, b->ref);
}

/* Orders advocates by name; never fails. */
static int adv_name(const void *pa, const void *pb)
{
    return strcmp(((const advocate *)pa)->ref, ((const advocate *)pb)->ref);
}

/* Frees n advocates and the array; NULL is a no-op. */
static void adv_free(advocate *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].ref);
    free(v);
}

/* Loads every advocate of ag:c:{C}:ref and :ref:reach, ranked. Returns 0
 * with *out (free with adv_free) and *n, or -1 (printed). */
static int load_advocates(cli_ctx *x, const char *c, advocate **out, size_t *n)
{
    char kref[PROTO_KEY_MAX], kreach[PROTO_KEY_MAX];
    redisReply *ra = NULL, *rr = NULL;
    advocate *v = NULL;
    size_t cnt = 0, nref;
    int rc = -1;

    *out = NULL;
    *n = 0;
    if (ckey(x, kref, c, "ref") < 0 || ckey(x, kreach, c, "ref:reach") < 0)
        return -1;
    if (!(ra = cli_cmd(x, "ZRANGE %s 0 -1 WITHSCORES", kref)) ||
        !(rr = cli_cmd(x, "ZRANGE %s 0 -1 WITHSCORES", kreach)))
        goto out;
    v = calloc(ra->elements / 2 + rr->elements / 2 + 1, sizeof *v);
    if (!v)
        goto oom;
    for (size_t i = 0; i + 1 < ra->elements; i += 2) {
        if (!(v[cnt].ref = strdup(ra->element[i]->str ? ra->element[i]->str : "")))
            goto oom;
        v[cnt++].actions = score(ra->element[i + 1]);
    }
    nref = cnt;
    qsort(v, nref, sizeof *v, adv_name);
    for (size_t i = 0; i + 1 < rr->elements; i += 2) {
        advocate key = {.ref = rr->element[i]->str ? rr->element[i]->str : ""};
        advocate *hit = bsearch(&key, v, nref, sizeof *v, adv_name);
        if (!hit) {
            if (!(v[cnt].ref = strdup(key.ref)))
                goto oom;
            hit = &v[cnt++];
        }
        hit->reach = score(rr->element[i + 1]);
    }
    qsort(v, cnt, sizeof *v, adv_rank);
    *out = v;
    *n = cnt;
    v = NULL;
    rc = 0;
    goto out;
oom:
    fputs("actiongap: out of memory\n", stderr);
out:
    adv_free(v, cnt);
    if (ra)
        freeReplyObject(ra);
    if (rr)
        freeReplyObject(rr);
    return rc;
}

/* ---------------------------------------------------------------- campaigns */

/* Lists campaigns by last activity; returns an exit status. */
int cli_campaigns(cli_ctx *x)
{
    static const char *const titles[] = {"CAMPAIGN", "LAST ACTIVITY", "AGO"};
    char key[PROTO_KEY_MAX], iso[32], ago[40], dur[32];
    int64_t now = sys_now_ms();
    redisReply *r;
    cli_table *t = NULL;
    cJSON *doc = NULL, *arr;
    int rc = CLI_ERR;

    if (proto_key_campaigns(key, sizeof key, x->conf.prefix) < 0) {
        fputs("actiongap: key name too long (check --prefix)\n", stderr);
        return CLI_ERR;
    }
    if (cli_connect(x) < 0 || !(r = cli_cmd(x, "ZREVRANGE %s 0 -1 WITHSCORES", key)))
        return CLI_ERR;
    if (x->json) {
        doc = cJSON_CreateObject();
        arr = cJSON_AddArrayToObject(doc, "campaigns");
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            int64_t ms = score(r->element[i + 1]);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "campaign", r->element[i]->str);
            cJSON_AddNumberToObject(o, "last_activity_ms", (double)ms);
            cJSON_AddStringToObject(o, "last_activity", cli_fmt_time(iso, sizeof iso, ms));
            cJSON_AddNumberToObject(o, "ago_s", (double)(now - ms) / 1000.0);
            cJSON_AddItemToArray(arr, o);
        }
        rc = cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
        goto out;
    }
    if (r->elements == 0) {
        puts("no campaigns yet");
        rc = CLI_OK;
        goto out;
    }
    if (!(t = cli_table_new(3, titles)))
        goto out;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        int64_t ms = score(r->element[i + 1]);
        snprintf(ago, sizeof ago, "%s ago", cli_fmt_duration(dur, sizeof dur, (double)(now - ms) / 1000.0));
        const char *cells[] = {r->element[i]->str, cli_fmt_time(iso, sizeof iso, ms), ago};
        if (cli_table_add(t, cells) < 0)
            goto out;
    }
    cli_table_print(t, stdout);
    rc = CLI_OK;
out:
    cli_table_free(t);
    freeReplyObject(r);
    return rc;
}

/* ---------------------------------------------------------------- stats */

/* Estimates quantile q (0..1] of the follow-up latency in seconds from the
 * cumulative buckets of an HGETALL reply of ag:c:{C}:fl, as Prometheus's
 * histogram_quantile does: the rank q × total falls in the first bucket whose
 * cumulative count reaches it, and is placed by linear interpolation between
 * that bucket's bounds (0 for the first; the last bucket, le_inf, ends at
 * max_ms, or 86400 s if max_ms is smaller); the estimate is capped at max_ms.
 * Returns NAN (the failure) when there are no follow-ups. */
static double fl_quantile(const redisReply *fl, double q)
{
    double max_s = (double)hval(fl, "max_ms") / 1000.0, lower = 0, prev = 0;
    double cum[FL_N];

    for (int i = 0; i < FL_N; i++) {
        cum[i] = (double)hval(fl, fl_names[i]);
        if (i > 0 && cum[i] < cum[i - 1])
            cum[i] = cum[i - 1];
    }
    if (cum[FL_N - 1] <= 0)
        return NAN;
    double rank = q * cum[FL_N - 1];
    for (int i = 0; i < FL_N; i++) {
        double upper = i < FL_N - 1 ? fl_bounds[i] : (max_s > 86400 ? max_s : 86400);
        if (cum[i] >= rank && cum[i] > prev) {
            double est = lower + (upper - lower) * (rank - prev) / (cum[i] - prev);
            return (max_s > 0 && est > max_s) ? max_s : est;
        }
        prev = cum[i];
        lower = upper;
    }
    return NAN;
}

/* Returns 1 if field of ag:c:{C} is a custom event, 0 otherwise. */
static int is_custom(const char *field)
{
    if (strncmp(field, "machine_", 8) == 0)
        return 0;
    for (size_t i = 0; i < sizeof builtin_fields / sizeof builtin_fields[0]; i++)
        if (strcmp(field, builtin_fields[i]) == 0)
            return 0;
    return 1;
}

/* Everything `stats` shows, read from Redis. */
typedef struct {
    redisReply *hash, *scroll, *fl;
    int64_t reach, pending, overdue, sla_s;
    advocate *adv;
    size_t nadv;
} stats_data;

/* Reads every key stats needs; returns 0, or -1 (printed). */
static int stats_load(cli_ctx *x, const char *c, stats_data *d)
{
    char k[PROTO_KEY_MAX], ko[PROTO_KEY_MAX], kv[PROTO_KEY_MAX], kc[PROTO_KEY_MAX];
    redisReply *r;

    if (ckey(x, k, c, NULL) < 0 || !(d->hash = cli_cmd(x, "HGETALL %s", k)))
        return -1;
    if (ckey(x, ko, c, "u:open") < 0 || ckey(x, kv, c, "u:view") < 0 ||
        ckey(x, kc, c, "u:click") < 0 || !(r = cli_cmd(x, "PFCOUNT %s %s %s", ko, kv, kc)))
        return -1;
    d->reach = r->integer;
    freeReplyObject(r);
    if (ckey(x, k, c, "scroll") < 0 || !(d->scroll = cli_cmd(x, "HGETALL %s", k)))
        return -1;
    if (ckey(x, k, c, "fl") < 0 || !(d->fl = cli_cmd(x, "HGETALL %s", k)))
        return -1;
    if ((d->sla_s = campaign_sla(x, c)) < 0)
        return -1;
    if (ckey(x, k, c, "pending") < 0 || !(r = cli_cmd(x, "ZCARD %s", k)))
        return -1;
    d->pending = r->integer;
    freeReplyObject(r);
    long long cutoff = (long long)(sys_now_ms() - d->sla_s * 1000);
    if (!(r = cli_cmd(x, "ZCOUNT %s -inf (%lld", k, cutoff)))
        return -1;
    d->overdue = r->integer;
    freeReplyObject(r);
    return load_advocates(x, c, &d->adv, &d->nadv);
}

/* Totals derived from the campaign hash. */
typedef struct {
    int64_t opens, machine_opens, views, clicks, signups, donations, value, conversions;
    int64_t custom, actions, dup;
} stats_totals;

/* Derives the totals (actions = signup + donate + convert + custom events)
 * from d; never fails. */
static void stats_totals_of(const stats_data *d, stats_totals *t)
{
    const redisReply *h = d->hash;

    memset(t, 0, sizeof *t);
    t->opens = hval(h, "open");
    t->machine_opens = hval(h, "machine_open");
    t->views = hval(h, "view");
    t->clicks = hval(h, "click");
    t->signups = hval(h, "signup");
    t->donations = hval(h, "donate");
    t->value = hval(h, "value");
    t->conversions = hval(h, "convert");
    t->dup = hval(h, "dup");
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        int64_t v;
        if (h->element[i]->str && is_custom(h->element[i]->str) &&
            cli_parse_i64(h->element[i + 1]->str, &v) == 0)
            t->custom += v;
    }
    t->actions = t->signups + t->donations + t->conversions + t->custom;
}

/* Adds seconds (or null for NAN) to obj; never fails. */
static void add_secs(cJSON *obj, const char *name, double s)
{
    if (isnan(s))
        cJSON_AddNullToObject(obj, name);
    else
        cJSON_AddNumberToObject(obj, name, s);
}

/* Prints stats as one JSON document; returns 0 or -1. */
static int stats_json(const char *c, const stats_data *d, const stats_totals *t)
{
    static const char *const depths[] = {"25", "50", "75", "100"};
    const redisReply *h = d->hash;
    double reach = (double)d->reach;
    cJSON *doc = cJSON_CreateObject(), *o, *arr;

    cJSON_AddStringToObject(doc, "campaign", c);
    cJSON_AddNumberToObject(doc, "reach", reach);
    cJSON_AddNumberToObject(doc, "opens", (double)t->opens);
    cJSON_AddNumberToObject(doc, "machine_opens", (double)t->machine_opens);
    cJSON_AddNumberToObject(doc, "views", (double)t->views);
    cJSON_AddNumberToObject(doc, "clicks", (double)t->clicks);
    add_rate(doc, "click_rate", (double)t->clicks, reach);
    cJSON_AddNumberToObject(doc, "signups", (double)t->signups);
    o = cJSON_AddObjectToObject(doc, "donations");
    cJSON_AddNumberToObject(o, "count", (double)t->donations);
    cJSON_AddNumberToObject(o, "value_cents", (double)t->value);
    cJSON_AddNumberToObject(doc, "conversions", (double)t->conversions);
    cJSON_AddNumberToObject(doc, "custom_actions", (double)t->custom);
    cJSON_AddNumberToObject(doc, "actions", (double)t->actions);
    add_rate(doc, "conversion_rate", (double)t->actions, reach);
    if (reach <= 0)
        cJSON_AddNullToObject(doc, "action_gap");
    else
        cJSON_AddNumberToObject(doc, "action_gap", 1.0 - (double)t->actions / reach);
    o = cJSON_AddObjectToObject(doc, "scroll");
    for (int i = 0; i < 4; i++)
        cJSON_AddNumberToObject(o, depths[i], (double)hval(d->scroll, depths[i]));
    o = cJSON_AddObjectToObject(doc, "followup");
    cJSON_AddNumberToObject(o, "count", (double)hval(d->fl, "count"));
    add_secs(o, "p50_s", fl_quantile(d->fl, 0.5));
    add_secs(o, "p90_s", fl_quantile(d->fl, 0.9));
    add_secs(o, "max_s", hval(d->fl, "count") > 0 ? (double)hval(d->fl, "max_ms") / 1000.0 : NAN);
    cJSON_AddNumberToObject(o, "unmatched", (double)hval(d->fl, "unmatched"));
    cJSON_AddBoolToObject(o, "estimated", 1);
    cJSON_AddNumberToObject(doc, "pending", (double)d->pending);
    cJSON_AddNumberToObject(doc, "overdue", (double)d->overdue);
    cJSON_AddNumberToObject(doc, "sla_s", (double)d->sla_s);
    cJSON_AddNumberToObject(doc, "duplicates", (double)t->dup);
    arr = cJSON_AddArrayToObject(doc, "top_advocates");
    for (size_t i = 0; i < d->nadv && i < STATS_TOP; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "ref", d->adv[i].ref);
        cJSON_AddNumberToObject(a, "actions", (double)d->adv[i].actions);
        cJSON_AddNumberToObject(a, "reach", (double)d->adv[i].reach);
        cJSON_AddItemToArray(arr, a);
    }
    o = cJSON_AddObjectToObject(doc, "counters");
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        int64_t v;
        if (cli_parse_i64(h->element[i + 1]->str, &v) == 0)
            cJSON_AddNumberToObject(o, h->element[i]->str, (double)v);
        else
            cJSON_AddStringToObject(o, h->element[i]->str, h->element[i + 1]->str);
    }
    return cli_print_json(doc);
}

/* Writes a duration in seconds, or "-" for NAN; returns buf (never fails). */
static char *secs_text(char *buf, size_t cap, double s)
{
    if (isnan(s)) {
        snprintf(buf, cap, "-");
        return buf;
    }
    return cli_fmt_duration(buf, cap, s);
}

/* Prints stats as aligned "label  value" lines; never fails. */
static void stats_table(const char *c, const stats_data *d, const stats_totals *t)
{
    static const char *const depths[] = {"25", "50", "75", "100"};
    char a[64], b[64], e[64], line[512];
    double reach = (double)d->reach;
    size_t n = 0;

#define ROW(label, ...)                              \
    do {                                             \
        snprintf(line, sizeof line, __VA_ARGS__);    \
        printf("%-17s %s\n", label, line);           \
    } while (0)
    ROW("campaign", "%s", c);
    ROW("reach", "%lld (unique human subjects who opened, viewed or clicked)", (long long)d->reach);
    ROW("opens", "%lld", (long long)t->opens);
    ROW("machine opens", "%lld (bots and mail proxies, not counted as reach)",
        (long long)t->machine_opens);
    ROW("views", "%lld", (long long)t->views);
    ROW("clicks", "%lld", (long long)t->clicks);
    ROW("click rate", "%s", pct(a, sizeof a, (double)t->clicks, reach));
    ROW("signups", "%lld", (long long)t->signups);
    ROW("donations", "%lld (value %lld.%02lld)", (long long)t->donations,
        (long long)(t->value / 100), (long long)(t->value % 100));
    ROW("conversions", "%lld", (long long)t->conversions);
    ROW("actions", "%lld (signups + donations + conversions + %lld custom)",
        (long long)t->actions, (long long)t->custom);
    ROW("conversion rate", "%s", pct(a, sizeof a, (double)t->actions, reach));
    if (reach > 0)
        ROW("action gap", "%.1f%%", 100.0 * (1.0 - (double)t->actions / reach));
    else
        ROW("action gap", "-");
    line[0] = '\0';
    for (int i = 0; i < 4; i++) {
        int64_t v = hval(d->scroll, depths[i]);
        if (t->views > 0)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s%%: %s", i ? "  " : "",
                                  depths[i], pct(a, sizeof a, (double)v, (double)t->views));
        else
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s%%: %lld", i ? "  " : "",
                                  depths[i], (long long)v);
    }
    printf("%-17s %s%s\n", "scroll depth", line, t->views > 0 ? " (of views)" : " (hits; no views)");
    ROW("follow-ups", "%lld, p50 %s, p90 %s, max %s (estimated from buckets)",
        (long long)hval(d->fl, "count"), secs_text(a, sizeof a, fl_quantile(d->fl, 0.5)),
        secs_text(b, sizeof b, fl_quantile(d->fl, 0.9)),
        secs_text(e, sizeof e, hval(d->fl, "count") > 0 ? (double)hval(d->fl, "max_ms") / 1000.0 : NAN));
    ROW("unmatched", "%lld (follow-ups with no pending signup)", (long long)hval(d->fl, "unmatched"));
    ROW("pending", "%lld", (long long)d->pending);
    ROW("overdue", "%lld (waiting more than the SLA, %s)", (long long)d->overdue,
        cli_fmt_duration(a, sizeof a, (double)d->sla_s));
    ROW("duplicates", "%lld", (long long)t->dup);
#undef ROW
    if (d->nadv == 0) {
        printf("%-17s %s\n", "top advocates", "-");
        return;
    }
    printf("top advocates\n");
    for (size_t i = 0; i < d->nadv && i < STATS_TOP; i++)
        printf("  %zu. %-24s %lld actions, reach %lld\n", i + 1, d->adv[i].ref,
               (long long)d->adv[i].actions, (long long)d->adv[i].reach);
}

/* Shows a campaign's counters; returns an exit status. */
int cli_stats(cli_ctx *x, const char *campaign)
{
    stats_data d;
    stats_totals t;
    int rc = CLI_ERR;

    memset(&d, 0, sizeof d);
    if (cli_check_campaign("stats", campaign) < 0)
        return CLI_USAGE;
    if (cli_connect(x) < 0 || stats_load(x, campaign, &d) < 0)
        goto out;
    stats_totals_of(&d, &t);
    if (x->json) {
        if (stats_json(campaign, &d, &t) < 0)
            goto out;
    } else {
        stats_table(campaign, &d, &t);
    }
    rc = CLI_OK;
out:
    if (d.hash)
        freeReplyObject(d.hash);
    if (d.scroll)
        freeReplyObject(d.scroll);
    if (d.fl)
        freeReplyObject(d.fl);
    adv_free(d.adv, d.nadv);
    return rc;
}

/* ---------------------------------------------------------------- top */

/* Prints the advocate leaderboard (limit 0: all); returns an exit status. */
int cli_top(cli_ctx *x, const char *campaign, long limit)
{
    static const char *const titles[] = {"RANK", "ADVOCATE", "ACTIONS", "REACH", "RATE"};
    advocate *v = NULL;
    size_t n = 0, shown;
    cli_table *t = NULL;
    int rc = CLI_ERR;

    if (cli_check_campaign("top", campaign) < 0)
        return CLI_USAGE;
    if (cli_connect(x) < 0 || load_advocates(x, campaign, &v, &n) < 0)
        return CLI_ERR;
    shown = (limit > 0 && (size_t)limit < n) ? (size_t)limit : n;
    if (x->json) {
        cJSON *doc = cJSON_CreateObject(), *arr;
        cJSON_AddStringToObject(doc, "campaign", campaign);
        cJSON_AddNumberToObject(doc, "total", (double)n);
        arr = cJSON_AddArrayToObject(doc, "advocates");
        for (size_t i = 0; i < shown; i++) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "rank", (double)(i + 1));
            cJSON_AddStringToObject(a, "ref", v[i].ref);
            cJSON_AddNumberToObject(a, "actions", (double)v[i].actions);
            cJSON_AddNumberToObject(a, "reach", (double)v[i].reach);
            add_rate(a, "conversion_rate", (double)v[i].actions, (double)v[i].reach);
            cJSON_AddItemToArray(arr, a);
        }
        rc = cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
        goto out;
    }
    if (n == 0) {
        printf("no advocates for %s yet\n", campaign);
        rc = CLI_OK;
        goto out;
    }
    if (!(t = cli_table_new(5, titles)))
        goto out;
    for (size_t i = 0; i < shown; i++) {
        char rank[24], act[24], reach[24], rate[24];
        snprintf(rank, sizeof rank, "%zu", i + 1);
        snprintf(act, sizeof act, "%lld", (long long)v[i].actions);
        snprintf(reach, sizeof reach, "%lld", (long long)v[i].reach);
        const char *cells[] = {rank, v[i].ref, act, reach,
                               pct(rate, sizeof rate, (double)v[i].actions, (double)v[i].reach)};
        if (cli_table_add(t, cells) < 0)
            goto out;
    }
    cli_table_print(t, stdout);
    if (shown < n)
        printf("(%zu more; --limit 0 shows all)\n", n - shown);
    rc = CLI_OK;
out:
    cli_table_free(t);
    adv_free(v, n);
    return rc;
}

/* ---------------------------------------------------------------- pending */

/* Lists the signups awaiting follow-up, oldest first; returns an exit status. */
int cli_pending(cli_ctx *x, const char *campaign)
{
    static const char *const titles[] = {"SUBJECT", "SIGNED UP", "WAITING", "STATUS"};
    char key[PROTO_KEY_MAX], iso[32], wait[32], sla[32];
    int64_t now = sys_now_ms(), sla_s, overdue = 0;
    redisReply *r = NULL;
    cli_table *t = NULL;
    int rc = CLI_ERR;

    if (cli_check_campaign("pending", campaign) < 0)
        return CLI_USAGE;
    if (cli_connect(x) < 0 || (sla_s = campaign_sla(x, campaign)) < 0 ||
        ckey(x, key, campaign, "pending") < 0 || !(r = cli_cmd(x, "ZRANGE %s 0 -1 WITHSCORES", key)))
        goto out;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        overdue += now - score(r->element[i + 1]) > sla_s * 1000;
    if (x->json) {
        cJSON *doc = cJSON_CreateObject(), *arr;
        cJSON_AddStringToObject(doc, "campaign", campaign);
        cJSON_AddNumberToObject(doc, "sla_s", (double)sla_s);
        cJSON_AddNumberToObject(doc, "count", (double)(r->elements / 2));
        cJSON_AddNumberToObject(doc, "overdue", (double)overdue);
        arr = cJSON_AddArrayToObject(doc, "pending");
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            int64_t ts = score(r->element[i + 1]);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "subject", r->element[i]->str);
            cJSON_AddNumberToObject(o, "signup_ts", (double)ts);
            cJSON_AddStringToObject(o, "signed_up", cli_fmt_time(iso, sizeof iso, ts));
            cJSON_AddNumberToObject(o, "waiting_s", (double)(now - ts) / 1000.0);
            cJSON_AddBoolToObject(o, "overdue", now - ts > sla_s * 1000);
            cJSON_AddItemToArray(arr, o);
        }
        rc = cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
        goto out;
    }
    printf("%zu pending in %s, %lld overdue (SLA %s)\n", r->elements / 2, campaign,
           (long long)overdue, cli_fmt_duration(sla, sizeof sla, (double)sla_s));
    if (r->elements == 0) {
        rc = CLI_OK;
        goto out;
    }
    if (!(t = cli_table_new(4, titles)))
        goto out;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        int64_t ts = score(r->element[i + 1]);
        const char *cells[] = {r->element[i]->str, cli_fmt_time(iso, sizeof iso, ts),
                               cli_fmt_duration(wait, sizeof wait, (double)(now - ts) / 1000.0),
                               now - ts > sla_s * 1000 ? "OVERDUE" : ""};
        if (cli_table_add(t, cells) < 0)
            goto out;
    }
    cli_table_print(t, stdout);
    rc = CLI_OK;
out:
    cli_table_free(t);
    if (r)
        freeReplyObject(r);
    return rc;
}

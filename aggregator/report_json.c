/* report_json.c: the JSON documents of a campaign's figures (see report_json.h). */
#include "report_json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "schema.h"

/* Adds v to obj, or null for NAN; never fails (cJSON ignores a NULL obj). */
static void add_num(cJSON *obj, const char *name, double v)
{
    if (isnan(v))
        cJSON_AddNullToObject(obj, name);
    else
        cJSON_AddNumberToObject(obj, name, v);
}

/* Adds a stored field: a number when it is a whole decimal, else the text. */
static void add_stored(cJSON *obj, const char *name, const char *value)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (*value && !*end && !errno)
        cJSON_AddNumberToObject(obj, name, (double)v);
    else
        cJSON_AddStringToObject(obj, name, value);
}

/* Returns a tree, or NULL (and deletes it) if cJSON ran out of memory
 * anywhere inside: cJSON's adders return NULL then and build on. */
static cJSON *done(cJSON *doc, int ok)
{
    if (ok)
        return doc;
    cJSON_Delete(doc);
    return NULL;
}

char *agg_json_time(char *buf, size_t cap, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (cap)
        buf[0] = '\0';
    if (cap && gmtime_r(&t, &tm) && strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        buf[0] = '\0';
    return buf;
}

/* Builds the stats document. */
cJSON *agg_json_stats(const char *c, const agg_stats *s)
{
    cJSON *doc = cJSON_CreateObject(), *o, *arr;
    int ok = doc != NULL;

    cJSON_AddStringToObject(doc, "campaign", c);
    cJSON_AddNumberToObject(doc, "reach", (double)s->reach);
    cJSON_AddNumberToObject(doc, "actors", (double)s->actors);
    cJSON_AddNumberToObject(doc, "clickers", (double)s->clickers);
    cJSON_AddNumberToObject(doc, "viewers", (double)s->viewers);
    cJSON_AddNumberToObject(doc, "anonymous", (double)s->anonymous);
    cJSON_AddNumberToObject(doc, "opens", (double)s->opens);
    cJSON_AddNumberToObject(doc, "machine_opens", (double)s->machine_opens);
    cJSON_AddNumberToObject(doc, "views", (double)s->views);
    cJSON_AddNumberToObject(doc, "clicks", (double)s->clicks);
    add_num(doc, "click_rate", s->click_rate);
    cJSON_AddNumberToObject(doc, "signups", (double)s->signups);
    ok &= (o = cJSON_AddObjectToObject(doc, "donations")) != NULL;
    cJSON_AddNumberToObject(o, "count", (double)s->donations);
    cJSON_AddNumberToObject(o, "value_cents", (double)s->value_cents);
    cJSON_AddNumberToObject(doc, "conversions", (double)s->conversions);
    cJSON_AddNumberToObject(doc, "custom_actions", (double)s->custom);
    cJSON_AddNumberToObject(doc, "actions", (double)s->actions);
    add_num(doc, "conversion_rate", s->conversion_rate);
    add_num(doc, "action_gap", s->action_gap);
    ok &= (o = cJSON_AddObjectToObject(doc, "scroll")) != NULL;
    for (int i = 0; i < PROTO_SCROLL_BUCKETS; i++)
        cJSON_AddNumberToObject(o, proto_scroll_field(i), (double)s->scroll[i]);
    ok &= (o = cJSON_AddObjectToObject(doc, "scroll_rate")) != NULL;
    for (int i = 0; i < PROTO_SCROLL_BUCKETS; i++)
        add_num(o, proto_scroll_field(i), s->scroll_rate[i]);
    ok &= (arr = cJSON_AddArrayToObject(doc, "clamped")) != NULL;  /* rates kept inside [0, 1] */
    if (s->clamped & AGG_CLAMP_CLICK)
        cJSON_AddItemToArray(arr, cJSON_CreateString("click_rate"));
    if (s->clamped & AGG_CLAMP_CONVERSION)
        cJSON_AddItemToArray(arr, cJSON_CreateString("conversion_rate"));
    if (s->clamped & AGG_CLAMP_SCROLL)
        cJSON_AddItemToArray(arr, cJSON_CreateString("scroll_rate"));
    ok &= (o = cJSON_AddObjectToObject(doc, "followup")) != NULL;
    cJSON_AddNumberToObject(o, "count", (double)s->followups);
    add_num(o, "p50_s", s->fl_p50_s);
    add_num(o, "p90_s", s->fl_p90_s);
    add_num(o, "max_s", s->fl_max_s);
    cJSON_AddNumberToObject(o, "unmatched", (double)s->unmatched);
    cJSON_AddBoolToObject(o, "estimated", 1);
    add_num(o, "within_sla", agg_report_within_sla(s));
    ok &= (arr = cJSON_AddArrayToObject(o, "buckets")) != NULL;   /* cumulative, as stored */
    for (int i = 0; i <= PROTO_FL_BUCKETS; i++) {
        cJSON *b = cJSON_CreateObject();
        ok &= b != NULL;
        if (i < PROTO_FL_BUCKETS)
            cJSON_AddNumberToObject(b, "le_s", (double)proto_fl_bound_s(i));
        else
            cJSON_AddNullToObject(b, "le_s");
        cJSON_AddNumberToObject(b, "count", (double)s->fl_cum[i]);
        cJSON_AddItemToArray(arr, b);
    }
    cJSON_AddNumberToObject(doc, "pending", (double)s->pending);
    cJSON_AddNumberToObject(doc, "overdue", (double)s->overdue);
    cJSON_AddNumberToObject(doc, "sla_s", (double)s->sla_s);
    cJSON_AddNumberToObject(doc, "duplicates", (double)s->dup);
    ok &= (arr = cJSON_AddArrayToObject(doc, "top_advocates")) != NULL;
    for (size_t i = 0; i < s->nadv && i < AGG_JSON_TOP; i++) {
        cJSON *a = cJSON_CreateObject();
        ok &= a != NULL;
        cJSON_AddStringToObject(a, "ref", s->adv[i].ref);
        cJSON_AddNumberToObject(a, "actions", (double)s->adv[i].actions);
        cJSON_AddNumberToObject(a, "reach", (double)s->adv[i].reach);
        cJSON_AddNumberToObject(a, "clicks", (double)s->adv[i].clicks);
        cJSON_AddItemToArray(arr, a);
    }
    for (int t = 0; t < 2; t++) {
        const agg_member *m = t ? s->referrers : s->pages;
        size_t nm = t ? s->nreferrers : s->npages;
        ok &= (arr = cJSON_AddArrayToObject(doc, t ? "top_referrers" : "top_pages")) != NULL;
        for (size_t i = 0; i < nm; i++) {
            cJSON *x = cJSON_CreateObject();
            ok &= x != NULL;
            cJSON_AddStringToObject(x, t ? "host" : "path", m[i].name);
            cJSON_AddNumberToObject(x, "views", (double)m[i].score);
            cJSON_AddItemToArray(arr, x);
        }
    }
    ok &= (o = cJSON_AddObjectToObject(doc, "counters")) != NULL;
    for (size_t i = 0; i < s->ncounters; i++)
        add_stored(o, s->counters[i].name, s->counters[i].value);
    return done(doc, ok);
}

/* Builds the leaderboard document. */
cJSON *agg_json_top(const char *c, const agg_advocate *v, size_t n, size_t shown)
{
    cJSON *doc = cJSON_CreateObject(), *arr;
    int ok = doc != NULL;
    cJSON_AddStringToObject(doc, "campaign", c);
    cJSON_AddNumberToObject(doc, "total", (double)n);
    ok &= (arr = cJSON_AddArrayToObject(doc, "advocates")) != NULL;
    for (size_t i = 0; i < shown && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        ok &= o != NULL;
        cJSON_AddNumberToObject(o, "rank", (double)(i + 1));
        cJSON_AddStringToObject(o, "ref", v[i].ref);
        cJSON_AddNumberToObject(o, "actions", (double)v[i].actions);
        cJSON_AddNumberToObject(o, "reach", (double)v[i].reach);
        cJSON_AddNumberToObject(o, "clicks", (double)v[i].clicks);
        add_num(o, "conversion_rate", agg_report_adv_rate(&v[i]));
        cJSON_AddItemToArray(arr, o);
    }
    return done(doc, ok);
}

/* Builds the pending document. */
cJSON *agg_json_pending(const char *c, const agg_member *v, size_t n, int64_t sla_s, int64_t now_ms)
{
    char iso[32];
    int64_t overdue = 0;
    for (size_t i = 0; i < n; i++)
        overdue += now_ms - v[i].score > sla_s * 1000;
    cJSON *doc = cJSON_CreateObject(), *arr;
    int ok = doc != NULL;
    cJSON_AddStringToObject(doc, "campaign", c);
    cJSON_AddNumberToObject(doc, "sla_s", (double)sla_s);
    cJSON_AddNumberToObject(doc, "count", (double)n);
    cJSON_AddNumberToObject(doc, "overdue", (double)overdue);
    ok &= (arr = cJSON_AddArrayToObject(doc, "pending")) != NULL;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = v[i].score;
        cJSON *o = cJSON_CreateObject();
        ok &= o != NULL;
        cJSON_AddStringToObject(o, "subject", v[i].name);
        cJSON_AddNumberToObject(o, "signup_ts", (double)ts);
        cJSON_AddStringToObject(o, "signed_up", agg_json_time(iso, sizeof iso, ts));
        cJSON_AddNumberToObject(o, "waiting_s", (double)(now_ms - ts) / 1000.0);
        cJSON_AddBoolToObject(o, "overdue", now_ms - ts > sla_s * 1000);
        cJSON_AddItemToArray(arr, o);
    }
    return done(doc, ok);
}

/* Builds one campaign of the dashboard's list. */
cJSON *agg_json_summary(const char *c, int64_t last_ms, const agg_stats *st, long long dead)
{
    char iso[32];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "campaign", c);
    cJSON_AddNumberToObject(o, "last_activity_ms", (double)last_ms);
    cJSON_AddStringToObject(o, "last_activity", agg_json_time(iso, sizeof iso, last_ms));
    cJSON_AddNumberToObject(o, "reach", (double)st->reach);
    cJSON_AddNumberToObject(o, "actors", (double)st->actors);
    add_num(o, "conversion_rate", st->conversion_rate);
    add_num(o, "action_gap", st->action_gap);
    cJSON_AddNumberToObject(o, "pending", (double)st->pending);
    cJSON_AddNumberToObject(o, "overdue", (double)st->overdue);
    cJSON_AddNumberToObject(o, "dead_letter", (double)dead);
    return o;
}

/* Builds the series document. */
cJSON *agg_json_series(int hour, int64_t from_ms, int64_t to_ms, const agg_bucket *v, size_t n)
{
    cJSON *doc = cJSON_CreateObject(), *arr;
    int ok = doc != NULL;
    cJSON_AddStringToObject(doc, "unit", hour ? "hour" : "day");
    cJSON_AddNumberToObject(doc, "from_ms", (double)from_ms);
    cJSON_AddNumberToObject(doc, "to_ms", (double)to_ms);
    ok &= (arr = cJSON_AddArrayToObject(doc, "points")) != NULL;
    for (size_t i = 0; i < n; i++) {
        cJSON *p = cJSON_CreateObject(), *cs;
        ok &= p != NULL;
        cJSON_AddNumberToObject(p, "t_ms", (double)v[i].t_ms);
        ok &= (cs = cJSON_AddObjectToObject(p, "counts")) != NULL;
        for (size_t j = 0; j < v[i].nfields; j++)
            add_stored(cs, v[i].fields[j].name, v[i].fields[j].value);
        cJSON_AddItemToArray(arr, p);
    }
    return done(doc, ok);
}

/* report.h: a campaign's figures (SPEC 5: campaigns, stats, top, pending)
 * read from the SPEC 3 counters through the schema and computed into
 * structs, with no printing: the `actiongap` command prints them, the
 * dashboard serves them. Each call reads through a synchronous Redis
 * handle and returns 0, or -1 when Redis failed (sys_redis_err says why)
 * or memory ran out (errno ENOMEM, sys_redis_last SYS_REDIS_NOMEM). */
#ifndef AGG_REPORT_H
#define AGG_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "redis.h"
#include "schema.h"

/* One advocate of the leaderboard. */
typedef struct {
    char *ref;
    int64_t actions, reach, clicks;     /* clicks on their links (advocate.c) */
} agg_advocate;

/* One field of the campaign's totals hash, as stored. */
typedef struct {
    char *name, *value;
} agg_counter;

/* A member of a sorted set and its score: a signup awaiting follow-up and
 * when it signed up (ms); a campaign and its last activity (ms); a page or
 * a referrer and its views. */
typedef struct {
    char *name;
    int64_t score;
} agg_member;

/* Which rates were clamped into [0, 1] (HyperLogLog counts are estimates:
 * a union can come out a little under one of its parts). */
enum { AGG_CLAMP_CLICK = 1, AGG_CLAMP_CONVERSION = 2, AGG_CLAMP_SCROLL = 4 };

/* Everything `stats` shows (SPEC 5). People are unique human subjects (or
 * ip+ua where there is none); anonymous hits (GPC/DNT: no subject, ip or
 * ua) are counted apart and never enter people or rates. Rates are
 * fractions in [0, 1], NAN when their base is 0; durations seconds, NAN
 * when there is none. */
typedef struct {
    int64_t reach;      /* people who opened, viewed, clicked or acted */
    int64_t actors;     /* people who signed up, donated, converted or did a custom action */
    int64_t clickers;   /* people who clicked */
    int64_t viewers;    /* people who viewed */
    int64_t opens, machine_opens, views, clicks, signups, donations, value_cents;
    int64_t conversions, custom, actions, dup, anonymous;   /* hits */
    double click_rate;          /* clickers ÷ reach */
    double conversion_rate;     /* actors ÷ reach */
    double action_gap;          /* 1 − conversion rate */
    int64_t scroll[PROTO_SCROLL_BUCKETS];       /* viewers who reached bucket i */
    double scroll_rate[PROTO_SCROLL_BUCKETS];   /* ÷ viewers */
    int clamped;                /* AGG_CLAMP_* of the rates clamped */
    int64_t followups, unmatched;
    int64_t fl_cum[PROTO_FL_BUCKETS + 1];   /* follow-ups answered within each bound, all last */
    double fl_p50_s, fl_p90_s, fl_max_s;
    int64_t pending, overdue, sla_s;
    agg_advocate *adv;              /* the AGG_REPORT_TOP best: actions, reach, name */
    size_t nadv;
    agg_counter *counters;          /* the totals hash as stored */
    size_t ncounters;
    agg_member *pages, *referrers;  /* top AGG_REPORT_TOP by views */
    size_t npages, nreferrers;
} agg_stats;

#define AGG_REPORT_TOP 5


/* Reads campaign c's figures at now_ms into st (free with agg_stats_free). */
int agg_report_stats(sys_redis *r, const proto_conf *conf, const char *c, int64_t now_ms,
                     agg_stats *st);
void agg_stats_free(agg_stats *st);

/* Reads the headline figures of n campaigns (reach, actors, totals,
 * conversion rate, action gap, pending, overdue; click and scroll rates
 * NAN) into st[0..n) and their dead-letter counts into dead[0..n), in two
 * pipelined rounds whatever n (free each with agg_stats_free). */
int agg_report_summaries(sys_redis *r, const proto_conf *conf, const agg_member *camps, size_t n, int64_t now_ms,
                         agg_stats *st, long long *dead);

/* Returns the share of st's follow-ups answered within its SLA when the
 * SLA is a bucket bound (exact), else NAN. Pure. */
double agg_report_within_sla(const agg_stats *st);

/* One hourly or daily bucket: its start and its fields as stored. */
typedef struct {
    int64_t t_ms;
    agg_counter *fields;
    size_t nfields;
} agg_bucket;

#define AGG_SERIES_MAX 2200     /* buckets one series call reads at most */
#define AGG_SERIES_MAX_TEXT "2200"

/* Reads c's hourly (hour = 1) or daily buckets starting in [from_ms,
 * to_ms], oldest first, empty ones included (free with agg_series_free). */
int agg_report_series(sys_redis *r, const proto_conf *conf, const char *c, int hour, int64_t from_ms,
                      int64_t to_ms, agg_bucket **out, size_t *n);
void agg_series_free(agg_bucket *v, size_t n);

/* Reads c's advocates, ranked, into *out (free with agg_advocates_free). */
int agg_report_advocates(sys_redis *r, const proto_conf *conf, const char *c,
                         agg_advocate **out, size_t *n);
void agg_advocates_free(agg_advocate *v, size_t n);

/* Reads c's k best advocates, ranked as agg_report_advocates ranks them,
 * without reading every advocate (free with agg_advocates_free). */
int agg_report_top_advocates(sys_redis *r, const proto_conf *conf, const char *c, size_t k,
                             agg_advocate **out, size_t *n);

/* Returns an advocate's actions ÷ reach hits, at most 1 (actions credited
 * through a link can outnumber the reach hits seen), NAN without reach. */
double agg_report_adv_rate(const agg_advocate *a);

/* Reads c's follow-up SLA in seconds: its cfg if a positive integer, else
 * conf->followup_sla_s. */
int agg_report_sla(sys_redis *r, const proto_conf *conf, const char *c, int64_t *sla_s);

/* Reads c's pending signups, oldest first, into *out (free with
 * agg_members_free). */
int agg_report_pending(sys_redis *r, const proto_conf *conf, const char *c, agg_member **out,
                       size_t *n);

/* Reads every campaign by last activity, newest first (free with
 * agg_members_free). */
int agg_report_campaigns(sys_redis *r, const proto_conf *conf, agg_member **out, size_t *n);

/* Reads whether campaign c has had a hit applied into *known (0 or 1). */
int agg_report_known(sys_redis *r, const proto_conf *conf, const char *c, int *known);

/* Reads into *n how many entries wait in campaign c's dead-letter stream
 * (ag:c:{C}:dead). Returns 0, or -1 on a Redis error. */
int agg_report_dead(sys_redis *r, const proto_conf *conf, const char *c, long long *n);

/* Frees n members and the array; NULL is a no-op. */
void agg_members_free(agg_member *v, size_t n);

/* Estimates quantile q (0..1] of the follow-up latency in seconds from the
 * cumulative bucket counts cum[0..PROTO_FL_BUCKETS] (le_inf last) and the
 * exact maximum, as Prometheus' histogram_quantile does. Returns NAN when
 * there are none. Pure. */
double agg_report_fl_quantile(const int64_t cum[PROTO_FL_BUCKETS + 1], double max_s, double q);

#endif

/* advocate.h: what each advocate achieved (SPEC 5, `actiongap advocate`,
 * `top` and `digest`): clicks on their links, the people they reached and
 * those who acted, the signups they brought and how many were followed
 * up, and a day's clicks and actions. Each call reads through a
 * synchronous Redis handle and returns -1 when Redis failed (sys_redis_err
 * says why). */
#ifndef AGG_ADVOCATE_H
#define AGG_ADVOCATE_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "link.h"
#include "redis.h"
#include "report.h"

/* One advocate's figures in one campaign. */
typedef struct {
    int64_t clicks;         /* clicks on their links (human) */
    int64_t reach_hits;     /* opens, views and clicks credited to them */
    int64_t actions;        /* actions credited to them (the leaderboard) */
    int64_t unverified;     /* actions credited by an unsigned ?via= only */
    long long people;       /* people reached (the audience, by first advocate) */
    long long actors;       /* of whom acted */
    long long signups;      /* of whom signed up */
    long long followed;     /* of whom were followed up */
    int64_t day_clicks, day_actions;   /* of the day asked for */
} agg_adv_figures;

/* Fills the clicks of n advocates of campaign c (ref:click). Returns 0 or -1. */
int agg_advocates_clicks(sys_redis *r, const proto_conf *conf, const char *c, agg_advocate *v,
                         size_t n);

/* Reads the figures of advocate ref in campaign c; day_ms (0: none) names
 * the day whose clicks and actions are wanted. Returns 0 or -1. */
int agg_advocate_figures(sys_redis *r, const proto_conf *conf, const char *c, const char *ref,
                         long long now_s, int64_t day_ms, agg_adv_figures *out);

/* Reads link code (ag:link:<code>) into out. Returns 1, 0 if there is no
 * such link or it is malformed, or -1. */
int agg_link_load(sys_redis *r, const proto_conf *conf, const char *code, proto_link *out);

/* Calls fn for each link of campaign c (ag:c:{C}:links), in no order; fn
 * returns 0 to go on. Returns how many, or -1. */
long agg_links_each(sys_redis *r, const proto_conf *conf, const char *c,
                    int (*fn)(void *arg, const proto_link *l), void *arg);

#endif

/* advocate.c: each advocate's figures and links (aggregator/advocate.h). */
#include "advocate.h"

#include <stdlib.h>
#include <string.h>

#include "audience.h"
#include "keys.h"
#include "schema.h"

/* Returns a score or integer reply as a count (0 if absent). */
static int64_t count_of(const redisReply *e)
{
    if (!e)
        return 0;
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

/* Fills the clicks of n advocates of c. Returns 0 or -1. */
int agg_advocates_clicks(sys_redis *r, const proto_conf *conf, const char *c, agg_advocate *v,
                         size_t n)
{
    char key[PROTO_KEY_MAX];
    if (proto_key_of(key, sizeof key, conf->prefix, c, PROTO_CK_REF_CLICK) < 0) {
        sys_redis_set_err(r, SYS_REDIS_NOMEM, "key too long");
        return -1;
    }
    for (size_t at = 0; at < n; at += 500) {
        size_t k = n - at < 500 ? n - at : 500;
        const char *argv[502] = {"ZMSCORE", key};
        for (size_t i = 0; i < k; i++)
            argv[2 + i] = v[at + i].ref;
        redisReply *m = sys_redis_cmdv(r, (int)(k + 2), argv, NULL);
        if (!m)
            return -1;
        for (size_t i = 0; m->type == REDIS_REPLY_ARRAY && i < m->elements && i < k; i++)
            v[at + i].clicks = count_of(m->element[i]);
        freeReplyObject(m);
    }
    return 0;
}

/* Tallies the people of one advocate (agg_audience_each's fn). Returns 0. */
static int tally(void *arg, const char *subject, const proto_aud *rec)
{
    agg_adv_figures *f = arg;
    (void)subject;
    f->people++;
    f->actors += (rec->mask & PROTO_AUD_ACTED) != 0;
    f->signups += (rec->mask & PROTO_AUD_SIGNUP) != 0;
    f->followed += (rec->mask & PROTO_AUD_SIGNUP) && (rec->mask & PROTO_AUD_FOLLOWUP);
    return 0;
}

/* Reads one advocate's figures in c. Returns 0 or -1. */
int agg_advocate_figures(sys_redis *r, const proto_conf *conf, const char *c, const char *ref,
                         long long now_s, int64_t day_ms, agg_adv_figures *out)
{
    static const proto_ckey zs[4] = {PROTO_CK_REF_CLICK, PROTO_CK_REF_REACH, PROTO_CK_REF,
                                     PROTO_CK_REF_UNVERIFIED};
    int64_t *dst[4];
    char key[PROTO_KEY_MAX];
    memset(out, 0, sizeof *out);
    dst[0] = &out->clicks, dst[1] = &out->reach_hits, dst[2] = &out->actions, dst[3] = &out->unverified;
    for (int i = 0; i < 4; i++) {
        if (proto_key_of(key, sizeof key, conf->prefix, c, zs[i]) < 0)
            return -1;
        redisReply *s = sys_redis_cmd(r, "ZSCORE %s %s", key, ref);
        if (!s)
            return -1;
        *dst[i] = count_of(s);
        freeReplyObject(s);
    }
    if (day_ms > 0) {
        char fc[PROTO_REF_MAX + 16], fa[PROTO_REF_MAX + 16];
        if (proto_key_day(key, sizeof key, conf->prefix, c, day_ms) < 0 ||
            !proto_field_adv(fc, sizeof fc, 1, ref) || !proto_field_adv(fa, sizeof fa, 0, ref))
            return -1;
        redisReply *h = sys_redis_cmd(r, "HMGET %s %s %s", key, fc, fa);
        if (!h)
            return -1;
        if (h->type == REDIS_REPLY_ARRAY && h->elements == 2) {
            out->day_clicks = count_of(h->element[0]);
            out->day_actions = count_of(h->element[1]);
        }
        freeReplyObject(h);
    }
    agg_seg_filter f = {ref, 0, NULL};
    return agg_audience_each(r, conf, c, AGG_SEG_REACHED, &f, now_s, tally, out) < 0 ? -1 : 0;
}

/* Reads one link. Returns 1, 0 (none or malformed), or -1. */
int agg_link_load(sys_redis *r, const proto_conf *conf, const char *code, proto_link *out)
{
    char key[PROTO_KEY_MAX];
    const char *names[32], *values[32];
    size_t nl[32], vl[32];
    if (!proto_link_code_valid(code, strlen(code)) || proto_key_link(key, sizeof key, conf->prefix, code) < 0)
        return 0;
    redisReply *h = sys_redis_cmd(r, "HGETALL %s", key);
    if (!h)
        return -1;
    int n = sys_redis_pairs(h, names, nl, values, vl, 32);
    int ok = n > 0 && proto_link_from_fields(out, code, n, names, nl, values, vl) == 0;
    freeReplyObject(h);
    return ok;
}

/* Calls fn for each link of c. Returns how many, or -1. */
long agg_links_each(sys_redis *r, const proto_conf *conf, const char *c,
                    int (*fn)(void *arg, const proto_link *l), void *arg)
{
    char key[PROTO_KEY_MAX];
    long n = 0;
    if (proto_key_of(key, sizeof key, conf->prefix, c, PROTO_CK_LINKS) < 0)
        return -1;
    redisReply *codes = sys_redis_cmd(r, "HVALS %s", key);
    if (!codes)
        return -1;
    for (size_t i = 0; codes->type == REDIS_REPLY_ARRAY && i < codes->elements; i++) {
        proto_link l;
        const redisReply *e = codes->element[i];
        int ok = e->type == REDIS_REPLY_STRING ? agg_link_load(r, conf, e->str, &l) : 0;
        if (ok < 0) {
            freeReplyObject(codes);
            return -1;
        }
        if (ok) {
            n++;
            if (fn(arg, &l) != 0)
                break;
        }
    }
    freeReplyObject(codes);
    return n;
}

/* audience.c: segments of a campaign's audience, and forgetting a subject (see audience.h). */
#include "audience.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agg.h"
#include "keys.h"
#include "report_json.h"

#define PAGE 500        /* stream entries read at a time */

static const char *const seg_names[AGG_SEG_COUNT] = {"gap", "clicked-not-acted", "opened-not-clicked",
                                                      "acted", "waiting", "reached"};

const char *agg_segment_name(agg_segment s)
{
    return s < AGG_SEG_COUNT ? seg_names[s] : "?";
}

int agg_segment_of(const char *name)
{
    for (int s = 0; s < AGG_SEG_COUNT; s++)
        if (strcmp(seg_names[s], name) == 0)
            return s;
    return -1;
}

/* Returns 1 if a record of events mask belongs to segment s. */
static int in_segment(agg_segment s, unsigned m)
{
    switch (s) {
    case AGG_SEG_GAP: return (m & PROTO_AUD_REACHED) && !(m & PROTO_AUD_ACTED);
    case AGG_SEG_CLICKED: return (m & PROTO_AUD_CLICK) && !(m & PROTO_AUD_ACTED);
    case AGG_SEG_OPENED: return (m & PROTO_AUD_OPEN) && !(m & PROTO_AUD_CLICK);
    case AGG_SEG_ACTED: return (m & PROTO_AUD_ACTED) != 0;
    case AGG_SEG_WAITING: return (m & PROTO_AUD_SIGNUP) && !(m & PROTO_AUD_FOLLOWUP);
    case AGG_SEG_REACHED: return (m & PROTO_AUD_REACHED) != 0;
    case AGG_SEG_COUNT: break;
    }
    return 0;
}

/* Records a key that does not fit; returns -1. */
static int too_long(sys_redis *r)
{
    sys_redis_set_err(r, SYS_REDIS_NOMEM, "key name too long (check --prefix)");
    return -1;
}

/* Parses reply element v (a stored record) into rec and says whether it is
 * a live person: reached, and seen since the retention's start. */
static int live(const redisReply *v, long long oldest_s, proto_aud *rec)
{
    return v && v->type == REDIS_REPLY_STRING && proto_aud_parse(v->str, v->len, rec) == 0 &&
           rec->last_s >= oldest_s;
}

long agg_audience_each(sys_redis *r, const proto_conf *conf, const char *c, agg_segment s,
                       const agg_seg_filter *f, long long now_s,
                       int (*fn)(void *arg, const char *subject, const proto_aud *rec), void *arg)
{
    char k[PROTO_KEY_MAX], kn[PROTO_KEY_MAX];
    long long oldest = now_s - (long long)conf->audience_days * 86400;
    long n = 0;
    for (unsigned b = 0; b < PROTO_AUD_BUCKETS; b++) {
        if (proto_key_aud(k, sizeof k, conf->prefix, c, b) < 0 ||
            (f->not_in && proto_key_aud(kn, sizeof kn, conf->prefix, f->not_in, b) < 0))
            return too_long(r);
        redisReply *h = sys_redis_cmd(r, "HGETALL %s", k);
        if (!h)
            return -1;
        size_t nf = h->type == REDIS_REPLY_ARRAY ? h->elements / 2 : 0;
        char *keep = calloc(nf + 1, 1);
        proto_aud *recs = calloc(nf + 1, sizeof *recs);
        size_t nk = 0;
        if (!keep || !recs) {
            free(keep);
            free(recs);
            freeReplyObject(h);
            sys_redis_set_err(r, SYS_REDIS_NOMEM, "out of memory");
            return -1;
        }
        for (size_t i = 0; i < nf; i++) {
            proto_aud *rec = &recs[i];
            keep[i] = live(h->element[2 * i + 1], oldest, rec) && in_segment(s, rec->mask) &&
                      (!f->ref || strcmp(rec->ref, f->ref) == 0) && rec->last_s >= f->since_s;
            nk += keep[i];
        }
        int rc = 0;
        if (nk && f->not_in) {      /* the same subject lives in the same bucket of the other */
            const char **argv = calloc(nk + 2, sizeof *argv);
            size_t a = 2;
            if (!argv) {
                rc = -1;
                sys_redis_set_err(r, SYS_REDIS_NOMEM, "out of memory");
            } else {
                argv[0] = "HMGET";
                argv[1] = kn;
                for (size_t i = 0; i < nf; i++)
                    if (keep[i])
                        argv[a++] = h->element[2 * i]->str;
                redisReply *o = sys_redis_cmdv(r, (int)a, argv, NULL);
                if (!o) {
                    rc = -1;
                } else {
                    proto_aud other;
                    for (size_t i = 0, j = 0; i < nf; i++)
                        if (keep[i] && j < o->elements &&
                            live(o->element[j++], oldest, &other) && (other.mask & PROTO_AUD_REACHED))
                            keep[i] = 0;
                    freeReplyObject(o);
                }
                free(argv);
            }
        }
        for (size_t i = 0; rc == 0 && i < nf; i++) {
            if (!keep[i])
                continue;
            n++;
            if (fn && fn(arg, h->element[2 * i]->str, &recs[i]) < 0)
                rc = 1;
        }
        free(keep);
        free(recs);
        freeReplyObject(h);
        if (rc)
            return rc < 0 ? -1 : n;
    }
    return n;
}

/* What counting the segments adds up (the arg of on_vals). */
typedef struct {
    long long oldest;
    long long *counts;
} tally;

/* Adds one bucket's HVALS reply to the counts (a ledger handler). */
static int on_vals(void *arg, redisReply *v, size_t i)
{
    tally *t = arg;
    (void)i;
    for (size_t e = 0; v->type == REDIS_REPLY_ARRAY && e < v->elements; e++) {
        proto_aud rec;
        if (!live(v->element[e], t->oldest, &rec))
            continue;
        for (int s = 0; s < AGG_SEG_COUNT; s++)
            t->counts[s] += in_segment((agg_segment)s, rec.mask);
    }
    int rc = v->type == REDIS_REPLY_ERROR ? -1 : 0;
    freeReplyObject(v);
    return rc;
}

int agg_audience_counts(sys_redis *r, const proto_conf *conf, const char *c, long long now_s,
                        long long counts[AGG_SEG_COUNT])
{
    char k[PROTO_KEY_MAX];
    tally t = {now_s - (long long)conf->audience_days * 86400, counts};
    memset(counts, 0, AGG_SEG_COUNT * sizeof *counts);
    if (sys_redis_connect(r) < 0)
        return -1;
    /* one pipelined round: the values are all a count needs */
    for (unsigned b = 0; b < PROTO_AUD_BUCKETS; b++) {
        if (proto_key_aud(k, sizeof k, conf->prefix, c, b) < 0) {
            sys_redis_close(r);
            return too_long(r);
        }
        if (sys_redis_sendf(r, on_vals, &t, "HVALS %s", k) < 0) {
            sys_redis_close(r);     /* the queued ones owe replies: start afresh */
            return -1;
        }
    }
    if (sys_redis_run(r, 0) < 0) {
        sys_redis_close(r);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- forget */

/* Returns 1 if entry e ([id, [field, value, …]]) carries subject: as its
 * subject field, or (anywhere) inside any value. */
static int carries(const redisReply *e, const char *subject, int anywhere)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->type != REDIS_REPLY_ARRAY)
        return 0;
    const redisReply *f = e->element[1];
    for (size_t j = 0; j + 1 < f->elements; j += 2) {
        const char *v = f->element[j + 1]->str;
        if (!v)
            continue;
        if (anywhere ? strstr(v, subject) != NULL
                     : strcmp(f->element[j]->str, "subject") == 0 && strcmp(v, subject) == 0)
            return 1;
    }
    return 0;
}

/* Deletes the entries of stream key that carry subject; hit streams
 * (cursor, their ag:applied:{P}, not NULL) only once applied: at or below
 * the group's last delivered id and the cursor, and not pending (the others
 * are counted in out->unapplied). Returns 0 or -1. */
static int forget_stream(sys_redis *r, const char *key, const char *subject, int anywhere,
                         const char *cursor, agg_forgotten *out)
{
    char from[64] = "-", last[64] = "";
    int group = cursor != NULL;
    if (group) {
        redisReply *g = sys_redis_cmd(r, "XINFO GROUPS %s", key);
        if (!g)
            return sys_redis_last(r) == SYS_REDIS_REPLY ? 0 : -1;     /* no stream */
        for (size_t i = 0; g->type == REDIS_REPLY_ARRAY && i < g->elements; i++) {
            const redisReply *x = g->element[i];
            const char *name = NULL, *ld = NULL;
            for (size_t j = 0; j + 1 < x->elements; j += 2) {
                if (!strcmp(x->element[j]->str, "name"))
                    name = x->element[j + 1]->str;
                else if (!strcmp(x->element[j]->str, "last-delivered-id"))
                    ld = x->element[j + 1]->str;
            }
            if (name && ld && !strcmp(name, AGG_GROUP))
                snprintf(last, sizeof last, "%s", ld);
        }
        freeReplyObject(g);
        redisReply *c = sys_redis_cmd(r, "GET %s", cursor);
        if (!c)
            return -1;
        if (c->type == REDIS_REPLY_STRING && last[0] && proto_stream_id_cmp(c->str, last) < 0)
            snprintf(last, sizeof last, "%s", c->str);
        freeReplyObject(c);
    }
    for (;;) {
        redisReply *p = sys_redis_cmd(r, "XRANGE %s %s + COUNT %d", key, from, PAGE);
        if (!p)
            return sys_redis_last(r) == SYS_REDIS_REPLY ? 0 : -1;
        size_t n = p->type == REDIS_REPLY_ARRAY ? p->elements : 0;
        for (size_t i = 0; i < n; i++) {
            const redisReply *e = p->element[i];
            if (!carries(e, subject, anywhere))
                continue;
            const char *id = e->element[0]->str;
            if (group) {
                int applied = last[0] && proto_stream_id_cmp(id, last) <= 0;
                if (applied) {
                    redisReply *pe = sys_redis_cmd(r, "XPENDING %s %s %s %s 1", key, AGG_GROUP, id, id);
                    if (!pe) {
                        freeReplyObject(p);
                        return -1;
                    }
                    applied = pe->type == REDIS_REPLY_ARRAY && pe->elements == 0;
                    freeReplyObject(pe);
                }
                if (!applied) {
                    out->unapplied++;
                    continue;
                }
            }
            redisReply *d = sys_redis_cmd(r, "XDEL %s %s", key, id);
            if (!d) {
                freeReplyObject(p);
                return -1;
            }
            out->entries += d->type == REDIS_REPLY_INTEGER ? (long)d->integer : 0;
            freeReplyObject(d);
        }
        if (n)
            snprintf(from, sizeof from, "(%s", p->element[n - 1]->element[0]->str);
        freeReplyObject(p);
        if (n < PAGE)
            return 0;
    }
}

int agg_audience_forget(sys_redis *r, const proto_conf *conf, const char *subject, agg_forgotten *out)
{
    char k[PROTO_KEY_MAX];
    unsigned b = proto_aud_bucket(subject, strlen(subject));
    memset(out, 0, sizeof *out);
    if (proto_key_campaigns(k, sizeof k, conf->prefix) < 0)
        return too_long(r);
    redisReply *cs = sys_redis_cmd(r, "ZRANGE %s 0 -1", k);
    if (!cs)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && cs->type == REDIS_REPLY_ARRAY && i < cs->elements; i++) {
        const char *c = cs->element[i]->str;
        char ka[PROTO_KEY_MAX], kp[PROTO_KEY_MAX], kl[PROTO_KEY_MAX], kd[PROTO_KEY_MAX];
        char ko[PROTO_KEY_MAX];
        if (proto_key_aud(ka, sizeof ka, conf->prefix, c, b) < 0 ||
            proto_key_of(kp, sizeof kp, conf->prefix, c, PROTO_CK_PENDING) < 0 ||
            proto_key_of(kl, sizeof kl, conf->prefix, c, PROTO_CK_ALERTED) < 0 ||
            proto_key_of(kd, sizeof kd, conf->prefix, c, PROTO_CK_DEAD) < 0 ||
            proto_key_of(ko, sizeof ko, conf->prefix, c, PROTO_CK_OUTBOX) < 0) {
            rc = too_long(r);
            break;
        }
        long long gone = 0;
        const char *cmds[][3] = {{"HDEL", ka, subject}, {"ZREM", kp, subject}, {"HDEL", kl, subject}};
        for (int j = 0; j < 3 && rc == 0; j++) {
            redisReply *d = sys_redis_cmdv(r, 3, cmds[j], NULL);
            if (!d)
                rc = -1;
            else
                gone += d->type == REDIS_REPLY_INTEGER ? d->integer : 0;
            freeReplyObject(d);
        }
        out->campaigns += gone > 0;
        if (rc == 0)
            rc = forget_stream(r, kd, subject, 0, NULL, out);
        if (rc == 0)    /* alerts not moved to ag:alerts yet */
            rc = forget_stream(r, ko, subject, 0, NULL, out);
    }
    freeReplyObject(cs);
    for (int p = 0; rc == 0 && p < conf->partitions; p++) {
        char cur[PROTO_KEY_MAX];
        if (proto_key_hits(k, sizeof k, conf->prefix, (unsigned)p) < 0 ||
            proto_key_applied(cur, sizeof cur, conf->prefix, (unsigned)p) < 0)
            return too_long(r);
        rc = forget_stream(r, k, subject, 0, cur, out);
    }
    if (rc == 0 && proto_key_alerts(k, sizeof k, conf->prefix) >= 0)
        rc = forget_stream(r, k, subject, 0, NULL, out);
    if (rc == 0 && proto_key_rejects(k, sizeof k, conf->prefix) >= 0)
        rc = forget_stream(r, k, subject, 1, NULL, out);
    return rc;
}

/* ---------------------------------------------------------------- CSV */

char *agg_audience_events(char *buf, size_t cap, unsigned mask)
{
    static const char *const names[] = {"open", "view", "click", "signup", "donate", "convert", "custom",
                                        "followup"};
    size_t o = 0;
    if (cap)
        buf[0] = '\0';
    for (int i = 0; i < 8; i++)
        if (mask & (1u << i))
            o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%s", o ? "|" : "", names[i]);
    return buf;
}

int agg_audience_csv_row(char *buf, size_t cap, const char *subject, const proto_aud *rec)
{
    char first[32], last[32], ev[80];
    size_t o = 0;
#define PUT(...) (o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, __VA_ARGS__))
    if (strpbrk(subject, ",\"\r\n")) {      /* quoted, quotes doubled */
        PUT("\"");
        for (const char *p = subject; *p; p++)
            PUT(*p == '"' ? "\"\"" : "%c", *p);
        PUT("\"");
    } else {
        PUT("%s", subject);
    }
    agg_json_time(first, sizeof first, rec->first_s * 1000);
    agg_json_time(last, sizeof last, rec->last_s * 1000);
    PUT(",%s,%s,%s,%s", first, last, agg_audience_events(ev, sizeof ev, rec->mask), rec->ref);
#undef PUT
    return o < cap ? (int)o : -1;
}

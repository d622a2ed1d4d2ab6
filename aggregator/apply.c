/* apply.c: a batch of hit-stream entries into per-campaign counters,
 * pre-aggregated in C and applied exactly once by one script call per
 * campaign. */
#include "apply.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hit.h"
#include "keys.h"
#include "log.h"
#include "scripts.h"

#define NONCE_WINDOW_MS (24LL * 3600 * 1000)
#define PF_CHUNK 500            /* PFADD elements per op (Lua unpack limit) */
#define ALERTS_MAXLEN "100000"

static char sha_apply[41], sha_alert[41];

/* ---------------------------------------------------------------- strings */

/* A growable list of argument strings, stored back to back. */
typedef struct {
    char *buf;
    size_t len, cap;
    size_t *off;        /* start of each argument in buf */
    size_t *alen;
    size_t n, ncap;
    int oom;
} args;

/* Appends one argument of len bytes; sets a->oom on allocation failure. */
static void args_add(args *a, const char *s, size_t len)
{
    if (a->oom)
        return;
    if (a->len + len + 1 > a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 4096;
        while (nc < a->len + len + 1)
            nc *= 2;
        char *nb = realloc(a->buf, nc);
        if (!nb) {
            a->oom = 1;
            return;
        }
        a->buf = nb;
        a->cap = nc;
    }
    if (a->n == a->ncap) {
        size_t nc = a->ncap ? a->ncap * 2 : 64;
        size_t *no = realloc(a->off, nc * sizeof *no), *nl;
        if (!no) {
            a->oom = 1;
            return;
        }
        a->off = no;
        nl = realloc(a->alen, nc * sizeof *nl);
        if (!nl) {
            a->oom = 1;
            return;
        }
        a->alen = nl;
        a->ncap = nc;
    }
    memcpy(a->buf + a->len, s, len);
    a->buf[a->len + len] = 0;
    a->off[a->n] = a->len;
    a->alen[a->n++] = len;
    a->len += len + 1;
}

/* Appends a NUL-terminated argument; see args_add. */
static void args_str(args *a, const char *s)
{
    args_add(a, s, strlen(s));
}

/* Appends a formatted argument; see args_add. */
static void args_fmt(args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void args_fmt(args *a, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        a->oom = 1;
        return;
    }
    args_add(a, tmp, (size_t)n);
}

/* Frees the list; never fails. */
static void args_free(args *a)
{
    free(a->buf);
    free(a->off);
    free(a->alen);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- campaign batch */

/* One counter increment being pre-aggregated: KEYS[key] field += n. */
typedef struct {
    int key;
    char field[PROTO_EVENT_MAX + 16];
    long long n;
} incr;

/* An HLL key with the elements to add. */
typedef struct {
    int key;
    args elems;
} hll;

/* Everything one campaign's script call needs. */
typedef struct {
    char campaign[PROTO_CAMPAIGN_MAX + 1];
    char wm[48];                /* watermark read from Redis */
    uint64_t wm_ms, wm_seq;
    char last_id[48];           /* last entry of this batch */
    int *entries;               /* indexes into the batch, stream order */
    size_t nentries, capentries;
    args keys;                  /* KEYS of the call */
    incr *incrs;
    size_t nincrs, capincrs;
    hll *hlls;
    size_t nhlls, caphlls;
    args ops;
    args nonces;                /* ts, nonce pairs to record */
    long long first_ts, last_ts;
    size_t applied, dups;
} camp;

/* A decoded stream entry. */
typedef struct {
    const char *id;
    uint64_t ms, seq;               /* id, parsed once */
    proto_hit hit;
    int ok;
    int camp;
} entry;

static const char *const builtin[] = {"open", "view", "click", "scroll", "signup", "donate",
                                      "convert", "followup", NULL};

/* Returns 1 if event is one of SPEC 2's built-in events. */
static int is_builtin(const char *e)
{
    for (int i = 0; builtin[i]; i++)
        if (strcmp(e, builtin[i]) == 0)
            return 1;
    return 0;
}

/* Returns the index of key name in c->keys (1-based, as Lua's KEYS), adding
 * it if new. Returns 0 on allocation failure. */
static int camp_key(camp *c, const char *name)
{
    for (size_t i = 0; i < c->keys.n; i++)
        if (strcmp(c->keys.buf + c->keys.off[i], name) == 0)
            return (int)i + 1;
    args_str(&c->keys, name);
    return c->keys.oom ? 0 : (int)c->keys.n;
}

/* Adds n to KEYS[key] field in the pre-aggregate (for -key, an expiry
 * time: keeps the greatest). Returns 0 or -1. */
static int camp_incr(camp *c, int key, const char *field, long long n)
{
    for (size_t i = 0; i < c->nincrs; i++) {
        if (c->incrs[i].key == key && strcmp(c->incrs[i].field, field) == 0) {
            if (key > 0)
                c->incrs[i].n += n;
            else if (n > c->incrs[i].n) /* an expiry (negative key): the latest wins */
                c->incrs[i].n = n;
            return 0;
        }
    }
    if (c->nincrs == c->capincrs) {
        size_t nc = c->capincrs ? c->capincrs * 2 : 32;
        incr *ni = realloc(c->incrs, nc * sizeof *ni);
        if (!ni)
            return -1;
        c->incrs = ni;
        c->capincrs = nc;
    }
    incr *x = &c->incrs[c->nincrs++];
    x->key = key;
    snprintf(x->field, sizeof x->field, "%s", field);
    x->n = n;
    return 0;
}

/* Adds an element to the HLL at KEYS[key]. Returns 0 or -1. */
static int camp_pfadd(camp *c, int key, const char *elem, size_t len)
{
    hll *h = NULL;
    for (size_t i = 0; i < c->nhlls && !h; i++)
        if (c->hlls[i].key == key)
            h = &c->hlls[i];
    if (!h) {
        if (c->nhlls == c->caphlls) {
            size_t nc = c->caphlls ? c->caphlls * 2 : 8;
            hll *nh = realloc(c->hlls, nc * sizeof *nh);
            if (!nh)
                return -1;
            c->hlls = nh;
            c->caphlls = nc;
        }
        h = &c->hlls[c->nhlls++];
        memset(h, 0, sizeof *h);
        h->key = key;
    }
    args_add(&h->elems, elem, len);
    return h->elems.oom ? -1 : 0;
}

/* Frees a campaign's batch; never fails. */
static void camp_free(camp *c)
{
    free(c->entries);
    args_free(&c->keys);
    free(c->incrs);
    for (size_t i = 0; i < c->nhlls; i++)
        args_free(&c->hlls[i].elems);
    free(c->hlls);
    args_free(&c->ops);
    args_free(&c->nonces);
}

/* Builds the campaign key with suffix (or none) into buf. Returns 0 or -1. */
static int ckey(char *buf, size_t cap, const proto_conf *conf, const char *c, const char *sfx)
{
    return (sfx ? proto_key_campaign_sub(buf, cap, conf->prefix, c, sfx)
                : proto_key_campaign(buf, cap, conf->prefix, c)) < 0 ? -1 : 0;
}

/* Registers the eleven fixed keys of the apply script. Returns 0 or -1. */
static int camp_fixed_keys(camp *c, const proto_conf *conf)
{
    static const char *const sfx[] = {NULL, "wm", "nonce", "scroll", "ref", "ref:reach",
                                      "pending", "fl", "alerted", NULL, "cfg"};
    char key[PROTO_KEY_MAX];
    for (int i = 0; i < 11; i++) {
        int rc = i == 9 ? proto_key_alerts(key, sizeof key, conf->prefix)
                        : ckey(key, sizeof key, conf, c->campaign, sfx[i]);
        if (rc < 0 || camp_key(c, key) != i + 1)
            return -1;
    }
    return 0;
}

/* Formats ms since epoch as UTC "YYYYMMDDHH" (hour) or "YYYYMMDD" and
 * returns the start of that hour/day in ms. */
static long long bucket(long long ms, int hourly, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, hourly ? "%Y%m%d%H" : "%Y%m%d", &tm);
    long long span = hourly ? 3600LL : 86400LL;
    return ((long long)t / span) * span * 1000;
}

/* Pre-aggregates one accepted (not duplicate) hit. Returns 0 or -1. */
static int camp_hit(camp *c, const proto_conf *conf, const proto_hit *h)
{
    char key[PROTO_KEY_MAX], field[PROTO_EVENT_MAX + 16], b[16];
    int human = h->agent == PROTO_AGENT_HUMAN;
    const char *e = h->event;
    snprintf(field, sizeof field, "%s%s", human ? "" : "machine_", e);
    if (camp_incr(c, 1, field, 1) < 0)
        return -1;
    /* hourly and daily buckets */
    for (int hourly = 1; hourly >= 0; hourly--) {
        long long start = bucket(h->ts, hourly, b, sizeof b);
        char sfx[24];
        snprintf(sfx, sizeof sfx, "%s:%s", hourly ? "h" : "d", b);
        if (ckey(key, sizeof key, conf, c->campaign, sfx) < 0)
            return -1;
        int k = camp_key(c, key);
        if (!k || camp_incr(c, k, field, 1) < 0)
            return -1;
        long long ttl = hourly ? (long long)conf->retention_hours * 3600000LL
                               : (long long)conf->retention_days * 86400000LL;
        if (camp_incr(c, -k, "", start + ttl) < 0) /* expiry, kept as the max */
            return -1;
    }
    if (h->ts < c->first_ts || !c->first_ts)
        c->first_ts = h->ts;
    if (h->ts > c->last_ts)
        c->last_ts = h->ts;
    if (!human)
        return 0;
    if (h->value >= 0 && camp_incr(c, 1, "value", h->value) < 0)
        return -1;
    /* unique subjects, or ip+ua where there is none */
    char elem[PROTO_SUBJECT_MAX + PROTO_IP_MAX + PROTO_UA_MAX + 4];
    int el = 0;
    if (h->subject[0])
        el = snprintf(elem, sizeof elem, "s:%s", h->subject);
    else if (h->ip[0] || h->ua[0])
        el = snprintf(elem, sizeof elem, "a:%s|%s", h->ip, h->ua);
    if (el > 0) {
        char sfx[PROTO_EVENT_MAX + 4];
        snprintf(sfx, sizeof sfx, "u:%s", e);
        if (ckey(key, sizeof key, conf, c->campaign, sfx) < 0)
            return -1;
        int k = camp_key(c, key);
        if (!k || camp_pfadd(c, k, elem, (size_t)el) < 0)
            return -1;
    }
    if (strcmp(e, "scroll") == 0 && h->depth >= 0) {
        static const char *const marks[] = {"25", "50", "75", "100"};
        for (int i = 0; i < 4; i++)
            if (h->depth >= (i + 1) * 25 && camp_incr(c, 4, marks[i], 1) < 0)
                return -1;
    }
    if (h->ref[0]) {
        int reach = !strcmp(e, "open") || !strcmp(e, "view") || !strcmp(e, "click");
        int action = !strcmp(e, "signup") || !strcmp(e, "donate") || !strcmp(e, "convert") ||
                     !is_builtin(e);
        char rf[PROTO_REF_MAX + 8];
        snprintf(rf, sizeof rf, "%s", h->ref);
        if ((reach && camp_incr(c, 6, rf, 1) < 0) || (action && camp_incr(c, 5, rf, 1) < 0))
            return -1;
    }
    if (h->subject[0] && !strcmp(e, "signup")) {
        args_str(&c->ops, "S");
        args_str(&c->ops, h->subject);
        args_fmt(&c->ops, "%" PRId64, h->ts);
    } else if (h->subject[0] && !strcmp(e, "followup")) {
        args_str(&c->ops, "F");
        args_str(&c->ops, h->subject);
        args_fmt(&c->ops, "%" PRId64, h->ts);
    }
    return c->ops.oom ? -1 : 0;
}

/* Appends the pre-aggregated increments, HLL adds and bounds as ops (before
 * the ordered S/F ops, which do not depend on them). Returns 0 or -1. */
static int camp_finish_ops(camp *c, args *out, long long now)
{
    for (size_t i = 0; i < c->nincrs; i++) {
        incr *x = &c->incrs[i];
        if (x->key < 0) {
            args_str(out, "X");
            args_fmt(out, "%d", -x->key);
            args_fmt(out, "%lld", x->n);
        } else if (x->key == 5 || x->key == 6) {
            args_str(out, "Z");
            args_fmt(out, "%d", x->key);
            args_str(out, x->field);
            args_fmt(out, "%lld", x->n);
        } else {
            args_str(out, "H");
            args_fmt(out, "%d", x->key);
            args_str(out, x->field);
            args_fmt(out, "%lld", x->n);
        }
    }
    for (size_t i = 0; i < c->nhlls; i++) {
        hll *h = &c->hlls[i];
        for (size_t j = 0; j < h->elems.n; j += PF_CHUNK) {
            size_t n = h->elems.n - j < PF_CHUNK ? h->elems.n - j : PF_CHUNK;
            args_str(out, "P");
            args_fmt(out, "%d", h->key);
            args_fmt(out, "%zu", n);
            for (size_t k = j; k < j + n; k++)
                args_add(out, h->elems.buf + h->elems.off[k], h->elems.alen[k]);
        }
    }
    if (c->first_ts) {
        args_str(out, "lo");
        args_str(out, "first_ts");
        args_fmt(out, "%lld", c->first_ts);
        args_str(out, "hi");
        args_str(out, "last_ts");
        args_fmt(out, "%lld", c->last_ts);
    }
    if (c->dups) {
        args_str(out, "H");
        args_str(out, "1");
        args_str(out, "dup");
        args_fmt(out, "%zu", c->dups);
    }
    for (size_t j = 0; j < c->nonces.n; j += 2 * PF_CHUNK) {
        size_t n = c->nonces.n - j < 2 * PF_CHUNK ? c->nonces.n - j : 2 * PF_CHUNK;
        args_str(out, "NZ");
        args_fmt(out, "%zu", n / 2);
        for (size_t k = j; k < j + n; k++)
            args_add(out, c->nonces.buf + c->nonces.off[k], c->nonces.alen[k]);
    }
    args_str(out, "T");
    args_fmt(out, "%lld", now - NONCE_WINDOW_MS);
    for (size_t i = 0; i < c->ops.n; i++)
        args_add(out, c->ops.buf + c->ops.off[i], c->ops.alen[i]);
    return out->oom ? -1 : 0;
}

/* ---------------------------------------------------------------- scripts */

/* Loads one script and stores its sha. Returns 0 or -1 (logged). */
static int load_one(redisContext *rc, const char *src, char sha[41])
{
    redisReply *r = redisCommand(rc, "SCRIPT LOAD %s", src);
    int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
    if (ok)
        memcpy(sha, r->str, 41);
    else
        proto_error("redis: SCRIPT LOAD failed", "err=\"%s\"",
                    r && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Loads the apply and alert scripts. Returns 0 or -1 (logged). */
int agg_scripts_load(redisContext *rc)
{
    if (load_one(rc, AGG_LUA_APPLY, sha_apply) < 0 || load_one(rc, AGG_LUA_ALERT, sha_alert) < 0)
        return -1;
    return 0;
}

/* Returns 1 if reply is a NOSCRIPT error (Redis restarted and lost the cache). */
static int noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0;
}

/* ---------------------------------------------------------------- apply */

/* Returns the wall-clock time in ms. */
static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns 1 if id (ms, seq) is above the watermark (wms, wseq), else 0. */
static int id_above(uint64_t ms, uint64_t seq, uint64_t wms, uint64_t wseq)
{
    return ms > wms || (ms == wms && seq > wseq);
}

/* Returns 1 if nonce was already recorded in this batch (table of cap
 * slots, a power of two, holding entry indexes + 1), adding it if not. */
static int batch_nonce_seen(int *table, size_t cap, const entry *es, int idx)
{
    const char *n = es[idx].hit.nonce;
    size_t j = proto_hash64(n, strlen(n)) & (cap - 1);
    while (table[j]) {
        if (strcmp(es[table[j] - 1].hit.nonce, n) == 0)
            return 1;
        j = (j + 1) & (cap - 1);
    }
    table[j] = idx + 1;
    return 0;
}

/* Returns the index of campaign name in cs (adding it), or -1 on failure. */
static int find_camp(camp **cs, size_t *n, size_t *cap, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*cs)[i].campaign, name) == 0)
            return (int)i;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        camp *nn = realloc(*cs, nc * sizeof *nn);
        if (!nn)
            return -1;
        *cs = nn;
        *cap = nc;
    }
    camp *c = &(*cs)[*n];
    memset(c, 0, sizeof *c);
    snprintf(c->campaign, sizeof c->campaign, "%s", name);
    return (int)(*n)++;
}

/* Adds entry index e to campaign c. Returns 0 or -1. */
static int camp_entry(camp *c, int e)
{
    if (c->nentries == c->capentries) {
        size_t nc = c->capentries ? c->capentries * 2 : 16;
        int *ne = realloc(c->entries, nc * sizeof *ne);
        if (!ne)
            return -1;
        c->entries = ne;
        c->capentries = nc;
    }
    c->entries[c->nentries++] = e;
    return 0;
}

/* Decodes one stream entry into e. Returns 0, or -1 if malformed. */
static int decode(const redisReply *r, entry *e)
{
    const char *names[64], *values[64];
    size_t nl[64], vl[64];
    e->ok = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING)
        return -1;
    e->id = r->element[0]->str;
    proto_stream_id_parse(e->id, &e->ms, &e->seq);
    const redisReply *f = r->element[1];
    if (f->type != REDIS_REPLY_ARRAY || f->elements % 2 || f->elements / 2 > 64)
        return -1;
    int n = (int)f->elements / 2;
    for (int i = 0; i < n; i++) {
        names[i] = f->element[2 * i]->str;
        nl[i] = f->element[2 * i]->len;
        values[i] = f->element[2 * i + 1]->str;
        vl[i] = f->element[2 * i + 1]->len;
        if (!names[i] || !values[i])
            return -1;
    }
    proto_hit_init(&e->hit);
    if (proto_hit_from_fields(&e->hit, n, names, nl, values, vl) != PROTO_OK)
        return -1;
    e->ok = 1;
    return 0;
}

/* Applies a batch of entries of partition p. Returns 0 if they may be
 * acknowledged, -1 if not (Redis error or conflict; logged). */
int agg_apply(redisContext *rc, const proto_conf *conf, unsigned p, const redisReply *entries,
              agg_apply_result *res)
{
    size_t n = entries->elements, ncamps = 0, capcamps = 0;
    entry *es = calloc(n ? n : 1, sizeof *es);
    camp *cs = NULL;
    char key[PROTO_KEY_MAX], part[16];
    long long now = now_ms();
    int rc_out = -1;
    args call = {0};
    memset(res, 0, sizeof *res);
    if (!es)
        goto out;
    snprintf(part, sizeof part, "%u", p);
    /* 1. decode and group by campaign, in stream order */
    for (size_t i = 0; i < n; i++) {
        if (decode(entries->element[i], &es[i]) < 0) {
            res->malformed++;
            proto_warn("stream entry does not decode, acknowledged unapplied", "partition=%u id=%s",
                       p, es[i].id ? es[i].id : "?");
            continue;
        }
        int ci = find_camp(&cs, &ncamps, &capcamps, es[i].hit.campaign);
        if (ci < 0 || camp_entry(&cs[ci], (int)i) < 0)
            goto out;
        es[i].camp = ci;
    }
    /* 2. read watermarks and the nonces' last sightings, pipelined */
    for (size_t c = 0; c < ncamps; c++) {
        ckey(key, sizeof key, conf, cs[c].campaign, "wm");
        redisAppendCommand(rc, "HGET %s %s", key, part);
        args q = {0};
        ckey(key, sizeof key, conf, cs[c].campaign, "nonce");
        args_str(&q, "ZMSCORE");
        args_str(&q, key);
        for (size_t j = 0; j < cs[c].nentries; j++)
            if (es[cs[c].entries[j]].hit.nonce[0])
                args_str(&q, es[cs[c].entries[j]].hit.nonce);
        if (q.n < 3)
            args_str(&q, "\x01"); /* keep one reply per campaign */
        const char **av = malloc(q.n * sizeof *av);
        if (q.oom || !av) {
            free(av);
            args_free(&q);
            goto out;
        }
        for (size_t j = 0; j < q.n; j++)
            av[j] = q.buf + q.off[j];
        redisAppendCommandArgv(rc, (int)q.n, av, q.alen);
        free(av);
        args_free(&q);
    }
    for (size_t c = 0; c < ncamps; c++) {
        redisReply *wm = NULL, *ns = NULL;
        if (redisGetReply(rc, (void **)&wm) != REDIS_OK || redisGetReply(rc, (void **)&ns) != REDIS_OK ||
            wm->type == REDIS_REPLY_ERROR || ns->type != REDIS_REPLY_ARRAY) {
            proto_error("redis: reading watermarks failed", "err=\"%s\"",
                        wm && wm->type == REDIS_REPLY_ERROR ? wm->str : rc->errstr);
            freeReplyObject(wm);
            freeReplyObject(ns);
            goto out;
        }
        camp *cp = &cs[c];
        snprintf(cp->wm, sizeof cp->wm, "%s", wm->type == REDIS_REPLY_STRING ? wm->str : "");
        /* 3. filter applied and duplicate hits, pre-aggregate the rest */
        if (camp_fixed_keys(cp, conf) < 0) {
            freeReplyObject(wm);
            freeReplyObject(ns);
            goto out;
        }
        size_t ni = 0, tcap = 16;
        while (tcap < cp->nentries * 2)
            tcap *= 2;
        int *seen = calloc(tcap, sizeof *seen);
        if (!seen) {
            freeReplyObject(wm);
            freeReplyObject(ns);
            goto out;
        }
        proto_stream_id_parse(cp->wm, &cp->wm_ms, &cp->wm_seq);
        for (size_t j = 0; j < cp->nentries; j++) {
            entry *e = &es[cp->entries[j]];
            snprintf(cp->last_id, sizeof cp->last_id, "%s", e->id);
            const char *score = NULL;
            if (e->hit.nonce[0]) {
                redisReply *sc = ni < ns->elements ? ns->element[ni] : NULL;
                ni++;
                score = sc && sc->type == REDIS_REPLY_STRING ? sc->str : NULL;
            }
            if (cp->wm[0] && !id_above(e->ms, e->seq, cp->wm_ms, cp->wm_seq)) {
                res->skipped++;
                continue;
            }
            if (e->hit.nonce[0]) {
                /* seen within 24 h before, or earlier in this batch */
                int dup = (score && e->hit.ts - atoll(score) < NONCE_WINDOW_MS) ||
                          batch_nonce_seen(seen, tcap, es, cp->entries[j]);
                if (dup) {
                    cp->dups++;
                    res->duplicates++;
                    continue;
                }
                args_fmt(&cp->nonces, "%" PRId64, e->hit.ts);
                args_str(&cp->nonces, e->hit.nonce);
            }
            if (camp_hit(cp, conf, &e->hit) < 0) {
                free(seen);
                freeReplyObject(wm);
                freeReplyObject(ns);
                goto out;
            }
            cp->applied++;
        }
        free(seen);
        freeReplyObject(wm);
        freeReplyObject(ns);
    }
    /* 4. one script call per campaign with something new */
    for (size_t c = 0; c < ncamps; c++) {
        camp *cp = &cs[c];
        if (proto_stream_id_cmp(cp->last_id, cp->wm) <= 0)
            continue;
        args_free(&call);
        args_str(&call, "EVALSHA");
        args_str(&call, sha_apply);
        args_fmt(&call, "%zu", cp->keys.n);
        for (size_t k = 0; k < cp->keys.n; k++)
            args_add(&call, cp->keys.buf + cp->keys.off[k], cp->keys.alen[k]);
        args_str(&call, part);
        args_str(&call, cp->wm);
        args_str(&call, cp->last_id);
        args_str(&call, cp->campaign);
        args_fmt(&call, "%lld", now);
        args_fmt(&call, "%d", conf->followup_sla_s);
        args_str(&call, ALERTS_MAXLEN);
        if (camp_finish_ops(cp, &call, now) < 0)
            goto out;
        const char **av = malloc(call.n * sizeof *av);
        if (!av)
            goto out;
        for (size_t j = 0; j < call.n; j++)
            av[j] = call.buf + call.off[j];
        redisAppendCommandArgv(rc, (int)call.n, av, call.alen);
        free(av);
    }
    int failed = 0;
    for (size_t c = 0; c < ncamps; c++) {
        camp *cp = &cs[c];
        if (proto_stream_id_cmp(cp->last_id, cp->wm) <= 0)
            continue;
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
            proto_error("redis: apply failed", "err=\"%s\"", rc->errstr);
            goto out;
        }
        if (noscript(r)) {
            failed = 1;
            agg_scripts_load(rc);
        } else if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
            res->applied += cp->applied;
        } else if (r->type == REDIS_REPLY_INTEGER) {
            res->conflicts++;
            failed = 1;
            proto_warn("apply refused: watermark moved (another aggregator applied it)",
                       "campaign=%s partition=%u", cp->campaign, p);
        } else {
            failed = 1;
            proto_error("apply script failed", "campaign=%s err=\"%s\"", cp->campaign,
                        r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        }
        freeReplyObject(r);
    }
    if (failed)
        goto out;
    /* 5. last activity, outside the campaign's slot: a max, safe to repeat */
    proto_key_campaigns(key, sizeof key, conf->prefix);
    for (size_t c = 0; c < ncamps; c++)
        if (cs[c].last_ts)
            redisAppendCommand(rc, "ZADD %s GT %lld %s", key, cs[c].last_ts, cs[c].campaign);
    for (size_t c = 0; c < ncamps; c++) {
        if (!cs[c].last_ts)
            continue;
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK)
            goto out;
        freeReplyObject(r);
    }
    rc_out = 0;
out:
    args_free(&call);
    for (size_t c = 0; c < ncamps; c++)
        camp_free(&cs[c]);
    free(cs);
    free(es);
    return rc_out;
}

/* Raises one overdue alert. Returns 1 raised, 0 not, -1 on error (logged). */
int agg_alert_raise(redisContext *rc, const proto_conf *conf, const char *c,
                    const char *subject, long long signup_ts, long long now, int sla_s)
{
    char pending[PROTO_KEY_MAX], alerted[PROTO_KEY_MAX], alerts[PROTO_KEY_MAX], cfg[PROTO_KEY_MAX];
    if (ckey(pending, sizeof pending, conf, c, "pending") < 0 ||
        ckey(alerted, sizeof alerted, conf, c, "alerted") < 0 ||
        ckey(cfg, sizeof cfg, conf, c, "cfg") < 0 ||
        proto_key_alerts(alerts, sizeof alerts, conf->prefix) < 0)
        return -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *r = redisCommand(rc, "EVALSHA %s 4 %s %s %s %s %s %lld %lld %d %s %s", sha_alert,
                                     pending, alerted, alerts, cfg, subject, signup_ts, now, sla_s,
                                     c, ALERTS_MAXLEN);
        if (!r)
            return -1;
        if (noscript(r) && attempt == 0) {
            freeReplyObject(r);
            if (agg_scripts_load(rc) < 0)
                return -1;
            continue;
        }
        int out = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
        if (out < 0)
            proto_error("alert script failed", "campaign=%s err=\"%s\"", c,
                        r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return out;
    }
    return -1;
}

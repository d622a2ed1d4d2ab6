/* redis.c: the synchronous Redis connection of the aggregator side. */
#include "redis.h"

#include <stdio.h>

/* Returns a timeval of ms milliseconds. */
static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* Sends a setup command; returns 0, or -1 with the reason in err. */
static int setup_cmd(redisContext *rc, redisReply *r, char *err, size_t cap,
                     agg_redis_failure *failure)
{
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok) {
        *failure = r ? AGG_REDIS_REFUSED : AGG_REDIS_UNREACHABLE;
        snprintf(err, cap, "%s", r ? r->str : rc->errstr[0] ? rc->errstr : "no reply");
    }
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Connects, authenticates and selects. Returns the context, or NULL with
 * *failure and err set. */
redisContext *agg_redis_connect(const proto_conf *c, int connect_ms, int cmd_ms, char *where,
                                size_t cap, agg_redis_failure *failure, char *err,
                                size_t err_cap)
{
    proto_redis_addr ad;
    redisContext *rc;
    *failure = AGG_REDIS_UNREACHABLE;
    if (proto_conf_redis_addr(c->redis, &ad) < 0) {
        snprintf(where, cap, "?");
        snprintf(err, err_cap, "malformed redis URL");
        return NULL;
    }
    if (ad.path[0]) {
        snprintf(where, cap, "%s", ad.path);
        rc = redisConnectUnixWithTimeout(ad.path, tv_ms(connect_ms));
    } else {
        snprintf(where, cap, "%s:%d", ad.host, ad.port);
        rc = redisConnectWithTimeout(ad.host, ad.port, tv_ms(connect_ms));
    }
    if (!rc || rc->err) {
        snprintf(err, err_cap, "%s", rc ? rc->errstr : "out of memory");
        redisFree(rc);
        return NULL;
    }
    redisSetTimeout(rc, tv_ms(cmd_ms));
    if (ad.pass[0] &&
        setup_cmd(rc, ad.user[0] ? redisCommand(rc, "AUTH %s %s", ad.user, ad.pass)
                                 : redisCommand(rc, "AUTH %s", ad.pass),
                  err, err_cap, failure) < 0)
        goto fail;
    if (ad.db && setup_cmd(rc, redisCommand(rc, "SELECT %d", ad.db), err, err_cap, failure) < 0)
        goto fail;
    return rc;
fail:
    redisFree(rc);
    return NULL;
}

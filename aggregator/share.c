/* share.c: the dashboard's share links in ag:shares (see share.h). */
#include "share.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "keys.h"

/* Returns 1 if token is [A-Za-z0-9_-]{AGG_SHARE_TOKEN_LEN}. */
static int shaped(const char *t, size_t len)
{
    if (len != AGG_SHARE_TOKEN_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = t[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
              ch == '_'))
            return 0;
    }
    return 1;
}

/* Builds the shares key; returns 0, or -1 (recorded on r). */
static int shares_key(sys_redis *r, const proto_conf *conf, char *k)
{
    if (proto_key_shares(k, PROTO_KEY_MAX, conf->prefix) >= 0)
        return 0;
    sys_redis_set_err(r, SYS_REDIS_NOMEM, "key name too long (check --prefix)");
    return -1;
}

int agg_share_new(sys_redis *r, const proto_conf *conf, const char *c, int board, char *token)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[AGG_SHARE_TOKEN_LEN];
    char k[PROTO_KEY_MAX], v[80];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        sys_redis_set_err(r, SYS_REDIS_NOMEM, "no random bytes from the kernel");
        return -1;
    }
    for (size_t i = 0; i < AGG_SHARE_TOKEN_LEN; i++)
        token[i] = b64[raw[i] & 63];
    token[AGG_SHARE_TOKEN_LEN] = '\0';
    if (shares_key(r, conf, k) < 0)
        return -1;
    snprintf(v, sizeof v, "%c:%s", board ? 'l' : 'c', c);
    redisReply *rep = sys_redis_cmd(r, "HSET %s %s %s", k, token, v);
    if (!rep)
        return -1;
    freeReplyObject(rep);
    return 0;
}

int agg_share_revoke(sys_redis *r, const proto_conf *conf, const char *c, int board_only, long *n)
{
    char k[PROTO_KEY_MAX];
    *n = 0;
    if (shares_key(r, conf, k) < 0)
        return -1;
    redisReply *all = sys_redis_cmd(r, "HGETALL %s", k);
    if (!all)
        return -1;
    int rc = 0;
    for (size_t i = 0; all->type == REDIS_REPLY_ARRAY && i + 1 < all->elements && rc == 0; i += 2) {
        const char *v = all->element[i + 1]->str;
        if (!v || strlen(v) < 3 || strcmp(v + 2, c) != 0 || (board_only && v[0] != 'l'))
            continue;
        redisReply *d = sys_redis_cmd(r, "HDEL %s %s", k, all->element[i]->str);
        if (!d) {
            rc = -1;
            break;
        }
        *n += d->type == REDIS_REPLY_INTEGER ? (long)d->integer : 0;
        freeReplyObject(d);
    }
    freeReplyObject(all);
    return rc;
}

int agg_share_scope_of(sys_redis *r, const proto_conf *conf, const char *token, size_t len,
                       char *campaign, size_t cap)
{
    size_t dl = strlen(conf->dashboard_token);
    if (cap)
        campaign[0] = '\0';
    if (dl && len == dl && CRYPTO_memcmp(token, conf->dashboard_token, dl) == 0)
        return AGG_SHARE_ALL;
    if (!shaped(token, len))
        return AGG_SHARE_NONE;
    char k[PROTO_KEY_MAX];
    if (shares_key(r, conf, k) < 0)
        return -1;
    redisReply *rep = sys_redis_cmd(r, "HGET %s %b", k, token, len);
    if (!rep)
        return -1;
    int scope = AGG_SHARE_NONE;
    if (rep->type == REDIS_REPLY_STRING && rep->len > 2 && rep->str[1] == ':' &&
        (rep->str[0] == 'c' || rep->str[0] == 'l')) {
        snprintf(campaign, cap, "%s", rep->str + 2);
        scope = rep->str[0] == 'c' ? AGG_SHARE_CAMPAIGN : AGG_SHARE_BOARD;
    }
    freeReplyObject(rep);
    return scope;
}

/* redis.h: the synchronous Redis connection that the aggregator, its
 * webhook thread and the actiongap command share: connect with a timeout,
 * AUTH and SELECT from the `redis` URL of the configuration. */
#ifndef AGG_REDIS_H
#define AGG_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "conf.h"

/* Why agg_redis_connect failed. */
typedef enum {
    AGG_REDIS_UNREACHABLE = 1,  /* no connection (err holds the socket error) */
    AGG_REDIS_REFUSED           /* Redis answered AUTH or SELECT with an error */
} agg_redis_failure;

/* Connects to c->redis within connect_ms, sets a command timeout of cmd_ms,
 * then authenticates and selects the database the URL names. Writes where
 * it connects ("host:port" or the socket path) into where (cap bytes).
 * Returns the context (the caller frees it with redisFree), or NULL with
 * *failure set and a one-line reason in err (err_cap bytes). */
redisContext *agg_redis_connect(const proto_conf *c, int connect_ms, int cmd_ms, char *where,
                                size_t cap, agg_redis_failure *failure, char *err,
                                size_t err_cap);

#endif

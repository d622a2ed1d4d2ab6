/* dash.h: the dashboard (actiongap-dashboard): pages, assets and the
 * read-only /api/v1 over the report module, on its own address. One
 * process, one libevent loop, one synchronous Redis handle: a request is
 * answered from Redis before the next is read (a dashboard's load is a few
 * people and screens polling every 15 s). */
#ifndef AGG_DASH_H
#define AGG_DASH_H

#include <stddef.h>

#include "conf.h"

typedef struct agg_dash agg_dash;

/* Binds conf->dashboard_listen and connects to Redis lazily. Returns NULL
 * (one line logged naming the key) on failure. */
agg_dash *agg_dash_new(const proto_conf *conf);

/* Serves until SIGTERM or SIGINT. Returns 0. */
int agg_dash_run(agg_dash *d);

/* Frees the dashboard; NULL is a no-op. */
void agg_dash_free(agg_dash *d);

#endif

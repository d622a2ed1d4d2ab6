/* server.h: the aggregator's /metrics and /healthz on metrics_listen, served
 * by a thread of its own (libevent evhttp). */
#ifndef AGG_SERVER_H
#define AGG_SERVER_H

#include "conf.h"
#include "metrics.h"

typedef struct agg_server agg_server;

/* Starts serving on conf->metrics_listen. Returns NULL (logged) if the
 * address cannot be bound. conf and m must outlive the server. */
agg_server *agg_server_new(const proto_conf *conf, agg_metrics *m);

/* Stops the thread and frees the server. NULL is a no-op. */
void agg_server_free(agg_server *s);

#endif

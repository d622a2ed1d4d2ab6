/* redis_int.h: what redis.c shares with redis_cluster.c, not part of the
 * API: the cluster half of a handle (slot map, one connection and one
 * ledger per node) and the calls redis.c hands over to it. */
#ifndef SYS_REDIS_INT_H
#define SYS_REDIS_INT_H

#include <sys/time.h>

#include "redis.h"

typedef struct sys_cluster sys_cluster;

/* Returns a timeval of ms milliseconds (hiredis' timeouts). */
static inline struct timeval sys_redis_tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* Records a failure on r (status and reason); returns -1. */
int sys_redis_fail(sys_redis *r, sys_redis_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Opens a context to host:port (unix path when port is 0), authenticates
 * with the handle's user and password and selects its db. Returns it, or
 * NULL (recorded on r). */
redisContext *sys_redis_open(sys_redis *r, const char *host, int port);

sys_cluster *sys_cluster_new(sys_redis *r, const char *seeds);
void sys_cluster_free(sys_cluster *c);
int sys_cluster_connect(sys_cluster *c);
void sys_cluster_close(sys_cluster *c);
int sys_cluster_connected(const sys_cluster *c);
redisContext *sys_cluster_context(sys_cluster *c);
void sys_cluster_set_timeout(sys_cluster *c, int cmd_ms);
void sys_cluster_set_tryagain(sys_cluster *c, int ms);
redisReply *sys_cluster_cmd(sys_cluster *c, const char *cmd, size_t len);
int sys_cluster_send(sys_cluster *c, const char *resp, size_t len, size_t nreplies,
                     sys_redis_handler fn, void *arg, sys_redis_reader read, void *read_arg);
int sys_cluster_flush(sys_cluster *c);
size_t sys_cluster_owed(const sys_cluster *c);
int sys_cluster_run(sys_cluster *c, size_t leave);
int sys_cluster_nodes(sys_cluster *c);
redisReply *sys_cluster_cmd_node(sys_cluster *c, int node, const char *cmd, size_t len);
const char *sys_cluster_node_name(const sys_cluster *c, int node);
int sys_cluster_node_of(sys_cluster *c, const char *key, size_t len);
int sys_cluster_wait(sys_cluster *c, int replicas, int timeout_ms);
void sys_cluster_stats(const sys_cluster *c, sys_redis_cluster_stats *st);

#endif

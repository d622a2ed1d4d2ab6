/* redis.h: the one synchronous Redis layer of every program — connect,
 * AUTH (ACL user too) and SELECT from the `redis` URL, one error policy,
 * back-off, and a reply ledger for pipelines: each queued command registers
 * the replies it owes and the handler that takes them, in order, as
 * hiredis' own callback list does, so no caller counts replies by hand.
 * On Redis Cluster (a redis+cluster:// URL) the same calls route each
 * command by its key's slot to its master, one connection and pipeline per
 * node, replies still taken in send order; MOVED, ASK, TRYAGAIN and
 * CLUSTERDOWN are handled inside (redis_cluster.c). A pipelined send may
 * hold commands of many slots, one reply owed per command. A node that
 * cannot be reached, breaks or times out fails only its own commands:
 * each queued command of it is handed the error reply
 * "NODEDOWN host:port why" in its turn (it may or may not have run), the
 * other nodes go on, and the node is dialled again after a back-off
 * (200 ms doubling to 5 s); a one-shot command to it fails with
 * SYS_REDIS_LOST. The whole handle is closed only by sys_redis_close.
 * (The collector's asynchronous sink keeps hiredis' async API on the same
 * conventions: proto_conf_redis_addr, AUTH, SELECT, back-off 100 ms → 2 s.)
 *
 * Error policy: a transport error (no reply, a timeout, a broken
 * connection) closes the connection — every queued reply is abandoned, the
 * next call reconnects — and the call fails with SYS_REDIS_LOST; an error
 * reply fails a one-shot command with SYS_REDIS_REPLY and its text, and is
 * handed to a ledger handler as it is. One object is used by one thread. */
#ifndef SYS_REDIS_H
#define SYS_REDIS_H

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stddef.h>

/* What the last call found. */
typedef enum {
    SYS_REDIS_OK = 0,
    SYS_REDIS_UNREACHABLE,  /* could not connect */
    SYS_REDIS_REFUSED,      /* AUTH or SELECT answered an error */
    SYS_REDIS_LOST,         /* the connection broke or timed out: closed */
    SYS_REDIS_REPLY,        /* Redis answered an error reply */
    SYS_REDIS_NOMEM,
} sys_redis_status;

typedef struct sys_redis sys_redis;

/* Takes one reply owed by a queued command (index: its place among the
 * replies of that send, from 0). The reply belongs to the handler when it
 * was read by hiredis' default reader (free it with freeReplyObject); to
 * the entry's reader otherwise. Returns 0, or -1 to stop sys_redis_run
 * (the caller then closes the connection). */
typedef int (*sys_redis_handler)(void *arg, redisReply *reply, size_t index);

/* Reads the next reply of ctx itself (e.g. into an arena). Returns it, or
 * NULL on a transport error. */
typedef redisReply *(*sys_redis_reader)(void *arg, redisContext *ctx);

/* Creates an unconnected handle for url (SPEC 8 `redis`), with a connect
 * timeout and a command timeout in ms. Returns NULL when out of memory. */
sys_redis *sys_redis_new(const char *url, int connect_ms, int cmd_ms);

/* Closes and frees; NULL is a no-op. */
void sys_redis_free(sys_redis *r);

/* Connects (if not connected), authenticates and selects. Returns 0, or
 * -1 with sys_redis_status and sys_redis_err set; every failure doubles
 * the back-off (100 ms to 2 s), a success resets it. */
int sys_redis_connect(sys_redis *r);

/* Closes the connection, abandoning every queued reply; never fails. */
void sys_redis_close(sys_redis *r);

/* Returns 1 if connected. */
int sys_redis_connected(const sys_redis *r);

/* Returns "host:port" or the socket path, for messages. */
const char *sys_redis_where(const sys_redis *r);

/* Returns the last failure's one-line reason ("" if none). */
const char *sys_redis_err(const sys_redis *r);

/* Returns what the last call found. */
sys_redis_status sys_redis_last(const sys_redis *r);

/* Returns how long to wait before the next connect attempt, in ms (0
 * after a success). */
int sys_redis_backoff_ms(const sys_redis *r);

/* Records a failure found by a caller (e.g. a key that does not fit), so
 * that one error path reports it; never fails. */
void sys_redis_set_err(sys_redis *r, sys_redis_status st, const char *why);

/* Sets the command timeout in ms (e.g. above a BLOCK of a blocking read),
 * now and for later connections; never fails. */
void sys_redis_set_timeout(sys_redis *r, int cmd_ms);

/* Returns the hiredis context, or NULL if closed: for readers that build
 * replies themselves. Commands must still go through this layer. */
redisContext *sys_redis_context(sys_redis *r);

/* ---- one command, one reply (connects first if needed) ---- */

/* Runs a printf-style hiredis command. Returns the reply (free it with
 * freeReplyObject), or NULL by the error policy above. */
redisReply *sys_redis_cmd(sys_redis *r, const char *fmt, ...);

/* As sys_redis_cmd with a va_list. */
redisReply *sys_redis_vcmd(sys_redis *r, const char *fmt, va_list ap);

/* Runs one command already encoded as RESP (len bytes); as sys_redis_cmd. */
redisReply *sys_redis_cmd_resp(sys_redis *r, const char *resp, size_t len);

/* Points names/values (and their lengths) at the field/value pairs of a
 * flat array reply (HGETALL), at most max pairs; a pair that is not two
 * strings is skipped. Returns how many; cannot fail. */
int sys_redis_pairs(const redisReply *r, const char *names[], size_t name_lens[],
                    const char *values[], size_t value_lens[], int max);

/* Runs a command from an argument vector; as sys_redis_cmd. */
redisReply *sys_redis_cmdv(sys_redis *r, int argc, const char **argv, const size_t *lens);

/* ---- the ledger: pipelined commands and the replies they owe ---- */

/* Queues commands already encoded as RESP (len bytes) that owe nreplies
 * replies, each to be handed to fn(arg, reply, i); read, if not NULL,
 * reads them instead of hiredis' default reader. Nothing is sent until
 * sys_redis_flush or sys_redis_run. Returns 0, or -1 (not connected, no
 * memory). */
int sys_redis_send(sys_redis *r, const char *resp, size_t len, size_t nreplies,
                   sys_redis_handler fn, void *arg, sys_redis_reader read, void *read_arg);

/* Queues one printf-style command owing one reply; as sys_redis_send. */
int sys_redis_sendf(sys_redis *r, sys_redis_handler fn, void *arg, const char *fmt, ...);

/* Writes every queued command to the socket. Returns 0, or -1 (closed). */
int sys_redis_flush(sys_redis *r);

/* Returns the replies still owed by queued commands. */
size_t sys_redis_owed(const sys_redis *r);

/* Reads replies, in order, handing each to its handler, until at most
 * `leave` replies are still owed (0: all). Returns 0, or -1 on a transport
 * error (closed) or when a handler returned -1 (the connection is left
 * open with replies owed: the caller decides, usually sys_redis_close). */
int sys_redis_run(sys_redis *r, size_t leave);

/* ---- Redis Cluster (a single node counts as a cluster of one) ---- */

/* Returns 1 if reply is the NODEDOWN error this layer hands a command of
 * a cluster node that failed (see above), else 0. */
int sys_redis_nodedown(const redisReply *reply);

/* Returns 1 if reply is the TRYAGAIN error of a Redis Cluster (a command
 * of several keys of a slot half-moved between masters), handed over once
 * the back-off of sys_redis_set_tryagain_ms ran out, else 0. */
int sys_redis_tryagain(const redisReply *reply);

/* Sets how long the TRYAGAIN of a pipelined command (sys_redis_send) is
 * retried, 10 ms doubling to 200 ms, before its error is handed to the
 * handler: 2000 ms (the most) by default, as for every single command; a
 * caller that can set that command's work aside asks for less. No-op on a
 * single node; never fails. */
void sys_redis_set_tryagain_ms(sys_redis *r, int ms);

/* Returns 1 if r talks to a Redis Cluster. */
int sys_redis_is_cluster(const sys_redis *r);

/* Returns how many masters there are (1 for a single node; 0 when the
 * cluster's map cannot be read). */
int sys_redis_nodes(sys_redis *r);

/* Runs a printf-style command on master `node` (0 .. sys_redis_nodes - 1),
 * e.g. SCAN or INFO; as sys_redis_cmd, never redirected. */
redisReply *sys_redis_cmd_node(sys_redis *r, int node, const char *fmt, ...);

/* Returns "host:port" of master `node` (a static buffer of the thread). */
const char *sys_redis_node_name(sys_redis *r, int node);

/* Returns the master that holds key, as sys_redis_node_name counts them,
 * or -1 when the map cannot be read. */
int sys_redis_node_of(sys_redis *r, const char *key, size_t len);

/* Blocks until `replicas` replicas of every node written since the last
 * call hold those writes (WAIT), at most timeout_ms. Returns the fewest
 * replicas any node reached, or -1 by the error policy. */
int sys_redis_wait(sys_redis *r, int replicas, int timeout_ms);

/* What the cluster layer met, for metrics. */
typedef struct {
    unsigned long long moved, ask, tryagain, clusterdown, refreshes, node_failures;
} sys_redis_cluster_stats;

/* Copies the counts (zeros for a single node); never fails. */
void sys_redis_cluster_stats_get(const sys_redis *r, sys_redis_cluster_stats *st);

/* One slot range of a CLUSTER SLOTS reply and its master. */
typedef struct {
    long long lo, hi;       /* 0 <= lo <= hi < 16384 */
    const char *host;       /* the asked node's when the reply leaves it out */
    int port;
} sys_redis_slots;

/* Calls fn(arg, range) for each slot range of a CLUSTER SLOTS reply got
 * from host `from` (the collector's async sink reads it too). Returns 0,
 * -1 if rep is not such a reply, or fn's first non-zero return. */
int sys_redis_slots_each(const redisReply *rep, const char *from,
                         int (*fn)(void *arg, const sys_redis_slots *range), void *arg);

/* ---- server settings ---- */

/* Checks that the server never evicts keys (maxmemory-policy noeviction)
 * unless allow is set (then a warning is logged); *evicts is 1 when it
 * may. Returns 0, 1 when refused (one line logged naming the setting), or
 * -1 when the policy cannot be read (see sys_redis_err). */
int sys_redis_check_eviction(sys_redis *r, int allow, const char *prog, int *evicts);

/* Checks the user may run argv[0] on argv[1] without running it: argv must
 * be a form the command itself refuses (a bad argument), which Redis only
 * reaches once the ACL allowed it. Returns 0 if allowed, 1 on NOPERM (one
 * line logged naming the command and key), -1 on a transport error. */
int sys_redis_check_perm(sys_redis *r, const char *prog, int argc, const char **argv);

#endif

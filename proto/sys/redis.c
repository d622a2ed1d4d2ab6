/* redis.c: the synchronous Redis layer — connection, error policy,
 * back-off and the reply ledger (see redis.h). */
#include "redis_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

/* One queued send: the replies it still owes and who takes them. */
typedef struct {
    size_t owed, next;          /* replies owed; index of the next one */
    sys_redis_handler fn;
    void *arg;
    sys_redis_reader read;
    void *read_arg;
} entry;

struct sys_redis {
    int connect_ms, cmd_ms;
    redisContext *ctx;
    char where[1100];
    char err[512];
    sys_redis_status last;
    int backoff_ms;
    entry *q;                   /* ring of queued sends */
    size_t qhead, qlen, qcap;
    size_t owed;
    sys_cluster *cl;            /* set for a redis+cluster:// URL: it does the rest */
    proto_redis_addr ad;
};

#define fail sys_redis_fail

/* Records a failure (status and one-line reason); returns -1. */
int sys_redis_fail(sys_redis *r, sys_redis_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->last = st;
    return -1;
}

/* Creates an unconnected handle. Returns NULL when out of memory. */
sys_redis *sys_redis_new(const char *url, int connect_ms, int cmd_ms)
{
    sys_redis *r = calloc(1, sizeof *r);
    proto_redis_addr ad;
    if (!r)
        return NULL;
    r->connect_ms = connect_ms;
    r->cmd_ms = cmd_ms;
    if (proto_conf_redis_addr(url, &ad) < 0)
        snprintf(r->where, sizeof r->where, "?");
    else if (ad.cluster)
        snprintf(r->where, sizeof r->where, "cluster %s", ad.seeds);
    else if (ad.path[0])
        snprintf(r->where, sizeof r->where, "%s", ad.path);
    else
        snprintf(r->where, sizeof r->where, "%s:%d", ad.host, ad.port);
    r->ad = ad;
    if (ad.cluster && !(r->cl = sys_cluster_new(r, r->ad.seeds))) {
        free(r);
        return NULL;
    }
    if (r->cl)
        sys_cluster_set_timeout(r->cl, cmd_ms);
    return r;
}

/* Closes and frees; NULL is a no-op. */
void sys_redis_free(sys_redis *r)
{
    if (!r)
        return;
    sys_redis_close(r);
    sys_cluster_free(r->cl);
    free(r->q);
    free(r);
}

/* Closes the connection and abandons the ledger; never fails. */
void sys_redis_close(sys_redis *r)
{
    if (r->cl)
        sys_cluster_close(r->cl);
    if (r->ctx)
        redisFree(r->ctx);
    r->ctx = NULL;
    r->qhead = r->qlen = 0;
    r->owed = 0;
}

/* Closes after a transport error and records it; returns -1. */
static int lost(sys_redis *r)
{
    char why[256];
    snprintf(why, sizeof why, "%s", r->ctx && r->ctx->errstr[0] ? r->ctx->errstr : "no reply");
    sys_redis_close(r);
    return fail(r, SYS_REDIS_LOST, "%s", why);
}

/* Doubles the back-off after a failed connect; never fails. */
static void backoff(sys_redis *r)
{
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (r->backoff_ms > BACKOFF_MAX_MS)
        r->backoff_ms = BACKOFF_MAX_MS;
}

/* Runs a setup command on a fresh context. Returns 0, or -1 (recorded). */
static int setup(sys_redis *r, redisReply *rep)
{
    int ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (!ok) {
        if (rep)
            fail(r, SYS_REDIS_REFUSED, "%s", rep->str);
        else
            fail(r, SYS_REDIS_UNREACHABLE, "%s", r->ctx->errstr[0] ? r->ctx->errstr : "no reply");
    }
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* Opens a context to host:port (a unix path when port is 0), with the
 * handle's timeouts, user, password and db. Returns it, or NULL (recorded). */
redisContext *sys_redis_open(sys_redis *r, const char *host, int port)
{
    const proto_redis_addr *ad = &r->ad;
    redisContext *ctx = port ? redisConnectWithTimeout(host, port, sys_redis_tv_ms(r->connect_ms))
                             : redisConnectUnixWithTimeout(host, sys_redis_tv_ms(r->connect_ms));
    if (!ctx || ctx->err) {
        fail(r, SYS_REDIS_UNREACHABLE, "%s", ctx ? ctx->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(ctx, sys_redis_tv_ms(r->cmd_ms));
    r->ctx = ctx;       /* setup() reads the reason from it */
    if (ad->pass[0] &&
        setup(r, ad->user[0] ? redisCommand(ctx, "AUTH %s %s", ad->user, ad->pass)
                             : redisCommand(ctx, "AUTH %s", ad->pass)) < 0)
        goto fail;
    if (ad->db && setup(r, redisCommand(ctx, "SELECT %d", ad->db)) < 0)
        goto fail;
    r->ctx = NULL;
    return ctx;
fail:
    r->ctx = NULL;
    if (ctx)
        redisFree(ctx);
    return NULL;
}

/* Connects, authenticates and selects. Returns 0, or -1 (recorded). */
int sys_redis_connect(sys_redis *r)
{
    if (r->cl ? sys_cluster_connected(r->cl) : r->ctx != NULL)
        return 0;
    if (!r->ad.host[0] && !r->ad.path[0]) {
        backoff(r);
        return fail(r, SYS_REDIS_UNREACHABLE, "malformed redis URL");
    }
    if (r->cl ? sys_cluster_connect(r->cl) < 0
              : !(r->ctx = r->ad.path[0] ? sys_redis_open(r, r->ad.path, 0)
                                         : sys_redis_open(r, r->ad.host, r->ad.port))) {
        backoff(r);
        return -1;
    }
    r->backoff_ms = 0;
    r->last = SYS_REDIS_OK;
    r->err[0] = 0;
    return 0;
}

/* Returns 1 if connected, else 0. */
int sys_redis_connected(const sys_redis *r)
{
    if (r->cl)
        return sys_cluster_connected(r->cl);
    return r->ctx != NULL;
}

/* Returns where the handle connects. */
const char *sys_redis_where(const sys_redis *r)
{
    return r->where;
}

/* Returns the last failure's reason. */
const char *sys_redis_err(const sys_redis *r)
{
    return r->err;
}

/* Returns what the last call found. */
sys_redis_status sys_redis_last(const sys_redis *r)
{
    return r->last;
}

/* Returns the current back-off in ms. */
int sys_redis_backoff_ms(const sys_redis *r)
{
    return r->backoff_ms;
}

/* Records a caller's failure; never fails. */
void sys_redis_set_err(sys_redis *r, sys_redis_status st, const char *why)
{
    fail(r, st, "%s", why);
}

void sys_redis_set_tryagain_ms(sys_redis *r, int ms)
{
    if (r->cl)
        sys_cluster_set_tryagain(r->cl, ms);
}

/* Sets the command timeout; never fails. */
void sys_redis_set_timeout(sys_redis *r, int cmd_ms)
{
    r->cmd_ms = cmd_ms;
    if (r->cl)
        sys_cluster_set_timeout(r->cl, cmd_ms);
    if (r->ctx)
        redisSetTimeout(r->ctx, sys_redis_tv_ms(cmd_ms));
}

/* Returns the hiredis context, or NULL. */
redisContext *sys_redis_context(sys_redis *r)
{
    if (r->cl)
        return sys_cluster_context(r->cl);
    return r->ctx;
}

/* ---------------------------------------------------------------- one-shot */

/* Applies the error policy to a one-shot reply; returns it or NULL. */
static redisReply *checked(sys_redis *r, redisReply *rep)
{
    if (!rep) {
        lost(r);
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        fail(r, SYS_REDIS_REPLY, "%s", rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    r->last = SYS_REDIS_OK;
    return rep;
}

/* Connects if needed and checks no pipelined reply is owed. Returns 0, or
 * -1 (recorded). */
static int one_shot(sys_redis *r)
{
    if (sys_redis_connect(r) < 0)
        return -1;
    if (sys_redis_owed(r))
        return fail(r, SYS_REDIS_REPLY, "a one-shot command while %zu pipelined replies are owed",
                    sys_redis_owed(r));
    return 0;
}

/* Runs a formatted command; returns the reply or NULL. */
redisReply *sys_redis_cmd(sys_redis *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = sys_redis_vcmd(r, fmt, ap);
    va_end(ap);
    return rep;
}

/* Runs on a cluster a command hiredis formatted (len < 0: it could not)
 * and frees it. Returns the reply, or NULL by the error policy. */
static redisReply *run_formatted(sys_redis *r, char *cmd, long long len)
{
    if (len < 0) {
        fail(r, SYS_REDIS_NOMEM, "out of memory");
        return NULL;
    }
    redisReply *rep = checked(r, sys_cluster_cmd(r->cl, cmd, (size_t)len));   /* one_shot ran */
    redisFreeCommand(cmd);
    return rep;
}

/* Runs a formatted command from a va_list; returns the reply or NULL. */
redisReply *sys_redis_vcmd(sys_redis *r, const char *fmt, va_list ap)
{
    if (one_shot(r) < 0)
        return NULL;
    if (r->cl) {
        char *cmd = NULL;
        int len = redisvFormatCommand(&cmd, fmt, ap);
        return run_formatted(r, cmd, len);
    }
    return checked(r, redisvCommand(r->ctx, fmt, ap));
}

/* Runs an encoded command; returns the reply or NULL. */
redisReply *sys_redis_cmd_resp(sys_redis *r, const char *resp, size_t len)
{
    redisReply *rep = NULL;
    if (one_shot(r) < 0)
        return NULL;
    if (r->cl)
        return checked(r, sys_cluster_cmd(r->cl, resp, len));
    if (redisAppendFormattedCommand(r->ctx, resp, len) != REDIS_OK) {
        fail(r, SYS_REDIS_NOMEM, "out of memory");
        return NULL;
    }
    if (redisGetReply(r->ctx, (void **)&rep) != REDIS_OK)
        rep = NULL;
    return checked(r, rep);
}

/* Points at a flat reply's field/value pairs. Returns how many. */
int sys_redis_pairs(const redisReply *r, const char *names[], size_t name_lens[],
                    const char *values[], size_t value_lens[], int max)
{
    int n = 0;
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements && n < max; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        names[n] = k->str, name_lens[n] = k->len, values[n] = v->str, value_lens[n++] = v->len;
    }
    return n;
}

/* Runs a command from an argument vector; returns the reply or NULL. */
redisReply *sys_redis_cmdv(sys_redis *r, int argc, const char **argv, const size_t *lens)
{
    if (one_shot(r) < 0)
        return NULL;
    if (r->cl) {
        char *cmd = NULL;
        long long len = redisFormatCommandArgv(&cmd, argc, argv, lens);
        return run_formatted(r, cmd, len);
    }
    return checked(r, redisCommandArgv(r->ctx, argc, argv, lens));
}

/* ---------------------------------------------------------------- ledger */

/* Records an entry owing n replies. Returns 0, or -1 when out of memory. */
static int ledger_push(sys_redis *r, size_t n, sys_redis_handler fn, void *arg,
                       sys_redis_reader read, void *read_arg)
{
    if (r->qlen == r->qcap) {
        size_t nc = r->qcap ? r->qcap * 2 : 64;
        entry *nq = malloc(nc * sizeof *nq);
        if (!nq)
            return -1;
        for (size_t i = 0; i < r->qlen; i++)
            nq[i] = r->q[(r->qhead + i) % r->qcap];
        free(r->q);
        r->q = nq;
        r->qcap = nc;
        r->qhead = 0;
    }
    entry *e = &r->q[(r->qhead + r->qlen++) % r->qcap];
    *e = (entry){n, 0, fn, arg, read, read_arg};
    r->owed += n;
    return 0;
}

/* Queues encoded commands owing nreplies replies. Returns 0 or -1. */
int sys_redis_send(sys_redis *r, const char *resp, size_t len, size_t nreplies,
                   sys_redis_handler fn, void *arg, sys_redis_reader read, void *read_arg)
{
    if (r->cl)
        return sys_cluster_send(r->cl, resp, len, nreplies, fn, arg, read, read_arg);
    if (!r->ctx)
        return fail(r, SYS_REDIS_LOST, "not connected");
    if (len && redisAppendFormattedCommand(r->ctx, resp, len) != REDIS_OK)
        return fail(r, SYS_REDIS_NOMEM, "out of memory");
    if (nreplies && ledger_push(r, nreplies, fn, arg, read, read_arg) < 0)
        return fail(r, SYS_REDIS_NOMEM, "out of memory");
    return 0;
}

/* Queues one formatted command owing one reply. Returns 0 or -1. */
int sys_redis_sendf(sys_redis *r, sys_redis_handler fn, void *arg, const char *fmt, ...)
{
    va_list ap;
    int rc;
    if (r->cl) {
        char *cmd = NULL;
        va_start(ap, fmt);
        rc = redisvFormatCommand(&cmd, fmt, ap);
        va_end(ap);
        if (rc < 0)
            return fail(r, SYS_REDIS_NOMEM, "out of memory");
        rc = sys_redis_send(r, cmd, (size_t)rc, 1, fn, arg, NULL, NULL);
        redisFreeCommand(cmd);
        return rc;
    }
    if (!r->ctx)
        return fail(r, SYS_REDIS_LOST, "not connected");
    va_start(ap, fmt);
    rc = redisvAppendCommand(r->ctx, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK || ledger_push(r, 1, fn, arg, NULL, NULL) < 0)
        return fail(r, SYS_REDIS_NOMEM, "out of memory");
    return 0;
}

/* Writes the output buffer. Returns 0, or -1 (closed). */
int sys_redis_flush(sys_redis *r)
{
    int done = 0;
    if (r->cl)
        return sys_cluster_flush(r->cl);
    if (!r->ctx)
        return fail(r, SYS_REDIS_LOST, "not connected");
    while (!done)
        if (redisBufferWrite(r->ctx, &done) != REDIS_OK)
            return lost(r);
    return 0;
}

/* Returns the replies still owed. */
size_t sys_redis_owed(const sys_redis *r)
{
    return r->cl ? sys_cluster_owed(r->cl) : r->owed;
}

/* Reads replies to their handlers until at most leave are owed. Returns 0
 * or -1. */
int sys_redis_run(sys_redis *r, size_t leave)
{
    if (r->cl) {
        if (sys_cluster_run(r->cl, leave) < 0)
            return -1;
        r->last = SYS_REDIS_OK;
        return 0;
    }
    while (r->owed > leave) {
        entry *e = &r->q[r->qhead];
        redisReply *rep = NULL;
        if (!r->ctx)
            return fail(r, SYS_REDIS_LOST, "not connected");
        if (e->read) {
            if (!(rep = e->read(e->read_arg, r->ctx)))
                return lost(r);
        } else if (redisGetReply(r->ctx, (void **)&rep) != REDIS_OK || !rep) {
            return lost(r);
        }
        size_t index = e->next++;
        sys_redis_handler fn = e->fn;
        void *arg = e->arg;
        int read_own = e->read != NULL;
        r->owed--;
        if (--e->owed == 0) {
            r->qhead = (r->qhead + 1) % r->qcap;
            r->qlen--;
        }
        if (fn) {
            if (fn(arg, rep, index) < 0)
                return fail(r, SYS_REDIS_REPLY, "a reply handler refused its reply");
        } else if (!read_own) {
            freeReplyObject(rep);
        }
    }
    r->last = SYS_REDIS_OK;
    return 0;
}

/* ---------------------------------------------------------------- cluster */

/* Returns 1 if reply is an error starting with word (n bytes). */
static int error_is(const redisReply *reply, const char *word, size_t n)
{
    return reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, word, n) == 0;
}

/* Returns 1 if reply is the layer's NODEDOWN error. */
int sys_redis_nodedown(const redisReply *reply)
{
    return error_is(reply, "NODEDOWN ", 9);
}

/* Returns 1 if reply is a cluster's TRYAGAIN error. */
int sys_redis_tryagain(const redisReply *reply)
{
    return error_is(reply, "TRYAGAIN", 8);
}

/* Returns 1 for a cluster handle. */
int sys_redis_is_cluster(const sys_redis *r)
{
    return r->cl != NULL;
}

/* Returns the number of masters. */
int sys_redis_nodes(sys_redis *r)
{
    if (r->cl)
        return sys_cluster_nodes(r->cl);
    return 1;
}

/* Runs a command on one master; returns the reply or NULL. */
redisReply *sys_redis_cmd_node(sys_redis *r, int node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = NULL;
    if (!r->cl) {
        rep = node == 0 ? sys_redis_vcmd(r, fmt, ap) : NULL;
        va_end(ap);
        return rep;
    }
    char *cmd = NULL;
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0) {
        fail(r, SYS_REDIS_NOMEM, "out of memory");
        return NULL;
    }
    if (one_shot(r) == 0)
        rep = checked(r, sys_cluster_cmd_node(r->cl, node, cmd, (size_t)len));
    redisFreeCommand(cmd);
    return rep;
}

/* Returns master node's host:port. */
const char *sys_redis_node_name(sys_redis *r, int node)
{
    return r->cl ? sys_cluster_node_name(r->cl, node) : r->where;
}

/* Returns the master of key, or -1. */
int sys_redis_node_of(sys_redis *r, const char *key, size_t len)
{
    return r->cl ? sys_cluster_node_of(r->cl, key, len) : 0;
}

/* Waits for replicas to hold the writes so far. Returns the fewest
 * replicas reached, or -1. */
int sys_redis_wait(sys_redis *r, int replicas, int timeout_ms)
{
    if (r->cl)
        return sys_cluster_wait(r->cl, replicas, timeout_ms);
    redisReply *rep = sys_redis_cmd(r, "WAIT %d %d", replicas, timeout_ms);
    int n = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : -1;
    freeReplyObject(rep);
    return n;
}

/* Copies the cluster layer's counts; never fails. */
void sys_redis_cluster_stats_get(const sys_redis *r, sys_redis_cluster_stats *st)
{
    if (r->cl)
        sys_cluster_stats(r->cl, st);
    else
        memset(st, 0, sizeof *st);
}

/* ---- server settings the daemons depend on ---- */

/* Reads maxmemory_policy from INFO memory into out (cap bytes). Returns 0,
 * or -1 (NULL reply: see sys_redis_err; or no such line). */
static int eviction_policy(sys_redis *r, int node, char *out, size_t cap)
{
    redisReply *rep = sys_redis_cmd_node(r, node, "INFO memory");
    if (!rep)
        return -1;
    const char *p = rep->type == REDIS_REPLY_STRING
                        ? strstr(rep->str, "maxmemory_policy:")
                        : NULL;
    int rc = -1;
    if (p) {
        p += strlen("maxmemory_policy:");
        size_t n = strcspn(p, "\r\n");
        if (n > 0 && n < cap) {
            memcpy(out, p, n);
            out[n] = '\0';
            rc = 0;
        }
    }
    freeReplyObject(rep);
    if (rc < 0)
        sys_redis_set_err(r, SYS_REDIS_REPLY, "no maxmemory_policy line in INFO memory");
    return rc;
}

/* Checks that the server never evicts keys (maxmemory-policy noeviction)
 * unless allow is set, which logs a warning instead. Returns 0 (fine, or
 * allowed: *evicts says which), 1 if refused (one line logged naming the
 * setting), or -1 when the policy cannot be read (see sys_redis_err). */
int sys_redis_check_eviction(sys_redis *r, int allow, const char *prog, int *evicts)
{
    char policy[64];
    *evicts = 0;
    int nodes = sys_redis_nodes(r), node = 0;
    for (; node < nodes; node++) {      /* every master of a cluster */
        if (eviction_policy(r, node, policy, sizeof policy) < 0) {
            if (r->cl && r->last == SYS_REDIS_LOST) {
                sys_warn("redis: a cluster node is unreachable, its eviction policy not checked",
                         "prog=%s node=%s err=\"%s\"", prog, sys_redis_node_name(r, node), r->err);
                policy[0] = 0;
                continue;
            }
            return -1;
        }
        if (strcmp(policy, "noeviction") != 0)
            break;
    }
    if (node == nodes && nodes > 0)
        return 0;
    if (nodes == 0)
        return -1;
    *evicts = 1;
    if (!allow) {
        sys_error("redis evicts keys: counters and hits would vanish silently; set "
                  "maxmemory-policy noeviction, or allow_eviction = yes to run anyway",
                  "prog=%s maxmemory-policy=%s redis=%s", prog, policy, sys_redis_node_name(r, node));
        return 1;
    }
    sys_warn("redis evicts keys and allow_eviction = yes: counts may silently lose data",
             "prog=%s maxmemory-policy=%s", prog, policy);
    return 0;
}

int sys_redis_check_perm(sys_redis *r, const char *prog, int argc, const char **argv)
{
    redisReply *rep = sys_redis_cmdv(r, argc, argv, NULL);
    if (rep) {
        freeReplyObject(rep);
        return 0;
    }
    if (sys_redis_last(r) != SYS_REDIS_REPLY)
        return -1;
    if (strncmp(sys_redis_err(r), "NOPERM", 6) != 0)
        return 0;       /* refused for its arguments (or OOM, READONLY…): the user may run it */
    sys_error("redis: the user may not run a command it needs; grant it", "prog=%s cmd=%s key=%s err=\"%s\"",
              prog, argv[0], argc > 1 ? argv[1] : "-", sys_redis_err(r));
    return 1;
}

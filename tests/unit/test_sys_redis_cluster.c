/* test_sys_redis_cluster.c: proto/sys/redis_cluster.c against a real Redis
 * Cluster of three masters started here on loopback: routing by slot, a
 * pipeline over many slots with replies in send order, SCRIPT LOAD on every
 * master, MOVED and ASK during a slot's move, a dead master failing only
 * its own commands (NODEDOWN), WAIT. */
#include <check.h>
#include <stdarg.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis.h"
#include "slot.h"
#include "guard.h"

extern char **environ;

#define NODES 3

static char g_dir[64];
static int g_port[NODES];
static pid_t g_pid[NODES];
static char g_id[NODES][41];
static char g_url[256];

/* Sleeps ms milliseconds. */
static void nap(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Returns a free loopback TCP port whose cluster bus port (+10000) is free
 * too, or 0. */
static int free_port(void)
{
    for (int tries = 0; tries < 50; tries++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t al = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
        if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &al) == 0)
            port = ntohs(a.sin_port);
        if (fd >= 0)
            close(fd);
        if (port && port < 55000)
            return port;
    }
    return 0;
}

/* Runs a command on node i directly (not through the layer under test).
 * Returns the reply; fails the test when there is none. */
static redisReply *direct(int i, const char *fmt, ...)
{
    va_list ap;
    redisContext *c = redisConnect("127.0.0.1", g_port[i]);
    ck_assert_msg(c && !c->err, "node %d unreachable", i);
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_ptr_nonnull(r);
    redisFree(c);
    return r;
}

/* Runs a command on node i and frees its reply. */
static void direct_ok(int i, const char *fmt, const char *a, const char *b)
{
    redisReply *r = direct(i, fmt, a, b);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "node %d: %s", i, r->str);
    freeReplyObject(r);
}

/* Kills every node and removes the directory. */
static void cluster_stop(void)
{
    char cmd[128];
    for (int i = 0; i < NODES; i++)
        if (g_pid[i] > 0) {
            kill(g_pid[i], SIGKILL);
            waitpid(g_pid[i], NULL, 0);
            g_pid[i] = 0;
        }
    if (g_dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        ck_assert_int_eq(system(cmd), 0);
        g_dir[0] = 0;
    }
}

/* Starts three cluster-enabled nodes, gives each a third of the slots,
 * joins them and waits for cluster_state:ok on all (fails the test after
 * 15 s). */
static void cluster_start(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/agcluster-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    for (int i = 0; i < NODES; i++) {
        char port[8], conf[128];
        g_port[i] = free_port();
        ck_assert_int_gt(g_port[i], 0);
        snprintf(port, sizeof port, "%d", g_port[i]);
        snprintf(conf, sizeof conf, "nodes-%d.conf", g_port[i]);
        char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                        "--cluster-config-file", conf, "--cluster-node-timeout", "2000", "--save", "",
                        "--appendonly", "no", "--dir", g_dir, NULL};
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        ck_assert_int_eq(posix_spawnp(&g_pid[i], "redis-server", &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
    }
    for (int i = 0; i < NODES; i++)
        for (int t = 0;; t++) {
            redisContext *c = redisConnect("127.0.0.1", g_port[i]);
            int up = c && !c->err;
            redisFree(c);
            if (up)
                break;
            ck_assert_msg(t < 500, "node %d did not start", i);
            nap(10);
        }
    for (int i = 0; i < NODES; i++) {
        char lo[8], hi[8];
        snprintf(lo, sizeof lo, "%d", i * PROTO_SLOTS / NODES);
        snprintf(hi, sizeof hi, "%d", (i + 1) * PROTO_SLOTS / NODES - 1);
        direct_ok(i, "CLUSTER ADDSLOTSRANGE %s %s", lo, hi);
        redisReply *r = direct(i, "CLUSTER MYID");
        ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
        memcpy(g_id[i], r->str, 41);
        freeReplyObject(r);
    }
    for (int i = 1; i < NODES; i++) {
        char port[8];
        snprintf(port, sizeof port, "%d", g_port[i]);
        direct_ok(0, "CLUSTER MEET %s %s", "127.0.0.1", port);
    }
    for (int t = 0;; t++) {
        int ok = 0;
        for (int i = 0; i < NODES; i++) {
            redisReply *r = direct(i, "CLUSTER INFO");
            ok += r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok") &&
                  strstr(r->str, "cluster_known_nodes:3");
            freeReplyObject(r);
        }
        if (ok == NODES)
            break;
        ck_assert_msg(t < 1500, "cluster_state:ok not reached");
        nap(10);
    }
    snprintf(g_url, sizeof g_url, "redis+cluster://127.0.0.1:%d", g_port[1]);    /* one seed is enough */
}

/* Returns the node index owning key's slot (slots split as cluster_start did). */
static int node_of(const char *key)
{
    return (int)(proto_slot(key, strlen(key)) * NODES / PROTO_SLOTS);
}

/* Finds a key "k<n>" that lives on node i; writes it into out. */
static void key_on(int i, char *out, size_t cap)
{
    for (int n = 0;; n++) {
        snprintf(out, cap, "k%d", n);
        if (node_of(out) == i)
            return;
    }
}

/* Records the order handlers ran in. */
typedef struct {
    size_t order[64];
    char val[64][32];
    int n;
} seen;

/* Stores one reply's text and index. */
static int on_reply(void *arg, redisReply *rep, size_t index)
{
    seen *s = arg;
    s->order[s->n] = index;
    snprintf(s->val[s->n++], sizeof s->val[0], "%s", rep->type == REDIS_REPLY_ERROR ? rep->str
                                                   : rep->type == REDIS_REPLY_STRING ? rep->str
                                                   : rep->type == REDIS_REPLY_NIL ? "(nil)" : "?");
    freeReplyObject(rep);
    return 0;
}

/* Checks routing, the pipeline over many slots in order, and SCRIPT LOAD
 * on every master. */
START_TEST(routes_by_slot)
{
    sys_redis *r = sys_redis_new(g_url, 1000, 2000);
    ck_assert_int_eq(sys_redis_is_cluster(r), 1);
    ck_assert_int_eq(sys_redis_nodes(r), NODES);
    int per_node[NODES] = {0};
    for (int n = 0; n < 300; n++) {
        char k[16];
        snprintf(k, sizeof k, "k%d", n);
        redisReply *rep = sys_redis_cmd(r, "SET %s v%d", k, n);
        ck_assert_ptr_nonnull(rep);
        freeReplyObject(rep);
        per_node[node_of(k)]++;
        ck_assert_int_eq(sys_redis_node_of(r, k, strlen(k)), node_of(k));
    }
    int total = 0;
    for (int i = 0; i < NODES; i++) {       /* each key on the node its slot says, none elsewhere */
        redisReply *d = direct(i, "DBSIZE");
        ck_assert_int_eq((int)d->integer, per_node[i]);
        total += (int)d->integer;
        freeReplyObject(d);
    }
    ck_assert_int_eq(total, 300);
    /* one send of 40 GETs over all three nodes: 40 replies, in send order */
    char resp[4096];
    size_t len = 0;
    for (int n = 0; n < 40; n++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "k%d", n);
        len += (size_t)snprintf(resp + len, sizeof resp - len, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, k);
    }
    seen s = {0};
    ck_assert_int_eq(sys_redis_send(r, resp, len, 40, on_reply, &s, NULL, NULL), 0);
    ck_assert_int_eq(sys_redis_flush(r), 0);
    ck_assert_int_eq(sys_redis_run(r, 0), 0);
    ck_assert_int_eq(s.n, 40);
    for (int n = 0; n < 40; n++) {
        char want[16];
        snprintf(want, sizeof want, "v%d", n);
        ck_assert_uint_eq(s.order[n], (size_t)n);
        ck_assert_str_eq(s.val[n], want);
    }
    /* SCRIPT LOAD reaches every master: EVALSHA then runs on each */
    redisReply *sha = sys_redis_cmd(r, "SCRIPT LOAD %s", "return redis.call('GET', KEYS[1])");
    ck_assert_ptr_nonnull(sha);
    for (int i = 0; i < NODES; i++) {
        char k[16];
        key_on(i, k, sizeof k);
        redisReply *e = sys_redis_cmd(r, "EVALSHA %s 1 %s", sha->str, k);
        ck_assert_msg(e && e->type == REDIS_REPLY_STRING, "EVALSHA on node %d: %s", i, sys_redis_err(r));
        freeReplyObject(e);
    }
    freeReplyObject(sha);
    /* a keyless one-shot goes to one master; a command per node reaches each */
    for (int i = 0; i < NODES; i++) {
        redisReply *d = sys_redis_cmd_node(r, i, "DBSIZE");
        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(d->type, REDIS_REPLY_INTEGER);
        freeReplyObject(d);
    }
    sys_redis_free(r);
}
END_TEST

/* Tells every node that slot now belongs to node `to` (the new owner
 * first, as redis-cli does). */
static void slot_node(const char *slot, int to)
{
    for (int k = 0; k < NODES; k++) {
        int i = k == 0 ? to : k == to ? 0 : k;
        redisReply *r = direct(i, "CLUSTER SETSLOT %s NODE %s", slot, g_id[to]);
        ck_assert_msg(r->type != REDIS_REPLY_ERROR, "SETSLOT NODE on %d: %s", i, r->str);
        freeReplyObject(r);
    }
}

/* Starts moving key's slot from node `from` to node `to` as a reshard
 * does, up to MIGRATE of the key (the slot still migrating: ASK). */
static void move_key(const char *key, int from, int to)
{
    char slot[8], port[8];
    snprintf(slot, sizeof slot, "%u", proto_slot(key, strlen(key)));
    snprintf(port, sizeof port, "%d", g_port[to]);
    redisReply *r = direct(to, "CLUSTER SETSLOT %s IMPORTING %s", slot, g_id[from]);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "IMPORTING: %s", r->str);
    freeReplyObject(r);
    r = direct(from, "CLUSTER SETSLOT %s MIGRATING %s", slot, g_id[to]);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "MIGRATING: %s", r->str);
    freeReplyObject(r);
    r = direct(from, "MIGRATE 127.0.0.1 %s %s 0 5000", port, key);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "MIGRATE: %s", r->str);
    freeReplyObject(r);
}

/* Checks ASK (a slot mid-move) and MOVED (after it) are followed, in a
 * pipeline and one-shot, and counted. */
START_TEST(follows_ask_and_moved)
{
    sys_redis *r = sys_redis_new(g_url, 1000, 2000);
    char a[16], b[16];
    key_on(0, a, sizeof a);
    key_on(2, b, sizeof b);
    redisReply *rep = sys_redis_cmd(r, "SET %s va", a);     /* the map is read now */
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    rep = sys_redis_cmd(r, "SET %s vb", b);
    freeReplyObject(rep);
    move_key(a, 0, 1);                                      /* migrating: the old owner says ASK */
    seen s = {0};
    ck_assert_int_eq(sys_redis_sendf(r, on_reply, &s, "GET %s", a), 0);
    ck_assert_int_eq(sys_redis_sendf(r, on_reply, &s, "GET %s", b), 0);
    ck_assert_int_eq(sys_redis_flush(r), 0);
    ck_assert_int_eq(sys_redis_run(r, 0), 0);
    ck_assert_int_eq(s.n, 2);
    ck_assert_str_eq(s.val[0], "va");
    ck_assert_str_eq(s.val[1], "vb");
    sys_redis_cluster_stats st;
    sys_redis_cluster_stats_get(r, &st);
    ck_assert_uint_ge(st.ask, 1);
    ck_assert_uint_eq(st.moved, 0);
    /* finish the move: the old owner now answers MOVED, the map is read again */
    char slot[8];
    snprintf(slot, sizeof slot, "%u", proto_slot(a, strlen(a)));
    slot_node(slot, 1);
    rep = sys_redis_cmd(r, "GET %s", a);
    ck_assert_msg(rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "va") == 0, "GET after MOVED");
    freeReplyObject(rep);
    sys_redis_cluster_stats_get(r, &st);
    ck_assert_uint_ge(st.moved, 1);
    ck_assert_uint_ge(st.refreshes, 2);
    ck_assert_int_eq(sys_redis_node_of(r, a, strlen(a)), 1);
    /* WAIT: no replicas here, so asking for one falls short (0) after the timeout */
    ck_assert_int_eq(sys_redis_wait(r, 0, 100), 0);
    rep = sys_redis_cmd(r, "SET %s again", b);
    freeReplyObject(rep);
    ck_assert_int_eq(sys_redis_wait(r, 1, 100), 0);
    sys_redis_free(r);
}
END_TEST

/* Checks a dead master fails only its own commands: NODEDOWN replies in
 * their turn, the other nodes' replies intact; a one-shot to it fails. */
START_TEST(dead_master_fails_alone)
{
    sys_redis *r = sys_redis_new(g_url, 500, 1000);
    char k[NODES][16];
    for (int i = 0; i < NODES; i++) {
        key_on(i, k[i], sizeof k[i]);
        redisReply *rep = sys_redis_cmd(r, "SET %s v%d", k[i], i);
        ck_assert_ptr_nonnull(rep);
        freeReplyObject(rep);
    }
    kill(g_pid[2], SIGKILL);
    waitpid(g_pid[2], NULL, 0);
    g_pid[2] = 0;
    seen s = {0};
    for (int round = 0; round < 2; round++)     /* the broken connection, then the back-off */
        for (int i = 0; i < NODES; i++)
            ck_assert_int_eq(sys_redis_sendf(r, on_reply, &s, "GET %s", k[i]), 0);
    ck_assert_int_eq(sys_redis_flush(r), 0);
    ck_assert_int_eq(sys_redis_run(r, 0), 0);
    ck_assert_int_eq(s.n, 2 * NODES);
    for (int round = 0; round < 2; round++) {
        ck_assert_str_eq(s.val[round * NODES + 0], "v0");
        ck_assert_str_eq(s.val[round * NODES + 1], "v1");
        ck_assert_msg(strncmp(s.val[round * NODES + 2], "NODEDOWN ", 9) == 0, "got %s",
                      s.val[round * NODES + 2]);
    }
    redisReply *rep = sys_redis_cmd(r, "GET %s", k[2]);
    ck_assert_ptr_null(rep);
    ck_assert_int_eq(sys_redis_last(r), SYS_REDIS_LOST);
    rep = sys_redis_cmd(r, "GET %s", k[0]);             /* the live nodes still answer */
    ck_assert_msg(rep && rep->type == REDIS_REPLY_STRING, "live node after a dead one: %s", sys_redis_err(r));
    freeReplyObject(rep);
    sys_redis_cluster_stats st;
    sys_redis_cluster_stats_get(r, &st);
    ck_assert_uint_ge(st.node_failures, 1);
    sys_redis_free(r);
}
END_TEST

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    Suite *s = suite_create("sys_redis_cluster");
    TCase *tc = tcase_create("cluster");
    tcase_add_checked_fixture(tc, cluster_start, cluster_stop);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, routes_by_slot);
    tcase_add_test(tc, follows_ask_and_moved);
    tcase_add_test(tc, dead_master_fails_alone);
    suite_add_tcase(s, tc);
    return unit_run(s);
}

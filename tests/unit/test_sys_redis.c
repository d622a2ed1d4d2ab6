/* test_sys_redis.c: proto/sys/redis.c against a real redis-server (started
 * here on a unix socket in a temp dir): connect, AUTH, SELECT, the error
 * policy, and the reply ledger — replies handed to the right handler in
 * order, a reader of one's own, run(leave), a handler stopping the run, a
 * lost connection abandoning every owed reply. */
#include <check.h>
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis.h"
#include "guard.h"

extern char **environ;

static char g_dir[64], g_sock[128], g_url[160], g_port[8];
static pid_t g_pid;

/* Stops redis-server and removes its directory. */
static void redis_stop(void)
{
    char cmd[128];
    if (g_pid > 0) {
        kill(g_pid, SIGKILL);
        waitpid(g_pid, NULL, 0);
        g_pid = 0;
    }
    if (g_dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        ck_assert_int_eq(system(cmd), 0);
        g_dir[0] = '\0';
    }
}

/* Returns a TCP port on 127.0.0.1 that nothing listens on now (the
 * kernel's choice), or 0. */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Spawns redis-server on a unix socket and a free TCP port (requirepass
 * when pass is not NULL), its output to /dev/null so that a server left by
 * a failed test holds no pipe of the runner's. Returns 1 once it answers
 * PING (up to 10 s), else 0 (the server killed). */
static int redis_try(const char *pass)
{
    char *argv[20];
    int n = 0;
    snprintf(g_dir, sizeof g_dir, "/tmp/agsysredis-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    snprintf(g_sock, sizeof g_sock, "%s/r.sock", g_dir);
    snprintf(g_port, sizeof g_port, "%d", free_port());
    argv[n++] = "redis-server";
    argv[n++] = "--port";
    argv[n++] = g_port;
    argv[n++] = "--bind";
    argv[n++] = "127.0.0.1";
    argv[n++] = "--unixsocket";
    argv[n++] = g_sock;
    argv[n++] = "--save";
    argv[n++] = "";
    argv[n++] = "--appendonly";
    argv[n++] = "no";
    argv[n++] = "--dir";
    argv[n++] = g_dir;
    if (pass) {
        argv[n++] = "--requirepass";
        argv[n++] = (char *)pass;
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    ck_assert_int_eq(posix_spawnp(&g_pid, "redis-server", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    snprintf(g_url, sizeof g_url, "unix://%s", g_sock);
    for (int i = 0; i < 1000; i++) {
        struct stat st;
        if (stat(g_sock, &st) == 0) {
            redisContext *c = redisConnectUnix(g_sock);
            redisReply *r = c && !c->err ? redisCommand(c, "PING") : NULL;
            int up = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR); /* NOAUTH: up */
            if (r)
                freeReplyObject(r);
            if (c)
                redisFree(c);
            if (up)
                return 1;
        }
        if (waitpid(g_pid, NULL, WNOHANG) == g_pid) {     /* it exited: a port taken meanwhile */
            g_pid = 0;
            break;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Starts redis-server (see redis_try), trying three ports; fails the test
 * if none comes up. */
static void redis_start(const char *pass)
{
    for (int i = 0; i < 3; i++) {
        if (redis_try(pass))
            return;
        redis_stop();
    }
    ck_abort_msg("redis-server did not come up on three ports");
}


/* What a handler saw: replies in arrival order, tagged by handler. */
static char g_seen[1024];

/* Appends "<tag><index>=<reply text> " to g_seen; returns 0. */
static int note(void *arg, redisReply *r, size_t i)
{
    char one[96];
    const char *tag = arg;
    if (r->type == REDIS_REPLY_INTEGER)
        snprintf(one, sizeof one, "%s%zu=%lld ", tag, i, r->integer);
    else
        snprintf(one, sizeof one, "%s%zu=%s ", tag, i, r->str ? r->str : "nil");
    strncat(g_seen, one, sizeof g_seen - strlen(g_seen) - 1);
    freeReplyObject(r);
    return 0;
}

/* Notes the reply, then asks to stop the run. */
static int stop_after(void *arg, redisReply *r, size_t i)
{
    note(arg, r, i);
    return -1;
}

static int g_reads;

/* A reader of one's own: counts, then reads as hiredis would. */
static redisReply *count_read(void *arg, redisContext *c)
{
    redisReply *r = NULL;
    (void)arg;
    g_reads++;
    return redisGetReply(c, (void **)&r) == REDIS_OK ? r : NULL;
}

/* Checks one-shot commands and the error policy; fails on a mismatch. */
START_TEST(one_shot_and_errors)
{
    redis_start(NULL);
    sys_redis *r = sys_redis_new(g_url, 5000, 5000);
    ck_assert_msg(sys_redis_connect(r) == 0, "connect: %s", sys_redis_err(r));
    ck_assert_str_eq(sys_redis_where(r), g_sock);
    redisReply *rep = sys_redis_cmd(r, "SET k %s", "v");
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    /* an error reply: NULL, its text, the connection kept */
    ck_assert_ptr_null(sys_redis_cmd(r, "INCR k"));
    ck_assert_int_eq(sys_redis_last(r), SYS_REDIS_REPLY);
    ck_assert_ptr_nonnull(strstr(sys_redis_err(r), "not an integer"));
    ck_assert(sys_redis_connected(r));
    rep = sys_redis_cmd(r, "GET k");
    ck_assert_str_eq(rep->str, "v");
    freeReplyObject(rep);
    /* a lost server: LOST, closed, and the next call reconnects (and fails) */
    redis_stop();
    ck_assert_ptr_null(sys_redis_cmd(r, "PING"));
    ck_assert_int_eq(sys_redis_last(r), SYS_REDIS_LOST);
    ck_assert(!sys_redis_connected(r));
    ck_assert_ptr_null(sys_redis_cmd(r, "PING"));
    ck_assert_int_eq(sys_redis_last(r), SYS_REDIS_UNREACHABLE);
    ck_assert_int_gt(sys_redis_backoff_ms(r), 0);
    sys_redis_free(r);
}
END_TEST

/* Checks AUTH and SELECT from the URL; fails on a mismatch. */
START_TEST(auth_and_select)
{
    char url[256];
    redis_start("s3cret");
    snprintf(url, sizeof url, "redis://:wrong@127.0.0.1:%s/0", g_port);
    sys_redis *bad = sys_redis_new(url, 1000, 1000);
    ck_assert_int_eq(sys_redis_connect(bad), -1);
    ck_assert_int_eq(sys_redis_last(bad), SYS_REDIS_REFUSED);
    ck_assert(!sys_redis_connected(bad));
    sys_redis_free(bad);
    snprintf(url, sizeof url, "redis://:s3cret@127.0.0.1:%s/2", g_port);
    sys_redis *db2 = sys_redis_new(url, 1000, 1000);
    snprintf(url, sizeof url, "redis://:s3cret@127.0.0.1:%s/0", g_port);
    sys_redis *db0 = sys_redis_new(url, 1000, 1000);
    redisReply *rep = sys_redis_cmd(db2, "SET x %s", "in-db2");
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    rep = sys_redis_cmd(db0, "GET x");
    ck_assert_int_eq(rep->type, REDIS_REPLY_NIL);   /* SELECT 2 took */
    freeReplyObject(rep);
    rep = sys_redis_cmd(db2, "GET x");
    ck_assert_str_eq(rep->str, "in-db2");
    freeReplyObject(rep);
    sys_redis_free(db0);
    sys_redis_free(db2);
    redis_stop();
}
END_TEST

/* Checks the ledger hands each reply to its handler, in order, with its
 * index, across sends of several replies; fails on a mismatch. */
START_TEST(ledger_order)
{
    redis_start(NULL);
    sys_redis *r = sys_redis_new(g_url, 5000, 5000);
    ck_assert_msg(sys_redis_connect(r) == 0, "connect: %s", sys_redis_err(r));
    g_seen[0] = 0;
    const char three[] = "*2\r\n$4\r\nINCR\r\n$1\r\na\r\n"
                         "*2\r\n$4\r\nINCR\r\n$1\r\na\r\n"
                         "*2\r\n$4\r\nINCR\r\n$1\r\nb\r\n";
    ck_assert_int_eq(sys_redis_send(r, three, sizeof three - 1, 3, note, "A", NULL, NULL), 0);
    ck_assert_int_eq(sys_redis_sendf(r, note, "B", "ECHO %s", "hello"), 0);
    ck_assert_int_eq(sys_redis_sendf(r, note, "C", "INCR a"), 0);
    ck_assert_uint_eq(sys_redis_owed(r), 5);
    ck_assert_int_eq(sys_redis_flush(r), 0);
    ck_assert_int_eq(sys_redis_run(r, 2), 0);           /* leave B and C owed */
    ck_assert_str_eq(g_seen, "A0=1 A1=2 A2=1 ");
    ck_assert_uint_eq(sys_redis_owed(r), 2);
    /* a one-shot command is refused while replies are owed */
    ck_assert_ptr_null(sys_redis_cmd(r, "PING"));
    ck_assert_int_eq(sys_redis_run(r, 0), 0);
    ck_assert_str_eq(g_seen, "A0=1 A1=2 A2=1 B0=hello C0=3 ");
    ck_assert_uint_eq(sys_redis_owed(r), 0);
    /* an error reply goes to its handler as it is */
    g_seen[0] = 0;
    ck_assert_int_eq(sys_redis_sendf(r, note, "E", "HGET a f"), 0);
    ck_assert_int_eq(sys_redis_run(r, 0), 0);
    ck_assert_ptr_nonnull(strstr(g_seen, "E0=WRONGTYPE"));
    sys_redis_free(r);
    redis_stop();
}
END_TEST

/* Checks a reader of one's own, a handler stopping the run, and a lost
 * connection abandoning the owed replies; fails on a mismatch. */
START_TEST(ledger_reader_stop_loss)
{
    redis_start(NULL);
    sys_redis *r = sys_redis_new(g_url, 5000, 5000);
    ck_assert_msg(sys_redis_connect(r) == 0, "connect: %s", sys_redis_err(r));
    g_seen[0] = 0;
    g_reads = 0;
    const char two[] = "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
    ck_assert_int_eq(sys_redis_send(r, two, sizeof two - 1, 2, note, "R", count_read, NULL), 0);
    ck_assert_int_eq(sys_redis_sendf(r, stop_after, "S", "ECHO %s", "x"), 0);
    ck_assert_int_eq(sys_redis_sendf(r, note, "T", "ECHO %s", "y"), 0);
    ck_assert_int_eq(sys_redis_flush(r), 0);
    ck_assert_int_eq(sys_redis_run(r, 0), -1);          /* S stops it */
    ck_assert_int_eq(g_reads, 2);
    ck_assert_str_eq(g_seen, "R0=PONG R1=PONG S0=x ");
    ck_assert_uint_eq(sys_redis_owed(r), 1);            /* T still owed */
    ck_assert_int_eq(sys_redis_run(r, 0), 0);
    ck_assert_str_eq(g_seen, "R0=PONG R1=PONG S0=x T0=y ");
    /* the server goes away with a reply owed */
    g_seen[0] = 0;
    ck_assert_int_eq(sys_redis_sendf(r, note, "L", "ECHO %s", "z"), 0);
    kill(g_pid, SIGKILL);
    waitpid(g_pid, NULL, 0);
    g_pid = 0;
    /* the write or the read finds the server gone */
    ck_assert(sys_redis_flush(r) == -1 || sys_redis_run(r, 0) == -1);
    ck_assert_int_eq(sys_redis_last(r), SYS_REDIS_LOST);
    ck_assert_uint_eq(sys_redis_owed(r), 0);            /* abandoned with the connection */
    ck_assert(!sys_redis_connected(r));
    ck_assert_str_eq(g_seen, "");
    sys_redis_free(r);
    redis_stop();
}
END_TEST

/* Kills a server a failed test left running; never fails. */
static void teardown(void)
{
    if (g_pid > 0 || g_dir[0])
        redis_stop();
}

static Suite *redis_suite(void)
{
    Suite *s = suite_create("sys_redis");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, one_shot_and_errors);
    tcase_add_test(tc, auth_and_select);
    tcase_add_test(tc, ledger_order);
    tcase_add_test(tc, ledger_reader_stop_loss);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return unit_run(redis_suite());
}

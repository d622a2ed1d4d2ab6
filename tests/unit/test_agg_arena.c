/* test_agg_arena.c: unit tests of aggregator/arena.c — replies parsed into
 * the arena from a socketpair standing in for Redis, checked element by
 * element, across chunk boundaries and resets. */
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "guard.h"

/* Connects a hiredis context to one end of a socketpair; *peer gets the
 * other. Fails the test on error. */
static redisContext *pair(int *peer)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    redisContext *rc = redisConnectFd(sv[0]);
    ck_assert_ptr_nonnull(rc);
    ck_assert_int_eq(rc->err, 0);
    *peer = sv[1];
    return rc;
}

/* Writes all of s to fd; fails the test on a short write. */
static void put(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        ck_assert_int_gt(w, 0);
        s += w;
        n -= (size_t)w;
    }
}

/* Checks a nested reply of every type; fails on any difference. */
START_TEST(nested_types)
{
    int peer;
    redisContext *rc = pair(&peer);
    agg_arena *a = agg_arena_new();
    const char *argv[] = {"PING"};
    const char reply[] = "*5\r\n$3\r\nabc\r\n:-42\r\n$-1\r\n*2\r\n+OK\r\n-ERR x\r\n*0\r\n";
    put(peer, reply, sizeof reply - 1);
    redisReply *r = agg_arena_command(a, rc, 1, argv, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_eq(r->elements, 5);
    ck_assert_int_eq(r->element[0]->type, REDIS_REPLY_STRING);
    ck_assert_str_eq(r->element[0]->str, "abc");
    ck_assert_uint_eq(r->element[0]->len, 3);
    ck_assert_int_eq(r->element[1]->type, REDIS_REPLY_INTEGER);
    ck_assert_int_eq(r->element[1]->integer, -42);
    ck_assert_int_eq(r->element[2]->type, REDIS_REPLY_NIL);
    ck_assert_int_eq(r->element[3]->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(r->element[3]->element[0]->type, REDIS_REPLY_STATUS);
    ck_assert_str_eq(r->element[3]->element[0]->str, "OK");
    ck_assert_int_eq(r->element[3]->element[1]->type, REDIS_REPLY_ERROR);
    ck_assert_str_eq(r->element[3]->element[1]->str, "ERR x");
    ck_assert_int_eq(r->element[4]->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_eq(r->element[4]->elements, 0);
    /* the context's own replies are ordinary again afterwards */
    put(peer, "+PONG\r\n", 7);
    redisReply *plain = redisCommand(rc, "PING");
    ck_assert_ptr_nonnull(plain);
    ck_assert_str_eq(plain->str, "PONG");
    freeReplyObject(plain);
    agg_arena_free(a);
    agg_arena_free(NULL);
    redisFree(rc);
    close(peer);
}
END_TEST

/* Checks 20,000 stream-like entries (several MB: many chunks) twice, with
 * a reset between; fails on any difference. */
START_TEST(big_reply_and_reset)
{
    int peer;
    redisContext *rc = pair(&peer);
    agg_arena *a = agg_arena_new();
    const char *argv[] = {"XREADGROUP"};
    enum { N = 20000 };
    size_t cap = (size_t)N * 200 + 64, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    len += (size_t)snprintf(buf + len, cap - len, "*%d\r\n", N);
    for (int i = 0; i < N; i++) {
        char id[32], v[64];
        int il = snprintf(id, sizeof id, "%d-0", i + 1);
        int vl = snprintf(v, sizeof v, "campaign-%d-%0*d", i, i % 40, 7);
        len += (size_t)snprintf(buf + len, cap - len, "*2\r\n$%d\r\n%s\r\n*2\r\n$8\r\ncampaign\r\n$%d\r\n%s\r\n",
                                il, id, vl, v);
    }
    for (int round = 0; round < 2; round++) {
        /* the writer would block on a full socket buffer: feed from a child */
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            put(peer, buf, len);
            _exit(0);
        }
        redisReply *r = agg_arena_command(a, rc, 1, argv, NULL);
        ck_assert_ptr_nonnull(r);
        ck_assert_uint_eq(r->elements, N);
        int bad = 0, names = 0;
        const redisReply *last = NULL;
        for (int i = 0; i < N; i++) {
            char id[32], v[64];
            snprintf(id, sizeof id, "%d-0", i + 1);
            snprintf(v, sizeof v, "campaign-%d-%0*d", i, i % 40, 7);
            const redisReply *e = r->element[i];
            bad += strcmp(e->element[0]->str, id) != 0 || e->element[0]->len != strlen(id);
            bad += strcmp(e->element[1]->element[0]->str, "campaign") != 0;
            bad += strcmp(e->element[1]->element[1]->str, v) != 0 || e->element[1]->element[1]->len != strlen(v);
            /* the field name is one shared object, but where a string of the
             * same hash slot (an id) displaced it */
            names += e->element[1]->element[0] != last;
            last = e->element[1]->element[0];
        }
        ck_assert_int_eq(bad, 0);
        ck_assert_int_lt(names, N / 20);
        agg_arena_reset(a);
        int status;
        waitpid(pid, &status, 0);
    }
    free(buf);
    agg_arena_free(a);
    redisFree(rc);
    close(peer);
}
END_TEST

/* Checks a reply cut short returns NULL with rc->err set and leaves the
 * context safe to free; fails otherwise (ASan: an invalid free). */
START_TEST(closed_connection)
{
    int peer;
    redisContext *rc = pair(&peer);
    agg_arena *a = agg_arena_new();
    const char *argv[] = {"PING"};
    /* the "server" answers one of two elements and shuts its side for
     * writing (it still takes the command): the reader gets half a reply,
     * then end of file */
    put(peer, "*2\r\n$3\r\nabc\r\n", 13);
    ck_assert_int_eq(shutdown(peer, SHUT_WR), 0);
    ck_assert_ptr_null(agg_arena_command(a, rc, 1, argv, NULL));
    ck_assert_int_eq(rc->err, REDIS_ERR_EOF);
    close(peer);
    /* as the aggregator: the connection is freed first (its reader must
     * not free the arena's half-built reply), the arena reused after */
    redisFree(rc);
    agg_arena_reset(a);
    agg_arena_free(a);
}
END_TEST

/* Builds the suite. */
static Suite *arena_suite(void)
{
    Suite *s = suite_create("agg_arena");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, nested_types);
    tcase_add_test(tc, big_reply_and_reset);
    tcase_add_test(tc, closed_connection);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite. Returns 0 if every test passed, 1 otherwise. */
int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the aggregator: a closed peer is an error, not a signal */
    return unit_run(arena_suite());
}

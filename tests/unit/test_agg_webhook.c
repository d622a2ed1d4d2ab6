/* test_agg_webhook.c: unit tests of aggregator/webhook.c — alert bodies and the HTTP client against an in-process server. */
#include "webhook.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "guard.h"

/* ---- alert bodies ---- */

#define NF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Builds the body of fields names/values into out; returns its length. */
static long body(int n, const char *const *names, const char *const *values, char *out, size_t cap)
{
    return agg_webhook_body(n, names, values, out, cap);
}

/* Returns the body's text for an overdue alert that waited secs; fails if it does not build. */
static const char *text_for(const char *secs, char *out, size_t cap)
{
    const char *names[] = {"kind", "campaign", "subject", "waited_s", "sla_s"};
    const char *values[] = {"followup_overdue", "c1", "s-1", secs, "900"};
    ck_assert_int_gt(body(NF(names), names, values, out, cap), 0);
    const char *t = strstr(out, "\"text\":\"");
    ck_assert_ptr_nonnull(t);
    return t + 8;
}

/* Checks the overdue body holds every field, numbers bare, and the text; fails on any difference. */
START_TEST(body_overdue)
{
    const char *names[] = {"kind", "campaign", "subject", "signup_ts", "waited_s", "sla_s", "ts",
                           "name"};
    const char *values[] = {"followup_overdue", "spring", "s-1042", "1732000000123", "1020", "900",
                            "1732001020456", "spring-appeal"};
    char out[1024];
    long n = body(NF(names), names, values, out, sizeof out);
    const char *want =
        "{\"kind\":\"followup_overdue\",\"campaign\":\"spring\",\"subject\":\"s-1042\","
        "\"signup_ts\":1732000000123,\"waited_s\":1020,\"sla_s\":900,\"ts\":1732001020456,"
        "\"name\":\"spring-appeal\",\"text\":\"Signup s-1042 (spring-appeal) has waited 17 min "
        "for follow-up; SLA 15 min\"}";
    ck_assert_str_eq(out, want);
    ck_assert_int_eq(n, (long)strlen(want));
}
END_TEST

/* Checks the resolved body: followup_ts a number, campaign named when no name; fails otherwise. */
START_TEST(body_resolved)
{
    const char *names[] = {"kind", "campaign", "subject", "signup_ts", "waited_s", "sla_s", "ts",
                           "followup_ts"};
    const char *values[] = {"followup_resolved", "spring", "s-7", "1000", "7500", "3600", "9000",
                            "8500"};
    char out[1024];
    ck_assert_int_gt(body(NF(names), names, values, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"followup_ts\":8500,"));
    ck_assert_ptr_nonnull(strstr(out, "\"text\":\"Signup s-7 (spring) was followed up after 2 h "
                                      "5 min; SLA 1 h\"}"));
}
END_TEST

/* Checks quotes, backslashes, newlines, control bytes and bad UTF-8 are escaped; fails otherwise. */
START_TEST(body_escapes)
{
    const char *names[] = {"kind", "campaign", "subject", "waited_s", "sla_s", "name"};
    const char *values[] = {"followup_overdue", "c", "a\"b\nc\\d\te\001f\xff\xc3\xa9", "45",
                            "60", ""};
    char out[1024];
    ck_assert_int_gt(body(NF(names), names, values, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"subject\":\"a\\\"b\\nc\\\\d\\te\\u0001f\\ufffd\xc3\xa9\","));
    ck_assert_ptr_nonnull(strstr(out, "\"text\":\"Signup a\\\"b\\nc\\\\d\\te\\u0001f\\ufffd\xc3\xa9"
                                      " (c) has waited 45 s for follow-up; SLA 1 min\"}"));
    ck_assert_ptr_null(strchr(out, '\n'));
    /* a number field that is not a number stays a string */
    const char *n2[] = {"kind", "ts"};
    const char *v2[] = {"followup_overdue", "12x"};
    ck_assert_int_gt(body(2, n2, v2, out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"ts\":\"12x\""));
}
END_TEST

/* Checks the human durations; fails on a wrong rendering. */
START_TEST(body_durations)
{
    char out[512];
    const char *cases[][2] = {{"45", "45 s"},        {"0", "0 s"},      {"59", "59 s"},
                              {"1020", "17 min"},    {"60", "1 min"},   {"3600", "1 h"},
                              {"7500", "2 h 5 min"}, {"86399", "23 h 59 min"},
                              {"273600", "3 d 4 h"}, {"86400", "1 d"},  {"-5", "0 s"},
                              {"abc", "?"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "has waited %s for", cases[i][1]);
        const char *t = text_for(cases[i][0], out, sizeof out);
        ck_assert_msg(strstr(t, want) != NULL, "%s s: want \"%s\" in %s", cases[i][0], want, t);
    }
}
END_TEST

/* Checks a body that does not fit returns -1, and fits exactly with one byte for the NUL. */
START_TEST(body_too_small)
{
    const char *names[] = {"kind", "campaign", "subject", "waited_s", "sla_s"};
    const char *values[] = {"followup_overdue", "c1", "s-1", "100", "60"};
    char out[512];
    long n = body(NF(names), names, values, out, sizeof out);
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(body(NF(names), names, values, out, (size_t)n), -1);
    ck_assert_int_eq(body(NF(names), names, values, out, 10), -1);
    ck_assert_int_eq(body(NF(names), names, values, out, 0), -1);
    ck_assert_int_eq(body(NF(names), names, values, out, (size_t)n + 1), n);
    ck_assert_int_eq((long)strlen(out), n);
}
END_TEST

/* ---- an in-process HTTP server ---- */

typedef struct {
    int lfd, port, family;
    int nstatus, status[4];     /* one connection per status; 0: close without answering */
    int accept;                 /* 0: listen but never accept */
    char req[4][4096];
    pthread_t th;
} srv;

/* Returns the monotonic clock in ms. */
static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one request (headers and Content-Length body) into out; returns its length, or -1. */
static long read_request(int fd, char *out, size_t cap)
{
    size_t have = 0;
    for (;;) {
        ssize_t n = recv(fd, out + have, cap - 1 - have, 0);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        out[have] = 0;
        const char *end = strstr(out, "\r\n\r\n"), *cl = strstr(out, "Content-Length: ");
        if (end && cl && have >= (size_t)(end + 4 - out) + strtoul(cl + 16, NULL, 10))
            return (long)have;
        if (have == cap - 1)
            return -1;
    }
}

/* Serves s->nstatus connections, answering each with its status; returns NULL. */
static void *srv_main(void *arg)
{
    srv *s = arg;
    for (int i = 0; i < s->nstatus; i++) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;
        if (read_request(fd, s->req[i], sizeof s->req[i]) > 0 && s->status[i]) {
            char resp[256];
            int n = snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Length: 2\r\n"
                             "Connection: close\r\n\r\nok", s->status[i]);
            ck_assert_int_eq(send(fd, resp, (size_t)n, MSG_NOSIGNAL), n);
        }
        close(fd);
    }
    return NULL;
}

/* Opens a listening socket on loopback (family AF_INET or AF_INET6); returns 0, or -1 if unavailable. */
static int srv_listen(srv *s, int family)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof *a;
    }
    s->family = family;
    s->lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(s->lfd, 8) < 0) {
        if (s->lfd >= 0)
            close(s->lfd);
        return -1;
    }
    ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&ss, &sl), 0);
    s->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

/* Starts a server answering the given statuses in turn; fails if it cannot listen. */
static void srv_start(srv *s, int family, int nstatus, const int *status)
{
    memset(s, 0, sizeof *s);
    ck_assert_int_eq(srv_listen(s, family), 0);
    s->nstatus = nstatus;
    memcpy(s->status, status, (size_t)nstatus * sizeof *status);
    ck_assert_int_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
}

/* Joins the server thread and closes it; cannot fail. */
static void srv_stop(srv *s)
{
    pthread_join(s->th, NULL);
    close(s->lfd);
}

/* ---- agg_webhook_post ---- */

/* Checks a 200 then a 500 are returned, and the request's line, headers and body; fails otherwise. */
START_TEST(post_statuses)
{
    srv s;
    char url[128], err[256] = "", want[128];
    const char *json = "{\"text\":\"hi\"}";
    srv_start(&s, AF_INET, 3, (const int[]){200, 500, 204});
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/T0/B1?x=1#frag", s.port);
    ck_assert_int_eq(agg_webhook_post(url, json, strlen(json), 3000, err, sizeof err), 200);
    ck_assert_int_eq(agg_webhook_post(url, json, strlen(json), 3000, err, sizeof err), 500);
    snprintf(url, sizeof url, "HTTP://127.0.0.1:%d", s.port);
    ck_assert_int_eq(agg_webhook_post(url, "{}", 2, 3000, err, sizeof err), 204);
    srv_stop(&s);
    ck_assert_ptr_eq(strstr(s.req[0], "POST /hooks/T0/B1?x=1 HTTP/1.1\r\n"), s.req[0]);
    snprintf(want, sizeof want, "\r\nHost: 127.0.0.1:%d\r\n", s.port);
    ck_assert_ptr_nonnull(strstr(s.req[0], want));
    ck_assert_ptr_nonnull(strstr(s.req[0], "\r\nContent-Type: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(s.req[0], "\r\nContent-Length: 13\r\n"));
    ck_assert_ptr_nonnull(strstr(s.req[0], "\r\nUser-Agent: actiongap-aggregator\r\n"));
    ck_assert_ptr_nonnull(strstr(s.req[0], "\r\nConnection: close\r\n"));
    ck_assert_str_eq(strstr(s.req[0], "\r\n\r\n") + 4, json);
    ck_assert_ptr_eq(strstr(s.req[2], "POST / HTTP/1.1\r\n"), s.req[2]);
    ck_assert_str_eq(strstr(s.req[2], "\r\n\r\n") + 4, "{}");
}
END_TEST

/* Checks an IPv6 literal URL works where ::1 is available; fails on a wrong status. */
START_TEST(post_ipv6_literal)
{
    srv s = {0};
    char url[128], err[256] = "";
    if (srv_listen(&s, AF_INET6) < 0)
        return;     /* no IPv6 loopback here */
    close(s.lfd);
    srv_start(&s, AF_INET6, 1, (const int[]){201});
    snprintf(url, sizeof url, "http://[::1]:%d/x", s.port);
    ck_assert_int_eq(agg_webhook_post(url, "{}", 2, 3000, err, sizeof err), 201);
    srv_stop(&s);
    char want[64];
    snprintf(want, sizeof want, "\r\nHost: [::1]:%d\r\n", s.port);
    ck_assert_ptr_nonnull(strstr(s.req[0], want));
}
END_TEST

/* Checks a refused connection and a server closing without answer give -1 with a reason; fails otherwise. */
START_TEST(post_refused_and_closed)
{
    srv s = {0};
    char url[128], err[256] = "";
    ck_assert_int_eq(srv_listen(&s, AF_INET), 0);
    close(s.lfd);   /* nobody listens on that port now */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    ck_assert_int_eq(agg_webhook_post(url, "{}", 2, 2000, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "refused") != NULL, "err: %s", err);
    srv_start(&s, AF_INET, 1, (const int[]){0});
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    err[0] = 0;
    ck_assert_int_eq(agg_webhook_post(url, "{}", 2, 2000, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "closed") != NULL, "err: %s", err);
    srv_stop(&s);
}
END_TEST

/* Checks a server that never answers costs at most the timeout (+ slack); fails otherwise. */
START_TEST(post_timeout)
{
    srv s = {0};
    char url[128], err[256] = "";
    ck_assert_int_eq(srv_listen(&s, AF_INET), 0);   /* listens, never accepts nor answers */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", s.port);
    long long t0 = mono_ms();
    ck_assert_int_eq(agg_webhook_post(url, "{}", 2, 700, err, sizeof err), -1);
    long long took = mono_ms() - t0;
    ck_assert_msg(took >= 650 && took < 700 + 500, "took %lld ms", took);
    ck_assert_msg(strstr(err, "timed out") != NULL, "err: %s", err);
    close(s.lfd);
}
END_TEST

/* Checks bad URLs are refused at once with a reason; fails if one is accepted. */
START_TEST(post_bad_urls)
{
    const char *bad[] = {"ftp://127.0.0.1/", "httpx://127.0.0.1/", "", "127.0.0.1:80/x",
                         "http://", "http:///path", "http://[::1/", "http://[nothex]/",
                         "http://h:0/", "http://h:99999/", "http://h:8a/", "http://h:/",
                         "http://a b/", "http://h/\r\nX: y", "http://user:pw@h/",
                         "mailto:x@example.org"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        long long t0 = mono_ms();
        ck_assert_msg(agg_webhook_post(bad[i], "{}", 2, 1000, err, sizeof err) == -1, "%s", bad[i]);
        ck_assert_msg(err[0] != 0, "no reason for %s", bad[i]);
        ck_assert_ptr_null(strchr(err, '\n'));
        /* refused without waiting out the 1 s timeout: no connection was tried
         * (a functional bound, not a speed figure: valgrind makes libcurl's
         * first handle alone take ~100 ms) */
        ck_assert_int_lt(mono_ms() - t0, 900);
    }
}
END_TEST

/* Builds the suite; returns it. */
static Suite *webhook_suite(void)
{
    Suite *s = suite_create("agg_webhook");
    TCase *b = tcase_create("body"), *p = tcase_create("post");
    tcase_add_test(b, body_overdue);
    tcase_add_test(b, body_resolved);
    tcase_add_test(b, body_escapes);
    tcase_add_test(b, body_durations);
    tcase_add_test(b, body_too_small);
    tcase_set_timeout(p, 30);
    tcase_add_test(p, post_statuses);
    tcase_add_test(p, post_ipv6_literal);
    tcase_add_test(p, post_refused_and_closed);
    tcase_add_test(p, post_timeout);
    tcase_add_test(p, post_bad_urls);
    suite_add_tcase(s, b);
    suite_add_tcase(s, p);
    return s;
}

/* Runs the suite; returns non-zero if a test failed. */
int main(void)
{
    return unit_run(webhook_suite());
}

/* test_proto_conf.c: the configuration table, its sources and precedence. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conffile.h"
#include "guard.h"

/* Writes text to a temporary file and returns its path (static buffer). */
static const char *tmpfile_with(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/ag-conf-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    return path;
}

START_TEST(defaults)
{
    proto_conf c;
    proto_conf_defaults(&c);
    ck_assert_str_eq(c.listen, "127.0.0.1:8080");
    ck_assert_str_eq(c.redis, "redis://127.0.0.1:6379/0");
    ck_assert_str_eq(c.prefix, "ag:");
    ck_assert_int_eq(c.partitions, 1);
    ck_assert_int_eq(c.retention_hours, 2160);
    ck_assert_int_eq(c.retention_days, 730);
    ck_assert_int_eq(c.keep_hours, 24);
    ck_assert_int_eq(c.followup_sla_s, 900);
    ck_assert_int_eq(c.require_signature, PROTO_SIG_LINKS);
    ck_assert_int_eq(c.store_ip, PROTO_STORE_IP_TRUNCATED);
    ck_assert_int_eq(c.honor_gpc, 1);
    ck_assert_int_eq(c.spool_fsync, PROTO_FSYNC_SECOND);
    ck_assert_int_eq(c.allow_eviction, 0);
    ck_assert_int_eq(c.max_header_bytes, 8192);
    ck_assert_int_eq(c.max_body_bytes, 65536);
}
END_TEST

START_TEST(precedence)
{
    /* env < file < flags */
    proto_conf c;
    char err[256];
    int rest[8], nrest;
    const char *file = tmpfile_with("# comment\n  spool_dir = /from/file  \nthreads=3\n\nprefix = f:\n");
    setenv("AG_SPOOL_DIR", "/from/env", 1);
    setenv("AG_THREADS", "2", 1);
    setenv("AG_PARTITIONS", "4", 1);
    char *argv[] = {"prog", "--config", (char *)file, "--threads", "5", "--store-ip=none",
                    "verb", "--json", NULL};
    ck_assert_int_eq(sys_conf_load(&c, 8, argv, rest, 8, &nrest, err, sizeof err), 0);
    ck_assert_str_eq(c.spool_dir, "/from/file");
    ck_assert_int_eq(c.threads, 5);
    ck_assert_int_eq(c.partitions, 4);
    ck_assert_str_eq(c.prefix, "f:");
    ck_assert_int_eq(c.store_ip, PROTO_STORE_IP_NONE);
    ck_assert_int_eq(nrest, 2);
    ck_assert_str_eq(argv[rest[0]], "verb");
    ck_assert_str_eq(argv[rest[1]], "--json");
    unsetenv("AG_SPOOL_DIR");
    unsetenv("AG_THREADS");
    unsetenv("AG_PARTITIONS");
    unlink(file);
}
END_TEST

/* Loads argv and expects failure with an error naming key. */
static void expect_bad(char *flag, char *value, const char *key)
{
    proto_conf c;
    char err[256] = "";
    int rest[4], nrest;
    char *argv[] = {"prog", flag, value, NULL};
    ck_assert_int_eq(sys_conf_load(&c, 3, argv, rest, 4, &nrest, err, sizeof err), -1);
    ck_assert_msg(strstr(err, key) != NULL, "error '%s' does not name %s", err, key);
    ck_assert_ptr_null(strchr(err, '\n'));
}

START_TEST(bad_values_name_the_key)
{
    expect_bad("--partitions", "-1", "partitions");
    expect_bad("--partitions", "12x", "partitions");
    expect_bad("--threads", "", "threads");
    expect_bad("--require-signature", "sometimes", "require_signature");
    expect_bad("--store-ip", "hashed", "store_ip");
    expect_bad("--honor-gpc", "maybe", "honor_gpc");
    expect_bad("--spool-fsync", "sometimes", "spool_fsync");
    expect_bad("--allow-eviction", "perhaps", "allow_eviction");
    expect_bad("--listen", "8080", "listen");
    expect_bad("--redis", "http://x", "redis");
    expect_bad("--redis", "redis://h:99999", "redis");
    expect_bad("--trusted-proxies", "10.0.0.0/33", "trusted_proxies");
    expect_bad("--webhook", "ftp://x", "webhook");
    expect_bad("--prefix", "a{b", "prefix");
    expect_bad("--log-level", "loud", "log_level");
    expect_bad("--spool-max-bytes", "-1", "spool_max_bytes");
    expect_bad("--redirect-allow", "example.org, .", "redirect_allow");
    expect_bad("--redirect-allow", "example.org,,x.org", "redirect_allow");
    expect_bad("--redirect-allow", "evil/path", "redirect_allow");
    expect_bad("--webhook-format", "teamz", "webhook_format");
    expect_bad("--webhook-format", "", "webhook_format");
    expect_bad("--alert-email-to", "ops@example.org, nobody", "alert_email_to");
    expect_bad("--alert-email-to", "a@b.org,", "alert_email_to");
    expect_bad("--alert-email-to", "<a@b.org>", "alert_email_to");
    expect_bad("--alert-email-from", "a@b.org, c@d.org", "alert_email_from");
    expect_bad("--alert-email-from", "x@y", "alert_email_from");
    expect_bad("--smtp-url", "http://mail.example.org", "smtp_url");
    expect_bad("--smtp-url", "smtp://", "smtp_url");
    expect_bad("--smtp-url", "smtps://u:p@", "smtp_url");
}
END_TEST

START_TEST(alert_keys)
{
    proto_conf c;
    char err[256];
    proto_conf_defaults(&c);
    ck_assert_int_eq(c.webhook_format, PROTO_WH_AUTO);
    ck_assert_str_eq(c.alert_email_to, "");
    ck_assert_str_eq(c.alert_email_from, "");
    ck_assert_str_eq(c.smtp_url, "smtp://localhost:25");
    ck_assert_int_eq(proto_conf_set(&c, "webhook_format", "ntfy", err, sizeof err), 0);
    ck_assert_int_eq(c.webhook_format, PROTO_WH_NTFY);
    ck_assert_int_eq(proto_conf_set(&c, "webhook_format", "slack!", err, sizeof err), -1);
    ck_assert_str_eq(err, "config: webhook_format=slack!: must be one of auto | slack | discord | "
                          "teams | ntfy | json");
    ck_assert_int_eq(proto_conf_set(&c, "alert_email_to", "ops@example.org, Zoe.M+ag@mail.example.net",
                                    err, sizeof err), 0);
    ck_assert_int_eq(proto_conf_set(&c, "alert_email_from", "alerts@example.org", err, sizeof err), 0);
    ck_assert_int_eq(proto_conf_set(&c, "smtp_url", "smtps://u%40x:p@mail.example.org:465", err,
                                    sizeof err), 0);
    ck_assert_int_eq(proto_conf_set(&c, "smtp_url", "smtp://[::1]:2525", err, sizeof err), 0);
    ck_assert_int_eq(proto_conf_emails("a@b.org", 1), 1);
    ck_assert_int_eq(proto_conf_emails("a@b.org, c@d.org", 1), -1);
    ck_assert_int_eq(proto_conf_emails("a@b.org, c@d.org", 5), 2);
    ck_assert_int_eq(proto_conf_emails("a b@c.org", 5), -1);
    ck_assert_int_eq(proto_conf_emails("a@b.org\r\nBcc: x@y.org", 5), -1);
}
END_TEST

START_TEST(file_errors)
{
    proto_conf c;
    char err[256];
    int rest[4], nrest;
    const char *file = tmpfile_with("threads = 2\nno_such_key = 1\n");
    char *argv[] = {"prog", "--config", (char *)file, NULL};
    ck_assert_int_eq(sys_conf_load(&c, 3, argv, rest, 4, &nrest, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "no_such_key"));
    ck_assert_ptr_nonnull(strstr(err, ":2"));
    unlink(file);
    char *argv2[] = {"prog", "--config", "/nonexistent/ag.conf", NULL};
    ck_assert_int_eq(sys_conf_load(&c, 3, argv2, rest, 4, &nrest, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "config"));
    setenv("AG_PARTITIONS", "zero", 1);
    char *argv3[] = {"prog", NULL};
    ck_assert_int_eq(sys_conf_load(&c, 1, argv3, rest, 4, &nrest, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "AG_PARTITIONS"));
    unsetenv("AG_PARTITIONS");
}
END_TEST

START_TEST(hostport_and_cidrs)
{
    char host[64];
    int port = 0;
    ck_assert_int_eq(proto_conf_hostport("127.0.0.1:8080", host, sizeof host, &port), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 8080);
    ck_assert_int_eq(proto_conf_hostport("[::1]:9", host, sizeof host, &port), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(port, 9);
    ck_assert_int_eq(proto_conf_hostport(":80", host, sizeof host, &port), 0);
    ck_assert_str_eq(host, "");
    ck_assert_int_eq(proto_conf_hostport("nohost", host, sizeof host, &port), -1);
    proto_conf c;
    char err[128];
    proto_conf_defaults(&c);
    ck_assert_int_eq(proto_conf_set(&c, "trusted_proxies", "10.0.0.0/8, 192.168.1.1", err, sizeof err), 0);
    ck_assert_int_eq(c.trusted_proxies.n, 2);
    ck_assert_int_eq(proto_conf_set(&c, "redis", "unix:///run/redis.sock", err, sizeof err), 0);
    ck_assert_int_eq(proto_conf_set(&c, "redis", "redis://u:p@h:1/2", err, sizeof err), 0);
    ck_assert_int_eq(proto_conf_set(&c, "redirect_allow", "www.example.org, .example.net", err, sizeof err), 0);
    ck_assert_int_eq(proto_conf_set(&c, "redirect_allow", "", err, sizeof err), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("proto_conf");
    TCase *tc = tcase_create("conf");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, precedence);
    tcase_add_test(tc, bad_values_name_the_key);
    tcase_add_test(tc, alert_keys);
    tcase_add_test(tc, file_errors);
    tcase_add_test(tc, hostport_and_cidrs);
    suite_add_tcase(s, tc);
    return unit_run(s);
}

/* test_agg_alert_format.c: unit tests of aggregator/alert_format.c and alert_mail.c — each webhook format byte for byte, escaping, Discord's cap, the auto table, the dashboard link and the e-mail message.
 *
 * The documented minimum of each format, which the fixtures below follow:
 *  - slack:   {"text": …} — Slack, "Sending messages using incoming webhooks",
 *             https://api.slack.com/messaging/webhooks (curl -d '{"text":"Hello, World!"}');
 *             also what Mattermost and Discord's …/slack URL accept.
 *  - discord: {"content": …}, at most 2000 characters — Discord developer docs, Webhook
 *             resource, "Execute Webhook",
 *             https://discord.com/developers/docs/resources/webhook#execute-webhook
 *  - teams:   {"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive",
 *             "contentUrl":null,"content":{AdaptiveCard}}]} — Microsoft Teams docs, "Create
 *             Incoming Webhooks" / Workflows "Send webhook alerts to a channel",
 *             https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-incoming-webhook
 *             (source: github.com/MicrosoftDocs/msteams-docs, msteams-platform/webhooks-and-connectors/how-to/add-incoming-webhook.md);
 *             the AdaptiveCard schema http://adaptivecards.io/schemas/adaptive-card.json, version 1.4.
 *  - ntfy:    the message as a plain POST body, headers Title, Priority (min|low|default|high|max),
 *             Tags, Click — ntfy docs, "Publishing", https://docs.ntfy.sh/publish/ ; non-ASCII
 *             header values as RFC 2047 encoded-words (github.com/binwiederhier/ntfy/issues/737).
 *  - json:    every alert field and `text` (actiongap's own body, SPEC 4).
 *  - e-mail:  RFC 5322 (Date, line length 998), RFC 2047 (encoded-words), RFC 2045 (MIME). */
#include "alert_format.h"
#include "webhook.h"

#include <check.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "guard.h"

#define NF(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const od_names[] = {"kind", "campaign", "subject", "signup_ts", "waited_s",
                                       "sla_s", "ts", "name"};
static const char *const od_values[] = {"followup_overdue", "spring", "s-1042", "1732000000123",
                                        "1020", "900", "1732001020456", "Spring appeal"};
static const char *const rs_names[] = {"kind", "campaign", "subject", "signup_ts", "waited_s",
                                       "sla_s", "ts", "followup_ts"};
static const char *const rs_values[] = {"followup_resolved", "spring", "s-7", "1000", "7500",
                                        "3600", "9000", "8500"};
#define LINK "https://dash.example.org/c/spring#pending"

/* Builds alert a in format f; fails the test if it does not build. */
static void build(proto_webhook_format f, const agg_alert *a, agg_alert_msg *m)
{
    ck_assert_int_eq(agg_alert_build(f, a, m), 0);
    ck_assert_uint_eq(m->len, strlen(m->body));
}

/* Writes the expected Teams envelope: title, text, the four facts
 * (campaign, subject, waited, SLA) and the Open URL action if link; cannot fail. */
static void teams_want(char *out, size_t cap, const char *title, const char *text,
                       const char *const facts[4], const char *link)
{
    char act[512] = "";
    if (link)
        snprintf(act, sizeof act, ",\"actions\":[{\"type\":\"Action.OpenUrl\",\"title\":"
                 "\"Open the pending follow-ups\",\"url\":\"%s\"}]", link);
    snprintf(out, cap,
             "{\"type\":\"message\",\"attachments\":[{\"contentType\":\"application/vnd.microsoft.card.adaptive\","
             "\"contentUrl\":null,\"content\":{\"$schema\":\"http://adaptivecards.io/schemas/adaptive-card.json\","
             "\"type\":\"AdaptiveCard\",\"version\":\"1.4\",\"body\":["
             "{\"type\":\"TextBlock\",\"text\":\"%s\",\"weight\":\"Bolder\",\"size\":\"Medium\",\"wrap\":true},"
             "{\"type\":\"TextBlock\",\"text\":\"%s\",\"wrap\":true},"
             "{\"type\":\"FactSet\",\"facts\":[{\"title\":\"Campaign\",\"value\":\"%s\"},"
             "{\"title\":\"Subject\",\"value\":\"%s\"},{\"title\":\"Waited\",\"value\":\"%s\"},"
             "{\"title\":\"SLA\",\"value\":\"%s\"}]}]%s}}]}",
             title, text, facts[0], facts[1], facts[2], facts[3], act);
}

/* Checks every format's body of an overdue alert with a link; fails on any difference. */
START_TEST(formats_overdue)
{
    agg_alert a = {NF(od_names), od_names, od_values, LINK};
    agg_alert_msg m;
    const char *text = "Signup s-1042 (Spring appeal) has waited 17 min for follow-up; SLA 15 min";
    char want[2048];

    build(PROTO_WH_SLACK, &a, &m);
    snprintf(want, sizeof want, "{\"text\":\"%s\\n" LINK "\"}", text);
    ck_assert_str_eq(m.body, want);
    ck_assert_str_eq(m.ctype, "application/json");
    ck_assert_int_eq(m.nhdr, 0);
    agg_alert_msg_free(&m);

    build(PROTO_WH_DISCORD, &a, &m);
    snprintf(want, sizeof want, "{\"content\":\"%s\\n" LINK "\"}", text);
    ck_assert_str_eq(m.body, want);
    agg_alert_msg_free(&m);

    build(PROTO_WH_TEAMS, &a, &m);
    teams_want(want, sizeof want, "Follow-up overdue: Spring appeal", text,
               (const char *[]){"Spring appeal", "s-1042", "17 min", "15 min"}, LINK);
    ck_assert_str_eq(m.body, want);
    agg_alert_msg_free(&m);

    build(PROTO_WH_NTFY, &a, &m);
    snprintf(want, sizeof want, "%s\n" LINK, text);
    ck_assert_str_eq(m.body, want);
    ck_assert_str_eq(m.ctype, "text/plain; charset=utf-8");
    ck_assert_int_eq(m.nhdr, 4);
    ck_assert_str_eq(m.hdr[0], "Title: Follow-up overdue: Spring appeal");
    ck_assert_str_eq(m.hdr[1], "Priority: high");
    ck_assert_str_eq(m.hdr[2], "Tags: warning");
    ck_assert_str_eq(m.hdr[3], "Click: " LINK);
    agg_alert_msg_free(&m);

    build(PROTO_WH_JSON, &a, &m);
    snprintf(want, sizeof want,
             "{\"kind\":\"followup_overdue\",\"campaign\":\"spring\",\"subject\":\"s-1042\","
             "\"signup_ts\":1732000000123,\"waited_s\":1020,\"sla_s\":900,\"ts\":1732001020456,"
             "\"name\":\"Spring appeal\",\"link\":\"" LINK "\",\"text\":\"%s\"}", text);
    ck_assert_str_eq(m.body, want);
    agg_alert_msg_free(&m);
}
END_TEST

/* Checks every format's body of a resolved alert without a link; fails on any difference. */
START_TEST(formats_resolved)
{
    agg_alert a = {NF(rs_names), rs_names, rs_values, NULL};
    agg_alert_msg m;
    const char *text = "Signup s-7 (spring) was followed up after 2 h 5 min; SLA 1 h";
    char want[2048];

    build(PROTO_WH_SLACK, &a, &m);
    snprintf(want, sizeof want, "{\"text\":\"%s\"}", text);
    ck_assert_str_eq(m.body, want);
    agg_alert_msg_free(&m);

    build(PROTO_WH_DISCORD, &a, &m);
    snprintf(want, sizeof want, "{\"content\":\"%s\"}", text);
    ck_assert_str_eq(m.body, want);
    agg_alert_msg_free(&m);

    build(PROTO_WH_TEAMS, &a, &m);
    teams_want(want, sizeof want, "Followed up late: spring", text,
               (const char *[]){"spring", "s-7", "2 h 5 min", "1 h"}, NULL);
    ck_assert_str_eq(m.body, want);
    agg_alert_msg_free(&m);

    build(PROTO_WH_NTFY, &a, &m);
    ck_assert_str_eq(m.body, text);
    ck_assert_int_eq(m.nhdr, 3);
    ck_assert_str_eq(m.hdr[0], "Title: Followed up late: spring");
    ck_assert_str_eq(m.hdr[1], "Priority: default");
    ck_assert_str_eq(m.hdr[2], "Tags: white_check_mark");
    agg_alert_msg_free(&m);

    build(PROTO_WH_JSON, &a, &m);
    snprintf(want, sizeof want,
             "{\"kind\":\"followup_resolved\",\"campaign\":\"spring\",\"subject\":\"s-7\","
             "\"signup_ts\":1000,\"waited_s\":7500,\"sla_s\":3600,\"ts\":9000,\"followup_ts\":8500,"
             "\"text\":\"%s\"}", text);
    ck_assert_str_eq(m.body, want);
    agg_alert_msg_free(&m);
    /* auto builds json; the old entry point gives the same bytes */
    build(PROTO_WH_AUTO, &a, &m);
    ck_assert_str_eq(m.body, want);
    agg_alert_msg_free(&m);
    char out[1024];
    ck_assert_int_eq(agg_webhook_body(NF(rs_names), rs_names, rs_values, out, sizeof out),
                     (long)strlen(want));
    ck_assert_str_eq(out, want);
}
END_TEST

/* Checks quotes, newlines, control bytes and invalid UTF-8 in every format; fails otherwise. */
START_TEST(escaping)
{
    const char *names[] = {"kind", "campaign", "subject", "waited_s", "sla_s"};
    const char *values[] = {"followup_overdue", "c", "a\"b\nc\001\xff\xc3\xa9", "45", "60"};
    agg_alert a = {NF(names), names, values, NULL};
    agg_alert_msg m;
    const char *esc = "a\\\"b\\nc\\u0001\\ufffd\xc3\xa9";
    char want[512];

    build(PROTO_WH_SLACK, &a, &m);
    snprintf(want, sizeof want, "{\"text\":\"Signup %s (c) has waited 45 s for follow-up; SLA 1 min\"}", esc);
    ck_assert_str_eq(m.body, want);
    agg_alert_msg_free(&m);
    build(PROTO_WH_TEAMS, &a, &m);
    snprintf(want, sizeof want, "{\"title\":\"Subject\",\"value\":\"%s\"}", esc);
    ck_assert_ptr_nonnull(strstr(m.body, want));
    ck_assert_ptr_null(strchr(m.body, '\n'));
    agg_alert_msg_free(&m);
    /* ntfy: a plain body made valid UTF-8; the header without a line break */
    build(PROTO_WH_NTFY, &a, &m);
    ck_assert_str_eq(m.body, "Signup a\"b\nc\001\xef\xbf\xbd\xc3\xa9 (c) has waited 45 s for follow-up; SLA 1 min");
    agg_alert_msg_free(&m);
    const char *n2[] = {"kind", "campaign", "subject", "waited_s", "sla_s", "name"};
    const char *v3[] = {"followup_overdue", "c", "x", "45", "60", "Zoë\r\nX-Evil: 1"};
    agg_alert b = {NF(n2), n2, v3, NULL};
    build(PROTO_WH_NTFY, &b, &m);
    ck_assert_str_eq(m.hdr[0], "Title: =?UTF-8?B?Rm9sbG93LXVwIG92ZXJkdWU6IFpvw6sgIFgtRXZpbDogMQ==?=");
    ck_assert_ptr_null(strpbrk(m.hdr[0], "\r\n"));
    agg_alert_msg_free(&m);
    /* a line break in an ASCII title becomes a space */
    const char *v4[] = {"followup_overdue", "c", "x", "45", "60", "a\r\nX-Evil: 1"};
    b.values = v4;
    build(PROTO_WH_NTFY, &b, &m);
    ck_assert_str_eq(m.hdr[0], "Title: Follow-up overdue: a  X-Evil: 1");
    agg_alert_msg_free(&m);
}
END_TEST

/* Counts the characters of UTF-8 text s; cannot fail. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Checks Discord's content is cut to 2000 characters with "…", and left whole below; fails otherwise. */
START_TEST(discord_cap)
{
    static char subject[8000];
    const char *names[] = {"kind", "campaign", "subject", "waited_s", "sla_s"};
    const char *values[] = {"followup_overdue", "c", subject, "45", "60"};
    agg_alert a = {NF(names), names, values, LINK};
    agg_alert_msg m;
    for (int multi = 0; multi < 2; multi++) {
        subject[0] = 0;
        for (int i = 0; i < 2500; i++)
            strcat(subject, multi ? "\xc3\xa9" : "x");
        build(PROTO_WH_DISCORD, &a, &m);
        ck_assert_ptr_eq(strstr(m.body, "{\"content\":\"Signup "), m.body);
        const char *end = m.body + m.len - 2;
        ck_assert_str_eq(end, "\"}");
        char *content = strndup(m.body + 12, m.len - 14);
        ck_assert_uint_eq(chars(content), 2000);
        ck_assert_str_eq(content + strlen(content) - 3, "\xe2\x80\xa6");
        free(content);
        agg_alert_msg_free(&m);
    }
    /* 1000 characters of subject: sent whole, with the link */
    memset(subject, 'y', 1000);
    subject[1000] = 0;
    build(PROTO_WH_DISCORD, &a, &m);
    ck_assert_ptr_nonnull(strstr(m.body, "\\n" LINK "\"}"));
    ck_assert_ptr_null(strstr(m.body, "\xe2\x80\xa6"));
    agg_alert_msg_free(&m);
}
END_TEST

/* Checks the auto table; fails on a wrong pick. */
START_TEST(detect_table)
{
    static const struct {
        const char *url;
        proto_webhook_format want;
    } cases[] = {
        {"https://hooks.slack.com/services/T0/B0/XXX", PROTO_WH_SLACK},
        {"https://HOOKS.SLACK.COM/services/T0/B0/XXX", PROTO_WH_SLACK},
        {"https://discord.com/api/webhooks/123/abc", PROTO_WH_DISCORD},
        {"https://discordapp.com/api/webhooks/123/abc?wait=true", PROTO_WH_DISCORD},
        {"https://ptb.discord.com/api/webhooks/123/abc", PROTO_WH_DISCORD},
        {"https://discord.com/api/webhooks/123/abc/slack", PROTO_WH_SLACK},
        {"https://discord.com/api/webhooks/123/abc/slack?wait=true", PROTO_WH_SLACK},
        {"https://discord.com/other/path", PROTO_WH_JSON},
        {"https://notdiscord.com/api/webhooks/1/a", PROTO_WH_JSON},
        {"https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x", PROTO_WH_TEAMS},
        {"https://default1234.environment.api.powerplatform.com/powerautomate/automations/direct/workflows/x", PROTO_WH_TEAMS},
        {"https://contoso.webhook.office.com/webhookb2/abc", PROTO_WH_TEAMS},
        {"https://logic.azure.com.evil.example/x", PROTO_WH_JSON},
        {"https://ntfy.sh/mytopic", PROTO_WH_NTFY},
        {"https://ntfy.example.org/mytopic", PROTO_WH_JSON},
        {"http://127.0.0.1:9000/hook", PROTO_WH_JSON},
        {"https://chat.example.org/hooks/xyz", PROTO_WH_JSON},
        {"", PROTO_WH_JSON},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(agg_alert_detect(cases[i].url) == cases[i].want, "%s: got %d, want %d",
                      cases[i].url, agg_alert_detect(cases[i].url), cases[i].want);
    ck_assert_int_eq(agg_alert_format_parse("teams"), PROTO_WH_TEAMS);
    ck_assert_int_eq(agg_alert_format_parse("auto"), PROTO_WH_AUTO);
    ck_assert_int_eq(agg_alert_format_parse("Teams"), -1);
    ck_assert_int_eq(agg_alert_format_parse(""), -1);
}
END_TEST

/* Checks the pending-list link: encoded name, trailing slashes, none without a dashboard; fails otherwise. */
START_TEST(dashboard_link)
{
    char out[256];
    ck_assert_int_eq(agg_alert_link(out, sizeof out, "https://dash.example.org/", "spring"), 0);
    ck_assert_str_eq(out, LINK);
    ck_assert_int_eq(agg_alert_link(out, sizeof out, "https://d.example.org/ag//", "a b/é"), 0);
    ck_assert_str_eq(out, "https://d.example.org/ag/c/a%20b%2F%C3%A9#pending");
    ck_assert_int_eq(agg_alert_link(out, sizeof out, "", "spring"), -1);
    ck_assert_int_eq(agg_alert_link(out, 20, "https://dash.example.org", "spring"), -1);
}
END_TEST

/* ---- e-mail ---- */

/* Returns the value of header name in message m (unfolded, malloc'd), or NULL. */
static char *header(const char *m, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "%s: ", name);
    const char *end = strstr(m, "\r\n\r\n");
    for (const char *p = m; p && p < end; p = strstr(p, "\r\n") + 2) {
        if (strncmp(p, key, strlen(key)) != 0)
            continue;
        char *v = calloc(1, 4096);
        const char *q = p + strlen(key);
        for (;;) {
            size_t n = strcspn(q, "\r");
            strncat(v, q, n);
            q += n + 2;
            if (*q != ' ' && *q != '\t')
                return v;
        }
    }
    return NULL;
}

/* Decodes a header value of RFC 2047 B encoded-words (separated by white space) into out; fails on a malformed word. */
static void decode_words(const char *v, char *out)
{
    out[0] = 0;
    while (*v) {
        while (*v == ' ')
            v++;
        ck_assert_int_eq(strncmp(v, "=?UTF-8?B?", 10), 0);
        const char *e = strstr(v + 10, "?=");
        ck_assert_ptr_nonnull(e);
        ck_assert_int_le(e + 2 - v, 75);    /* RFC 2047 2: at most 75 characters */
        unsigned char dec[128];
        int n = EVP_DecodeBlock(dec, (const unsigned char *)v + 10, (int)(e - v - 10));
        ck_assert_int_ge(n, 0);
        n -= (e[-1] == '=') + (e[-2] == '=');   /* padding decodes as NULs */
        strncat(out, (const char *)dec, (size_t)n);
        v = strstr(v + 10, "?=") + 2;
    }
}

/* Checks every line ends in CRLF (no bare CR or LF) and fits max bytes; fails otherwise. */
static void check_lines(const char *m, size_t len, size_t max)
{
    ck_assert_uint_eq(strlen(m), len);
    ck_assert_int_eq(memcmp(m + len - 2, "\r\n", 2), 0);
    for (const char *p = m; *p;) {
        size_t n = strcspn(p, "\r\n");
        ck_assert_msg(n <= max, "a line of %zu bytes", n);
        ck_assert_msg(p[n] == '\r' && p[n + 1] == '\n', "a bare CR or LF after %.20s", p);
        p += n + 2;
    }
}

/* Checks an ASCII alert's message: every header, CRLF, 8bit body; fails otherwise. */
START_TEST(mail_ascii)
{
    agg_alert a = {NF(od_names), od_names, od_values, LINK};
    size_t len = 0;
    char *m = agg_alert_mail(&a, "1732001020456-0", "actiongap@example.org", "a@x.org, b@y.org",
                             1764646114, &len);
    ck_assert_ptr_nonnull(m);
    check_lines(m, len, 78);
    const char *want =
        "Date: Tue, 02 Dec 2025 03:28:34 +0000\r\n"
        "From: actiongap@example.org\r\n"
        "To: a@x.org, b@y.org\r\n"
        "Subject: [actiongap] Follow-up overdue: Spring appeal\r\n"
        "Message-ID: <actiongap.alert.1732001020456-0@example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Auto-Submitted: auto-generated\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Signup s-1042 (Spring appeal) has waited 17 min for follow-up; SLA 15 min.\r\n"
        "\r\n"
        "Campaign: Spring appeal (spring)\r\n"
        "Subject: s-1042\r\n"
        "Waited (s): 1020\r\n"
        "SLA (s): 900\r\n"
        "Pending follow-ups: " LINK "\r\n"
        "\r\n"
        "-- \r\n"
        "actiongap alert 1732001020456-0\r\n";
    ck_assert_str_eq(m, want);
    /* a retry an hour later: another Date, the same Message-ID */
    size_t len2;
    char *m2 = agg_alert_mail(&a, "1732001020456-0", "actiongap@example.org", "a@x.org, b@y.org",
                              1764646114 + 3600, &len2);
    char *id1 = header(m, "Message-ID"), *id2 = header(m2, "Message-ID");
    char *d2 = header(m2, "Date");
    ck_assert_str_eq(id1, id2);
    ck_assert_str_eq(d2, "Tue, 02 Dec 2025 04:28:34 +0000");
    free(id1);
    free(id2);
    free(d2);
    free(m2);
    free(m);
}
END_TEST

/* Checks a non-ASCII subject is RFC 2047 encoded and folded, the body
 * UTF-8 8bit, and a line over 998 bytes turns the body quoted-printable;
 * fails otherwise. */
START_TEST(mail_utf8_and_long)
{
    const char *values[] = {"followup_overdue", "spring", "Zoë\r\nBcc: x@evil.example", "1",
                            "1020", "900", "1", "Frühjahrsaktion für Bäume und Wälder"};
    agg_alert a = {NF(od_names), od_names, values, NULL};
    size_t len = 0;
    char *m = agg_alert_mail(&a, "1-0", "alerts@example.org", "a@x.org", 0, &len);
    check_lines(m, len, 998);
    char *head = strndup(m, (size_t)(strstr(m, "\r\n\r\n") + 2 - m));
    check_lines(head, strlen(head), 78);     /* RFC 5322 2.1.1: headers folded under 78 */
    free(head);
    char *subj = header(m, "Subject"), dec[512];
    decode_words(subj, dec);
    ck_assert_str_eq(dec, "[actiongap] Follow-up overdue: Frühjahrsaktion für Bäume und Wälder");
    ck_assert_ptr_nonnull(strstr(m, "\r\nSubject: =?UTF-8?B?"));
    ck_assert_ptr_nonnull(strstr(m, "?=\r\n =?UTF-8?B?"));     /* folded */
    char *date = header(m, "Date");
    ck_assert_str_eq(date, "Thu, 01 Jan 1970 00:00:00 +0000");
    ck_assert_ptr_null(strstr(m, "\r\nBcc:"));                  /* no header injected */
    ck_assert_ptr_nonnull(strstr(m, "\r\nSubject: Zoë  Bcc: x@evil.example\r\n"));  /* body line */
    ck_assert_ptr_nonnull(strstr(m, "Content-Transfer-Encoding: 8bit\r\n"));
    free(subj);
    free(date);
    free(m);

    /* a 3000-byte subject: quoted-printable body, every line at most 76 */
    static char big[3100];
    memset(big, 'z', 3000);
    big[3000] = 0;
    big[10] = '=';
    values[2] = big;
    m = agg_alert_mail(&a, "2-0", "alerts@example.org", "a@x.org", 0, &len);
    check_lines(m, len, 998);
    ck_assert_ptr_nonnull(strstr(m, "Content-Transfer-Encoding: quoted-printable\r\n"));
    const char *body = strstr(m, "\r\n\r\n") + 4;
    check_lines(body, strlen(body), 76);
    ck_assert_ptr_nonnull(strstr(body, "Signup zzzzzzzzzz=3Dzzz"));
    ck_assert_ptr_nonnull(strstr(body, "=\r\n"));           /* soft breaks */
    ck_assert_ptr_nonnull(strstr(body, "Fr=C3=BChjahrsaktion"));
    free(m);
}
END_TEST

/* Builds the suite; returns it. */
static Suite *format_suite(void)
{
    Suite *s = suite_create("agg_alert_format");
    TCase *f = tcase_create("webhook"), *e = tcase_create("mail");
    tcase_add_test(f, formats_overdue);
    tcase_add_test(f, formats_resolved);
    tcase_add_test(f, escaping);
    tcase_add_test(f, discord_cap);
    tcase_add_test(f, detect_table);
    tcase_add_test(f, dashboard_link);
    tcase_add_test(e, mail_ascii);
    tcase_add_test(e, mail_utf8_and_long);
    suite_add_tcase(s, f);
    suite_add_tcase(s, e);
    return s;
}

/* Runs the suite; returns non-zero if a test failed. */
int main(void)
{
    return unit_run(format_suite());
}

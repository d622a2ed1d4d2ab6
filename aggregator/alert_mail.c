/* alert_mail.c: the e-mail message of an alert — RFC 5322 headers, RFC 2047 subject, UTF-8 body in 8bit or quoted-printable with CRLF lines; no I/O. */
#include "alert_format.h"
#include "webhook_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 998      /* RFC 5322 2.1.1, without the CRLF */
#define QP_LINE 76              /* RFC 2045 6.7 */

/* Writes an RFC 5322 date ("Wed, 02 Dec 2026 03:28:34 +0000") of now_s into
 * out (cap >= 32); cannot fail. */
static void rfc5322_date(char *out, size_t cap, int64_t now_s)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)now_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Appends body (LF lines) to b as quoted-printable with CRLF hard breaks
 * and soft breaks before 76 characters; cannot fail (see b->oom). */
static void put_qp(proto_buf *b, const char *body)
{
    size_t col = 0;
    for (const unsigned char *p = (const unsigned char *)body; *p; p++) {
        char enc[4];
        if (*p == '\n') {
            proto_buf_printf(b, "\r\n");
            col = 0;
            continue;
        }
        int lit = (*p >= 33 && *p <= 126 && *p != '=') ||
                  ((*p == ' ' || *p == '\t') && p[1] && p[1] != '\n');
        if (lit)
            snprintf(enc, sizeof enc, "%c", *p);
        else
            snprintf(enc, sizeof enc, "=%02X", *p);
        if (col + strlen(enc) > QP_LINE - 1) {
            proto_buf_printf(b, "=\r\n");
            col = 0;
        }
        proto_buf_printf(b, "%s", enc);
        col += strlen(enc);
    }
}

/* Reports whether every line of text (LF-separated) fits in 998 bytes; cannot fail. */
static int lines_fit(const char *text)
{
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        if (n > LINE_MAX_BYTES)
            return 0;
        p += n + (p[n] == '\n');
    }
    return 1;
}

/* Appends "label: value" (value made valid UTF-8, control characters as
 * spaces) and a line feed to b; cannot fail. */
static void body_line(proto_buf *b, const char *label, const char *value)
{
    proto_buf_printf(b, "%s: ", label);
    agg_alert_utf8(b, value ? value : "?", 1);
    proto_buf_printf(b, "\n");
}

/* Writes the plain-text body (LF lines) of a into b; cannot fail (see b->oom). */
static void mail_body(proto_buf *b, const agg_alert *a, const char *alert_id)
{
    proto_buf t;
    const char *c = agg_webhook_field(a->n, a->names, a->values, "campaign");
    const char *name = agg_webhook_field(a->n, a->names, a->values, "name");
    proto_buf_init(&t);
    agg_alert_text(&t, a);
    agg_alert_utf8(b, t.data ? t.data : "", 1);
    proto_buf_free(&t);
    proto_buf_printf(b, ".\n\n");
    if (name && *name && c && strcmp(name, c) != 0) {
        proto_buf_printf(b, "Campaign: ");
        agg_alert_utf8(b, name, 1);
        proto_buf_printf(b, " (");
        agg_alert_utf8(b, c, 1);
        proto_buf_printf(b, ")\n");
    } else {
        body_line(b, "Campaign", c);
    }
    body_line(b, "Subject", agg_webhook_field(a->n, a->names, a->values, "subject"));
    body_line(b, "Waited (s)", agg_webhook_field(a->n, a->names, a->values, "waited_s"));
    body_line(b, "SLA (s)", agg_webhook_field(a->n, a->names, a->values, "sla_s"));
    if (a->link && *a->link)
        body_line(b, "Pending follow-ups", a->link);
    proto_buf_printf(b, "\n-- \nactiongap alert %s\n", alert_id);
}

/* Writes the sender of actiongap's mail into out. */
void agg_mail_from(char *out, size_t cap, const proto_conf *conf)
{
    char host[256] = "localhost";
    if (conf->alert_email_from[0]) {
        snprintf(out, cap, "%s", conf->alert_email_from);
        return;
    }
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    snprintf(out, cap, "actiongap@%s", host);
}

/* Builds a plain-text e-mail. Returns it (malloc'd, *len bytes), or NULL out of memory. */
char *agg_mail_message(const char *from, const char *to, const char *subject, const char *body,
                       const char *msgid, int64_t now_s, size_t *len)
{
    proto_buf m;
    char date[48];
    const char *domain = strrchr(from, '@');
    proto_buf_init(&m);
    rfc5322_date(date, sizeof date, now_s);
    proto_buf_printf(&m, "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: ", date, from, to);
    int bad = agg_alert_header_value(&m, subject, "\r\n ", 900) < 0;
    proto_buf_printf(&m, "\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n"
                     "Auto-Submitted: auto-generated\r\n", msgid, domain ? domain + 1 : "actiongap");
    if (lines_fit(body)) {
        proto_buf_printf(&m, "Content-Transfer-Encoding: 8bit\r\n\r\n");
        for (const char *p = body; *p;) {
            size_t n = strcspn(p, "\n");
            proto_buf_printf(&m, "%.*s\r\n", (int)n, p);
            p += n + (p[n] == '\n');
        }
    } else {
        proto_buf_printf(&m, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        put_qp(&m, body);
    }
    if (bad || m.oom || !m.data) {
        proto_buf_free(&m);
        return NULL;
    }
    *len = m.len;
    return m.data;
}

/* Builds the e-mail of an alert. Returns it (malloc'd, *len bytes), or NULL out of memory. */
char *agg_alert_mail(const agg_alert *a, const char *alert_id, const char *from, const char *to,
                     int64_t now_s, size_t *len)
{
    proto_buf subj, body;
    char msgid[128];
    char *m = NULL;
    proto_buf_init(&subj);
    proto_buf_init(&body);
    proto_buf_printf(&subj, "[actiongap] ");
    agg_alert_title(&subj, a);
    mail_body(&body, a, alert_id);
    snprintf(msgid, sizeof msgid, "actiongap.alert.%s", alert_id);
    if (!subj.oom && !body.oom && subj.data && body.data)
        m = agg_mail_message(from, to, subj.data, body.data, msgid, now_s, len);
    proto_buf_free(&subj);
    proto_buf_free(&body);
    return m;
}

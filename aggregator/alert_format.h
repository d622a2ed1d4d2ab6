/* alert_format.h: what an alert says on each channel — the webhook bodies
 * (slack, discord, teams, ntfy, json), the choice of one from the URL, the
 * dashboard link, and the e-mail message. Pure: no I/O, the caller passes
 * the time and the host. */
#ifndef AGG_ALERT_FORMAT_H
#define AGG_ALERT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "prom.h"

/* One alert: the fields of its stream entry (kind, campaign, subject,
 * waited_s, sla_s, name, …) and the link to its campaign's pending list. */
typedef struct {
    int n;
    const char *const *names, *const *values;
    const char *link;           /* NULL or "": none */
} agg_alert;

#define AGG_ALERT_HDRS 4

/* A webhook request built for one format. */
typedef struct {
    char *body;                 /* malloc'd, NUL-terminated */
    size_t len;
    const char *ctype;          /* Content-Type */
    int nhdr;                   /* extra header lines (ntfy), "Name: value" */
    char *hdr[AGG_ALERT_HDRS];
} agg_alert_msg;

/* Returns the format a webhook URL gets under `auto`: slack for
 * hooks.slack.com and Discord's /slack URLs, discord for Discord's
 * /api/webhooks/, teams for Power Automate / Logic Apps / Office hosts,
 * ntfy for ntfy.sh, json otherwise. Never PROTO_WH_AUTO. */
proto_webhook_format agg_alert_detect(const char *url);

/* Returns the format named name (proto_webhook_format_names), or -1. */
int agg_alert_format_parse(const char *name);

/* Writes the URL of a campaign's pending follow-ups on the dashboard
 * (<dashboard_url>/c/<campaign>#pending) into out. Returns 0, or -1 when
 * dashboard_url is empty or out (cap bytes) is too small. */
int agg_alert_link(char *out, size_t cap, const char *dashboard_url, const char *campaign);

/* Builds the webhook request of alert a in format f (auto: json). Returns
 * 0, or -1 out of memory (m is then empty). */
int agg_alert_build(proto_webhook_format f, const agg_alert *a, agg_alert_msg *m);

/* Frees what agg_alert_build made; cannot fail. */
void agg_alert_msg_free(agg_alert_msg *m);

/* Builds the e-mail of alert a (alert_id: its stream id) from `from` to the
 * comma-separated `to`, dated now_s (Unix seconds): RFC 5322 headers (Date,
 * From, To, Subject as RFC 2047 encoded-words when not plain ASCII, a
 * Message-ID stable per alert id, MIME) and a UTF-8 body, 8bit or
 * quoted-printable, CRLF lines of at most 998 bytes. Returns the message
 * (malloc'd, *len bytes), or NULL out of memory. */
char *agg_alert_mail(const agg_alert *a, const char *alert_id, const char *from, const char *to,
                     int64_t now_s, size_t *len);

/* Writes the sender of every mail actiongap sends into out (cap bytes):
 * alert_email_from, or actiongap@<hostname> when it is empty. */
void agg_mail_from(char *out, size_t cap, const proto_conf *conf);

/* Builds a plain-text e-mail (body: UTF-8, LF lines) with the same
 * headers as agg_alert_mail; msgid is the local part of its Message-ID
 * (the domain is from's). Returns the message (malloc'd, *len bytes), or
 * NULL out of memory. */
char *agg_mail_message(const char *from, const char *to, const char *subject, const char *body,
                       const char *msgid, int64_t now_s, size_t *len);

/* ---- shared by the builders ---- */

/* Appends the one line a person reads ("Signup s-1 (spring) has waited 17
 * min for follow-up; SLA 15 min") to b, raw (not escaped). */
void agg_alert_text(proto_buf *b, const agg_alert *a);

/* Appends the title of a ("Follow-up overdue: spring") to b, raw. */
void agg_alert_title(proto_buf *b, const agg_alert *a);

/* Appends s to b as valid UTF-8 (an invalid byte becomes U+FFFD), control
 * characters as spaces when ctl_to_space. */
void agg_alert_utf8(proto_buf *b, const char *s, int ctl_to_space);

/* Appends s (UTF-8) as RFC 2047 "B" encoded-words of at most 75 characters,
 * separated by sep (e.g. "\r\n " to fold a header). */
void agg_alert_encoded_words(proto_buf *b, const char *s, const char *sep);

/* Appends a header value (made valid UTF-8, controls as spaces): as it is
 * when plain ASCII shorter than plain_max bytes, else as RFC 2047
 * encoded-words split by sep. Returns 0, or -1 out of memory. */
int agg_alert_header_value(proto_buf *b, const char *value, const char *sep, size_t plain_max);

#endif

/* webhook.h: delivery of alerts on their channels — a webhook (its body in
 * the campaign's webhook_format: slack, discord, teams, ntfy or json) and
 * e-mail — from a thread of its own, the transfers on libcurl side by side,
 * so that a slow or dead receiver never delays counting nor other receivers.
 *
 * Alerts are read from the alerts stream (ag:alerts) through the consumer
 * group "webhook", and acknowledged only once every channel of the alert
 * succeeded (a 2xx answer; the SMTP server took the message), so an alert
 * is delivered after a restart too; a channel that succeeded is not sent
 * again. Failed attempts are retried per channel with exponential back-off
 * (1 s doubling to 60 s), without limit. */
#ifndef AGG_WEBHOOK_H
#define AGG_WEBHOOK_H

#include <stddef.h>

#include "conf.h"
#include "metrics.h"

typedef struct agg_webhook agg_webhook;

/* Starts the delivery thread. conf and m must outlive it. The URL of an
 * alert is its campaign's `webhook` (ag:c:{C}:cfg) or else conf->webhook,
 * its format the campaign's `webhook_format` or else conf->webhook_format,
 * its e-mail recipients the campaign's `alert_email_to` or else
 * conf->alert_email_to; an alert with no channel is acknowledged unsent.
 * Returns NULL on failure (logged). */
agg_webhook *agg_webhook_new(const proto_conf *conf, agg_metrics *m);

/* Stops and joins the thread, then frees it. NULL is a no-op. */
void agg_webhook_free(agg_webhook *w);

/* Posts body (len bytes, JSON) to an http:// or https:// url with libcurl,
 * verifying HTTPS certificates (chain and host name) against the system CA
 * store (SSL_CERT_FILE/SSL_CERT_DIR override it), following no redirect,
 * through the environment's proxy if any. Waits at most timeout_ms in all.
 * Returns the HTTP status (2xx success), or -1 with a one-line reason in
 * err (cap bytes). */
int agg_webhook_post(const char *url, const char *body, size_t len, int timeout_ms, char *err,
                     size_t cap);

/* Writes the json-format body of an alert from its stream fields into out
 * (cap bytes, NUL-terminated): every field, and a `text` line a person can read,
 * e.g. "Signup s-1042 (spring-appeal) has waited 17 min for follow-up; SLA
 * 15 min". Returns the length, or -1 if it does not fit. */
long agg_webhook_body(int n, const char *const names[], const char *const values[], char *out,
                      size_t cap);

#endif

/* webhook.h: delivery of alerts to webhooks (Slack/Mattermost compatible),
 * over HTTP or HTTPS, from a thread of its own so that a slow or dead
 * receiver never delays counting.
 *
 * Alerts are read from the alerts stream (ag:alerts) through the consumer
 * group "webhook", and acknowledged only once the receiver answered 2xx, so
 * an alert is delivered after a restart too. Failed attempts are retried
 * with exponential back-off (1 s doubling to 60 s), without limit. */
#ifndef AGG_WEBHOOK_H
#define AGG_WEBHOOK_H

#include <stddef.h>

#include "conf.h"
#include "metrics.h"

typedef struct agg_webhook agg_webhook;

/* Starts the delivery thread. conf and m must outlive it. The URL of an
 * alert is its campaign's `webhook` (HGET ag:c:{C}:cfg webhook) or else
 * conf->webhook; an alert with neither is acknowledged unsent. Returns NULL
 * on failure (logged). */
agg_webhook *agg_webhook_new(const proto_conf *conf, agg_metrics *m);

/* Stops and joins the thread, then frees it. NULL is a no-op. */
void agg_webhook_free(agg_webhook *w);

/* Posts body (len bytes, JSON) to an http:// or https:// url, verifying
 * HTTPS certificates (chain and host name) against the system CA store
 * (OpenSSL's default paths; SSL_CERT_FILE/SSL_CERT_DIR override them).
 * Waits at most timeout_ms in all. Returns the HTTP status (2xx success),
 * or -1 with a one-line reason in err (cap bytes). */
int agg_webhook_post(const char *url, const char *body, size_t len, int timeout_ms, char *err,
                     size_t cap);

/* Writes the JSON body of an alert from its stream fields into out (cap
 * bytes, NUL-terminated): every field, and a `text` line a person can read,
 * e.g. "Signup s-1042 (spring-appeal) has waited 17 min for follow-up; SLA
 * 15 min". Returns the length, or -1 if it does not fit. */
long agg_webhook_body(int n, const char *const names[], const char *const values[], char *out,
                      size_t cap);

#endif

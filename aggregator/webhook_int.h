/* webhook_int.h: what webhook.c and webhook_http.c share, not part of the public API. */
#ifndef AGG_WEBHOOK_INT_H
#define AGG_WEBHOOK_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define WH_SLICE_MS 100         /* longest wait before the stop flag is looked at */

typedef struct {
    int tls, is_ip;
    char host[256];     /* without brackets */
    char port[8];
    char hosthdr[280];  /* Host header value */
    char path[2048];    /* path and query */
} wh_url;


/* Splits an http:// or https:// URL. Returns 0, or -1 with the reason in err. */
int agg_http_url_parse(const char *url, wh_url *u, char *err, size_t cap);

/* Posts body to url by the deadline, giving up when *stop (may be NULL) is
 * set. Returns the HTTP status, or -1 with the reason in err. */
int agg_http_post(const char *url, const char *body, size_t len, int timeout_ms,
                  const atomic_int *stop, char *err, size_t cap);

/* Returns the value of field name of an alert, or NULL if absent. */
const char *agg_webhook_field(int n, const char *const names[], const char *const values[],
                              const char *name);

#endif

/* xfer.h: the one HTTP(S) and SMTP client of the aggregator and the
 * `actiongap` command (webhook_curl.c): libcurl, one multi handle, reused
 * easy handles; certificates checked against the system store
 * (SSL_CERT_FILE / SSL_CERT_DIR when set), proxies from the environment,
 * no redirects. curl_global_init must have run before the first use. */
#ifndef AGG_XFER_H
#define AGG_XFER_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct agg_curl agg_curl;
typedef struct agg_xfer agg_xfer;

/* Creates the transport; stop (may be NULL) aborts its transfers. Returns
 * it, or NULL out of memory. */
agg_curl *agg_curl_new(const atomic_int *stop);

/* Frees the transport (its transfers must be freed first). NULL is a no-op. */
void agg_curl_free(agg_curl *c);

/* Prepares a POST of body to an http(s) URL, with Content-Type ctype and
 * the extra header lines hdrs[0..nhdrs) ("Name: value"); user is the
 * caller's. Returns the transfer (not started), or NULL with the reason in
 * err (a bad URL is refused here, before any I/O). */
agg_xfer *agg_xfer_post(agg_curl *c, const char *url, const char *ctype, const char *const *hdrs,
                        int nhdrs, const char *body, size_t len, int timeout_ms, void *user,
                        char *err, size_t cap);

/* Prepares a message (headers and body, CRLF lines) from `from` to the
 * comma-separated addresses `to` through smtp_url: smtp:// (STARTTLS when
 * offered) or smtps://, user:pass@ for AUTH. Returns the transfer (not
 * started), or NULL with the reason in err. */
agg_xfer *agg_xfer_mail(agg_curl *c, const char *smtp_url, const char *from, const char *to,
                        const char *msg, size_t len, int timeout_ms, void *user, char *err,
                        size_t cap);

/* Starts a prepared transfer. Returns 0, or -1 with the reason in err. */
int agg_xfer_start(agg_curl *c, agg_xfer *x, char *err, size_t cap);

/* Moves the running transfers on, waiting up to wait_ms for activity.
 * Returns how many still run. */
int agg_curl_run(agg_curl *c, int wait_ms);

/* Returns a finished transfer (the caller frees it) with its outcome in
 * *status: the HTTP status, 250 for a message the server took, or -1 with
 * a one-line reason in err. Returns NULL when none has finished. */
agg_xfer *agg_curl_done(agg_curl *c, int *status, char *err, size_t cap);

/* Runs one prepared transfer to its end. Returns its status as
 * agg_curl_done, or -1 with the reason in err. */
int agg_xfer_run(agg_curl *c, agg_xfer *x, char *err, size_t cap);

/* Returns the caller's pointer given at creation. */
void *agg_xfer_user(const agg_xfer *x);

/* Frees a transfer (stopping it if it runs); its handle is kept for
 * reuse. NULL is a no-op. */
void agg_xfer_free(agg_curl *c, agg_xfer *x);

#endif

/* webhook_curl.c: the alert transports on libcurl — HTTP(S) POSTs and SMTP(S) messages running side by side on one multi handle, with their easy handles reused. */
#include "webhook.h"
#include "webhook_int.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define XF_SPARE 8              /* idle easy handles kept for reuse */
#define XF_UA "actiongap-aggregator"

struct agg_xfer {
    CURL *e;
    struct curl_slist *hdrs, *rcpt;
    char *data;                 /* the request body or the message, owned */
    size_t len, off;
    int is_ip, smtp, added;
    const atomic_int *stop;
    void *user;
    char errbuf[CURL_ERROR_SIZE];
};

struct agg_curl {
    CURLM *m;
    CURL *spare[XF_SPARE];
    int nspare;
    const atomic_int *stop;
};

/* Formats a one-line reason into err; always returns -1 (the failure). */
static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...)
{
    if (err && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
        for (char *p = err; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return -1;
}

/* Checks an http(s):// URL (smtp 0) or an smtp(s):// URL (smtp 1, user
 * info allowed) before any I/O, and tells whether its host is an IP
 * literal. Returns 0, or -1 with the reason in err. */
static int url_check(const char *url, int smtp, int *is_ip, char *err, size_t cap)
{
    const char *plain = smtp ? "smtp://" : "http://", *tls = smtp ? "smtps://" : "https://";
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return fail(err, cap, "URL holds a space or control character");
    const char *a = !strncasecmp(url, plain, strlen(plain)) ? url + strlen(plain)
                  : !strncasecmp(url, tls, strlen(tls)) ? url + strlen(tls) : NULL;
    if (!a)
        return fail(err, cap, "unsupported URL scheme (want %s or %s)", plain, tls);
    size_t alen = strcspn(a, "/?#");
    if (!smtp && memchr(a, '@', alen))
        return fail(err, cap, "user info in URL is not supported");
    if (alen && a[alen - 1] == ':')
        return fail(err, cap, "URL has an invalid port");
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    int rc = -1;
    if (!u) {
        fail(err, cap, "out of memory");
        goto done;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        fail(err, cap, "bad URL: %s", curl_url_strerror(uc));
        goto done;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        fail(err, cap, "URL has an empty host");
        goto done;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && atol(port) <= 0) {
        fail(err, cap, "URL has an invalid port");
        goto done;
    }
    unsigned char tmp[4];
    *is_ip = host[0] == '[' || inet_pton(AF_INET, host, tmp) == 1;
    rc = 0;
done:
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* Discards a response body; returns the size taken (all of it). */
static size_t on_write(char *p, size_t sz, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return sz * n;
}

/* Feeds the message to an SMTP upload; returns the bytes copied (0 at the end). */
static size_t on_read(char *buf, size_t sz, size_t n, void *arg)
{
    agg_xfer *x = arg;
    size_t k = x->len - x->off < sz * n ? x->len - x->off : sz * n;
    memcpy(buf, x->data + x->off, k);
    x->off += k;
    return k;
}

/* Aborts a transfer when the stop flag is set; returns non-zero to abort. */
static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const agg_xfer *x = arg;
    (void)dt, (void)dn, (void)ut, (void)un;
    return x->stop && atomic_load(x->stop);
}

/* Creates the transport; stop (may be NULL) aborts its transfers. Returns
 * it, or NULL out of memory. */
agg_curl *agg_curl_new(const atomic_int *stop)
{
    agg_curl *c = calloc(1, sizeof *c);
    if (!c || !(c->m = curl_multi_init())) {
        free(c);
        return NULL;
    }
    c->stop = stop;
    return c;
}

/* Frees the transport and its idle handles (transfers must be freed first); NULL is a no-op. */
void agg_curl_free(agg_curl *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->nspare; i++)
        curl_easy_cleanup(c->spare[i]);
    curl_multi_cleanup(c->m);
    free(c);
}

/* Frees a transfer, stopping it if it runs, and keeps its handle for reuse; NULL is a no-op. */
void agg_xfer_free(agg_curl *c, agg_xfer *x)
{
    if (!x)
        return;
    if (x->added)
        curl_multi_remove_handle(c->m, x->e);
    if (x->e && c->nspare < XF_SPARE) {
        curl_easy_reset(x->e);      /* keeps its DNS, TLS session and connection caches */
        c->spare[c->nspare++] = x->e;
    } else if (x->e) {
        curl_easy_cleanup(x->e);
    }
    curl_slist_free_all(x->hdrs);
    curl_slist_free_all(x->rcpt);
    free(x->data);
    free(x);
}

/* Returns the caller's pointer given at creation. */
void *agg_xfer_user(const agg_xfer *x)
{
    return x->user;
}

/* Checks url (http(s), or smtp(s) when smtp) and makes a transfer with a
 * copy of data and the options every transfer shares (timeouts,
 * certificate checks, stop). Returns it, or NULL with the reason in err. */
static agg_xfer *xfer_new(agg_curl *c, const char *url, int smtp, const char *data, size_t len,
                          int timeout_ms, void *user, char *err, size_t cap)
{
    int is_ip = 0;
    if (url_check(url, smtp, &is_ip, err, cap) < 0)
        return NULL;
    agg_xfer *x = calloc(1, sizeof *x);
    if (!x || !(x->data = malloc(len + 1)))
        goto fail;
    x->is_ip = is_ip;
    x->smtp = smtp;
    memcpy(x->data, data, len);
    x->data[len] = 0;
    x->len = len;
    x->stop = c->stop;
    x->user = user;
    x->e = c->nspare ? c->spare[--c->nspare] : curl_easy_init();
    if (!x->e)
        goto fail;
    CURL *e = x->e;
    const char *cafile = getenv("SSL_CERT_FILE"), *capath = getenv("SSL_CERT_DIR");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (cafile && *cafile)
        curl_easy_setopt(e, CURLOPT_CAINFO, cafile);
    if (capath && *capath)
        curl_easy_setopt(e, CURLOPT_CAPATH, capath);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    return x;
fail:
    agg_xfer_free(c, x);
    fail(err, cap, "out of memory");
    return NULL;
}

/* Prepares a POST of body to an http(s) URL with Content-Type ctype and
 * extra header lines hdrs[0..nhdrs) ("Name: value"). Returns the transfer
 * (not started), or NULL with the reason in err. */
agg_xfer *agg_xfer_post(agg_curl *c, const char *url, const char *ctype, const char *const *hdrs,
                        int nhdrs, const char *body, size_t len, int timeout_ms, void *user,
                        char *err, size_t cap)
{
    char line[1100];
    agg_xfer *x = xfer_new(c, url, 0, body, len, timeout_ms, user, err, cap);
    if (!x)
        return NULL;
    snprintf(line, sizeof line, "Content-Type: %s", ctype);
    const char *fixed[] = {line, "Connection: close", "Expect:"};
    for (int i = 0; i < 3 + nhdrs; i++) {
        struct curl_slist *h = curl_slist_append(x->hdrs, i < 3 ? fixed[i] : hdrs[i - 3]);
        if (!h) {
            agg_xfer_free(c, x);
            fail(err, cap, "out of memory");
            return NULL;
        }
        x->hdrs = h;
    }
    CURL *e = x->e;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, XF_UA);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->data);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->len);
    return x;
}

/* Prepares a message (headers and body, CRLF lines) from `from` to the
 * comma-separated addresses `to` through an smtp:// (STARTTLS when offered)
 * or smtps:// server. Returns the transfer (not started), or NULL with the
 * reason in err. */
agg_xfer *agg_xfer_mail(agg_curl *c, const char *smtp_url, const char *from, const char *to,
                        const char *msg, size_t len, int timeout_ms, void *user, char *err,
                        size_t cap)
{
    char addr[300];
    agg_xfer *x = xfer_new(c, smtp_url, 1, msg, len, timeout_ms, user, err, cap);
    if (!x)
        return NULL;
    for (const char *p = to; *p;) {
        size_t n = strcspn(p, ","), b = 0;
        while (b < n && p[b] == ' ')
            b++;
        while (n > b && p[n - 1] == ' ')
            n--;
        snprintf(addr, sizeof addr, "<%.*s>", (int)(n - b), p + b);
        struct curl_slist *r = n > b ? curl_slist_append(x->rcpt, addr) : x->rcpt;
        if (!r) {
            agg_xfer_free(c, x);
            fail(err, cap, "out of memory");
            return NULL;
        }
        x->rcpt = r;
        p += strcspn(p, ",");
        p += *p == ',';
    }
    snprintf(addr, sizeof addr, "<%s>", from);
    CURL *e = x->e;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, addr);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, x->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, x);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->len);
    return x;
}

/* Starts a prepared transfer. Returns 0, or -1 with the reason in err. */
int agg_xfer_start(agg_curl *c, agg_xfer *x, char *err, size_t cap)
{
    CURLMcode mc = curl_multi_add_handle(c->m, x->e);
    if (mc != CURLM_OK)
        return fail(err, cap, "cannot start: %s", curl_multi_strerror(mc));
    x->added = 1;
    return 0;
}

/* Moves the running transfers on, waiting up to wait_ms for activity.
 * Returns how many still run. */
int agg_curl_run(agg_curl *c, int wait_ms)
{
    int running = 0;
    curl_multi_perform(c->m, &running);
    if (running && wait_ms > 0) {
        curl_multi_poll(c->m, NULL, 0, wait_ms, NULL);
        curl_multi_perform(c->m, &running);
    }
    return running;
}

/* Writes the one-line reason of a failed transfer into err; cannot fail. */
static void describe(agg_xfer *x, CURLcode rc, char *err, size_t cap)
{
    long vr = 0, oserr = 0;
    char eb[128];
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(x->e, CURLINFO_OS_ERRNO, &oserr);
        fail(err, cap, "connect: %s", oserr ? strerror_r((int)oserr, eb, sizeof eb) : x->errbuf);
        return;
    case CURLE_GOT_NOTHING:
        fail(err, cap, "connection closed before an answer");
        return;
    case CURLE_OPERATION_TIMEDOUT:
        fail(err, cap, "timed out%s%s", x->errbuf[0] ? ": " : "", x->errbuf);
        return;
    case CURLE_ABORTED_BY_CALLBACK:
        fail(err, cap, "stopped");
        return;
    case CURLE_PEER_FAILED_VERIFICATION:
        curl_easy_getinfo(x->e, CURLINFO_SSL_VERIFYRESULT, &vr);
        /* curl checks the name itself: the chain's result is then OK (or unspecified) */
        fail(err, cap, "certificate verify failed: %s",
             vr != X509_V_OK && vr != X509_V_ERR_UNSPECIFIED ? X509_verify_cert_error_string(vr)
             : x->is_ip ? "IP address mismatch" : "hostname mismatch");
        return;
    default:
        fail(err, cap, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    }
}

/* Returns a finished transfer (still to be freed) with its outcome in
 * *status: the HTTP status, 250 for a message the server took, or -1 with
 * the reason in err; NULL when none has finished. */
agg_xfer *agg_curl_done(agg_curl *c, int *status, char *err, size_t cap)
{
    int left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(c->m, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        agg_xfer *x = NULL;
        long code = 0;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (msg->data.result == CURLE_OK) {
            curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &code);
            *status = x->smtp ? 250 : (int)code;
        } else {
            *status = -1;
            describe(x, msg->data.result, err, cap);
        }
        curl_multi_remove_handle(c->m, x->e);
        x->added = 0;
        return x;
    }
    return NULL;
}

/* Runs one transfer to its end. Returns its status (see agg_curl_done),
 * or -1 with the reason in err. */
int agg_xfer_run(agg_curl *c, agg_xfer *x, char *err, size_t cap)
{
    int status = -1;
    if (agg_xfer_start(c, x, err, cap) < 0)
        return -1;
    for (;;) {
        int running = agg_curl_run(c, WH_SLICE_MS);
        if (agg_curl_done(c, &status, err, cap))
            return status;
        if (c->stop && atomic_load(c->stop))
            return fail(err, cap, "stopped");
        if (!running)
            return fail(err, cap, "transfer lost");
    }
}

/* Posts body to url within timeout_ms. Returns the HTTP status, or -1 with the reason in err. */
int agg_webhook_post(const char *url, const char *body, size_t len, int timeout_ms, char *err,
                     size_t cap)
{
    int is_ip;
    if (url_check(url, 0, &is_ip, err, cap) < 0)    /* refused before a transport is made */
        return -1;
    agg_curl *c = agg_curl_new(NULL);
    agg_xfer *x = c ? agg_xfer_post(c, url, "application/json", NULL, 0, body, len, timeout_ms,
                                     NULL, err, cap) : NULL;
    int st = x ? agg_xfer_run(c, x, err, cap) : c ? -1 : fail(err, cap, "out of memory");
    agg_xfer_free(c, x);
    agg_curl_free(c);
    return st;
}

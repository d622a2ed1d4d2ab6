/* http.h: the collector's HTTP/1.1 server — a strict request parser and a
 * connection layer on libevent; handlers see only coll_http_req and fill a
 * coll_http_resp, never a socket or a libevent type. */
#ifndef COLL_HTTP_H
#define COLL_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

/* ---- parser (no I/O, no allocation) ---- */

typedef enum {
    COLL_M_GET = 0, COLL_M_HEAD, COLL_M_POST, COLL_M_OPTIONS, COLL_M_OTHER
} coll_method;

/* A parsed request. Every pointer points into the caller's input buffer and
 * is valid only as long as that buffer (in a handler: during the call). */
typedef struct coll_http_req {
    coll_method method;
    const char *method_str; size_t method_len;
    const char *path; size_t path_len;       /* target up to '?' */
    const char *query; size_t query_len;     /* after '?', without it; len 0 if none */
    int minor;                               /* HTTP/1.x */
    int keep_alive;                          /* after Connection: and version rules */
    /* headers the collector reads (NULL if absent) */
    const char *host; size_t host_len;
    const char *user_agent; size_t user_agent_len;
    const char *content_type; size_t content_type_len;
    const char *authorization; size_t authorization_len;
    const char *origin; size_t origin_len;
    const char *xff; size_t xff_len;         /* X-Forwarded-For */
    const char *dnt; size_t dnt_len;
    const char *sec_gpc; size_t sec_gpc_len;
    const char *acr_headers; size_t acr_headers_len; /* Access-Control-Request-Headers */
    const char *if_none_match; size_t if_none_match_len;
    const char *accept_encoding; size_t accept_encoding_len;
    int64_t content_length;                  /* -1 if absent */
    int chunked;                             /* Transfer-Encoding: chunked */
    int expect_continue;                     /* Expect: 100-continue */
    size_t header_bytes;                     /* bytes of request line + headers + CRLF */
    const char *fields; size_t fields_len;   /* the header field lines, CRLF-separated */
    /* filled by the server before the handler runs */
    const char *body; size_t body_len;
    const char *peer;                        /* textual peer address */
} coll_http_req;

/* Parses the request line and headers at buf (len bytes). Returns the
 * number of header bytes consumed (> 0) when complete; 0 when more bytes
 * are needed; or -status on a malformed request, where status is the
 * answer to send: 400 (syntax, bare LF or CR, obs-fold, duplicate or invalid
 * Content-Length, Content-Length with Transfer-Encoding, unknown
 * Transfer-Encoding), 414 (request target over max_line), 431 (headers over
 * max_header), 501 (Transfer-Encoding other than chunked), 505 (not
 * HTTP/1.0 or 1.1). Never reads past buf+len. */
int coll_http_parse(const char *buf, size_t len, size_t max_line, size_t max_header,
                    coll_http_req *req);

/* Returns the value of header field name (case-insensitive; the first if
 * repeated), trimmed, with its length in *len; NULL if absent. No I/O, no
 * allocation: a scan of req->fields. */
const char *coll_http_header(const coll_http_req *req, const char *name, size_t *len);

/* State of the in-place chunked-body decoder; zero it before the first call. */
typedef struct coll_http_chunked {
    size_t r;          /* raw bytes consumed */
    size_t w;          /* decoded bytes, gathered at the start of the buffer */
    size_t trailer;    /* trailer bytes seen */
    uint64_t left;     /* bytes left in the current chunk */
    int state;
} coll_http_chunked;

/* De-chunks the raw body at buf (len bytes so far, starting right after the
 * head) in place: the decoded body gathers at buf[0, st->w). Call again
 * with the same buffer contents and a larger len as bytes arrive. Returns 1
 * when the last chunk and the trailers are in (st->r raw bytes used), 0
 * when more bytes are needed, or -400 (syntax, bare LF, chunk line or
 * trailers over 4 KiB) or -413 (decoded size over max_body). Extensions and
 * trailers are checked and dropped. Never reads past buf+len. */
int coll_http_dechunk(char *buf, size_t len, size_t max_body, coll_http_chunked *st);

/* ---- response ---- */

/* A response a handler fills. Strings must stay valid until the handler
 * returns; the server copies them out. */
typedef struct coll_http_resp {
    int status;
    const char *content_type;     /* NULL: no Content-Type */
    const char *headers;          /* extra raw header lines, each ending "\r\n"; may be NULL */
    const char *body; size_t body_len;
    int close;                    /* close the connection after this response */
} coll_http_resp;

/* ---- server ---- */

typedef void (*coll_http_handler)(void *arg, const coll_http_req *req, coll_http_resp *resp);

typedef struct coll_http_limits {
    size_t max_header;            /* request line + headers, bytes (431 beyond, 414 for the line) */
    size_t max_body;              /* 413 beyond */
    int header_timeout_ms;        /* from the first byte of a request to its last header byte */
    int body_timeout_ms;          /* from the headers to the last body byte */
    int idle_timeout_ms;          /* keep-alive idle between requests */
    int max_conns;                /* open connections; the excess is answered 503 and closed */
} coll_http_limits;

typedef struct coll_http coll_http;

/* Opens a non-blocking listening socket on "host:port" with SO_REUSEADDR
 * and SO_REUSEPORT (so each thread can own one). Returns the fd, or -1 with
 * errno set. */
int coll_http_listen(const char *hostport);

/* Creates a server that accepts on listen_fd (owned by the server from
 * now on) within base, calling handler(arg, ...) for each complete request.
 * Returns NULL on allocation failure. */
coll_http *coll_http_new(struct event_base *base, int listen_fd,
                         const coll_http_limits *limits, coll_http_handler handler,
                         void *arg);

/* Stops accepting new connections and closes the listener; open
 * connections finish their current request, then close. */
void coll_http_stop(coll_http *s);

/* Returns the number of open connections. */
int coll_http_conns(const coll_http *s);

/* Frees the server and closes every connection. NULL is a no-op. */
void coll_http_free(coll_http *s);

/* Returns the reason phrase of status ("OK", "Not Found", ...). */
const char *coll_http_reason(int status);

#endif

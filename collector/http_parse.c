/* http_parse.c: the HTTP/1.1 wire format without I/O: the strict request
 * parser, the chunked-body decoder and the reason phrases. */
#include "http.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

/* Header-level facts gathered while scanning, checked once at the end. */
typedef struct {
    int cl_seen, te_seen, te_bad, te_empty;
    int conn_close, conn_keep;
} hdr_state;

/* ------------------------------------------------------------------ */
/* character classes                                                   */
/* ------------------------------------------------------------------ */

/* Returns 1 if c is an RFC 9110 tchar, 0 otherwise (no failure). */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
    case '+': case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return 1;
    default:
        return 0;
    }
}

/* Returns 1 if c may appear in a field value (VCHAR, SP, HTAB, obs-text),
 * 0 for a control character (no failure). */
static int is_vchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Returns 1 if the n bytes at s equal the lower-case literal lit ignoring
 * ASCII case, 0 otherwise. lit holds only lower-case letters, digits and
 * '-', for which OR-ing 0x20 folds case safely on token bytes. */
static int ieq(const char *s, size_t n, const char *lit)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (lit[i] == '\0' || (char)(s[i] | 0x20) != lit[i])
            return 0;
    }
    return lit[n] == '\0';
}

/* ------------------------------------------------------------------ */
/* header values                                                       */
/* ------------------------------------------------------------------ */

/* Parses a Content-Length value into *out; returns 0, or -400 when it is
 * empty, holds a non-digit or overflows int64_t. */
static int parse_cl(const char *v, size_t n, int64_t *out)
{
    int64_t x = 0;
    size_t i;

    if (n == 0)
        return -400;
    for (i = 0; i < n; i++) {
        int d;

        if (v[i] < '0' || v[i] > '9')
            return -400;
        d = v[i] - '0';
        if (x > (INT64_MAX - d) / 10)
            return -400;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

/* Scans a Connection token list for "close" and "keep-alive" into st;
 * never fails (unknown tokens are ignored). */
static void scan_connection(const char *v, size_t n, hdr_state *st)
{
    size_t i = 0;

    while (i < n) {
        size_t a, b;

        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        a = i;
        while (i < n && v[i] != ',')
            i++;
        b = i;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
            b--;
        if (ieq(v + a, b - a, "close"))
            st->conn_close = 1;
        else if (ieq(v + a, b - a, "keep-alive"))
            st->conn_keep = 1;
    }
}

/* Records one header field in req and st; returns 0, or -400 for a
 * duplicate Host or Content-Length or an invalid Content-Length. */
static int on_header(coll_http_req *req, hdr_state *st, const char *name, size_t nlen,
                     const char *v, size_t vlen)
{
    switch (nlen) {
    case 3:
        if (ieq(name, nlen, "dnt")) { req->dnt = v; req->dnt_len = vlen; }
        break;
    case 4:
        if (ieq(name, nlen, "host")) {
            if (req->host)
                return -400;
            req->host = v; req->host_len = vlen;
        }
        break;
    case 6:
        if (ieq(name, nlen, "origin")) {
            req->origin = v; req->origin_len = vlen;
        } else if (ieq(name, nlen, "expect")) {
            if (ieq(v, vlen, "100-continue"))
                req->expect_continue = 1;
        }
        break;
    case 7:
        if (ieq(name, nlen, "sec-gpc")) { req->sec_gpc = v; req->sec_gpc_len = vlen; }
        break;
    case 10:
        if (ieq(name, nlen, "user-agent")) {
            req->user_agent = v; req->user_agent_len = vlen;
        } else if (ieq(name, nlen, "connection")) {
            scan_connection(v, vlen, st);
        }
        break;
    case 12:
        if (ieq(name, nlen, "content-type")) {
            req->content_type = v; req->content_type_len = vlen;
        }
        break;
    case 13:
        if (ieq(name, nlen, "authorization")) {
            req->authorization = v; req->authorization_len = vlen;
        } else if (ieq(name, nlen, "if-none-match")) {
            req->if_none_match = v; req->if_none_match_len = vlen;
        }
        break;
    case 14:
        if (ieq(name, nlen, "content-length")) {
            if (st->cl_seen)
                return -400;
            st->cl_seen = 1;
            return parse_cl(v, vlen, &req->content_length);
        }
        break;
    case 15:
        if (ieq(name, nlen, "x-forwarded-for")) {
            req->xff = v; req->xff_len = vlen;
        } else if (ieq(name, nlen, "accept-encoding")) {
            req->accept_encoding = v; req->accept_encoding_len = vlen;
        }
        break;
    case 17:
        if (ieq(name, nlen, "transfer-encoding")) {
            if (vlen == 0)
                st->te_empty = 1;
            else if (st->te_seen || !ieq(v, vlen, "chunked"))
                st->te_bad = 1;   /* a second line makes "chunked, chunked" */
            st->te_seen = 1;
        }
        break;
    case 30:
        if (ieq(name, nlen, "access-control-request-headers")) {
            req->acr_headers = v; req->acr_headers_len = vlen;
        }
        break;
    default:
        break;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* request                                                             */
/* ------------------------------------------------------------------ */

/* Classifies the method token (case-sensitive, RFC 9110); never fails. */
static coll_method method_of(const char *m, size_t n)
{
    if (n == 3 && memcmp(m, "GET", 3) == 0) return COLL_M_GET;
    if (n == 4 && memcmp(m, "HEAD", 4) == 0) return COLL_M_HEAD;
    if (n == 4 && memcmp(m, "POST", 4) == 0) return COLL_M_POST;
    if (n == 7 && memcmp(m, "OPTIONS", 7) == 0) return COLL_M_OPTIONS;
    return COLL_M_OTHER;
}

/* Parses the request head at buf; see http.h. Returns header bytes, 0 for
 * more input, or -status (400, 414, 431, 501, 505). Only origin-form
 * targets are accepted: absolute-form and "OPTIONS *" are 400. One or more
 * empty lines (CRLF) before the request line are skipped (RFC 9112 2.2)
 * and count in the returned length. */
int coll_http_parse(const char *buf, size_t len, size_t max_line, size_t max_header,
                    coll_http_req *req)
{
    const char *p = buf, *end, *tok, *q = NULL;
    hdr_state st;
    int over, major, minor;

    memset(req, 0, sizeof(*req));
    memset(&st, 0, sizeof(st));
    req->content_length = -1;
    if (max_header > INT_MAX)
        max_header = INT_MAX;
    over = len > max_header;
    end = buf + (over ? max_header : len);

/* out of input: 0, or the limit status when the cut was max_header */
#define LINE_MORE() return over ? -414 : 0
#define HEAD_MORE() return over ? -431 : 0

    /* ---- request line ---- */
    while (p < end && *p == '\r') {
        if (end - p < 2)
            LINE_MORE();
        if (p[1] != '\n')
            return -400;
        p += 2;
    }
    tok = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    if (p == end)
        LINE_MORE();
    if (*p != ' ' || p == tok)
        return -400;
    req->method_str = tok;
    req->method_len = (size_t)(p - tok);
    req->method = method_of(tok, req->method_len);
    p++;

    tok = p;
    if (p == end)
        LINE_MORE();
    if (*p != '/')
        return -400;
    for (;;) {
        unsigned char c;

        if ((size_t)(p - tok) > max_line)
            return -414;
        if (p == end)
            LINE_MORE();
        c = (unsigned char)*p;
        if (c == ' ')
            break;
        if (c < 0x21 || c > 0x7e)
            return -400;
        if (c == '?' && !q)
            q = p;
        p++;
    }
    req->path = tok;
    if (q) {
        req->path_len = (size_t)(q - tok);
        req->query = q + 1;
        req->query_len = (size_t)(p - q - 1);
    } else {
        req->path_len = (size_t)(p - tok);
        req->query = p;   /* non-NULL, empty */
        req->query_len = 0;
    }
    p++;

    {
        static const char http[] = "HTTP/";
        int i;

        for (i = 0; i < 5; i++, p++) {
            if (p == end)
                LINE_MORE();
            if (*p != http[i])
                return -400;
        }
    }
    if (p == end) LINE_MORE();
    if (*p < '0' || *p > '9') return -400;
    major = *p++ - '0';
    if (p == end) LINE_MORE();
    if (*p != '.') return -400;
    p++;
    if (p == end) LINE_MORE();
    if (*p < '0' || *p > '9') return -400;
    minor = *p++ - '0';
    if (p == end) LINE_MORE();
    if (*p != '\r') return -400;
    p++;
    if (p == end) LINE_MORE();
    if (*p != '\n') return -400;
    p++;
    if (major != 1 || minor > 1)
        return -505;
    req->minor = minor;

    /* ---- header fields ---- */
    req->fields = p;
    for (;;) {
        const char *name, *v, *ve;
        size_t nlen;
        int r;

        if (p == end)
            HEAD_MORE();
        if (*p == '\r') {
            if (p + 1 == end)
                HEAD_MORE();
            if (p[1] != '\n')
                return -400;
            req->fields_len = (size_t)(p - req->fields);
            p += 2;
            break;
        }
        if (*p == '\n' || *p == ' ' || *p == '\t')
            return -400;     /* bare LF, obs-fold or leading whitespace */
        name = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        if (p == end)
            HEAD_MORE();
        if (*p != ':' || p == name)
            return -400;
        nlen = (size_t)(p - name);
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        v = p;
        for (;;) {
            if (p == end)
                HEAD_MORE();
            if (*p == '\r')
                break;
            if (!is_vchar((unsigned char)*p))
                return -400;  /* CTL, including bare LF */
            p++;
        }
        ve = p;
        if (p + 1 == end)
            HEAD_MORE();
        if (p[1] != '\n')
            return -400;
        p += 2;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        r = on_header(req, &st, name, nlen, v, (size_t)(ve - v));
        if (r)
            return r;
    }
#undef LINE_MORE
#undef HEAD_MORE

    /* ---- framing and persistence ---- */
    if (st.te_seen && st.cl_seen)
        return -400;
    if (st.te_empty)
        return -400;
    if (st.te_bad)
        return -501;
    req->chunked = st.te_seen;
    if (minor == 1)
        req->keep_alive = !st.conn_close;
    else
        req->keep_alive = st.conn_keep && !st.conn_close && !st.te_seen;
    req->header_bytes = (size_t)(p - buf);
    return (int)(p - buf);
}

/* Finds a header field by name (case-insensitive) in a parsed request's
 * field lines: the first one's value, trimmed, and its length in *len.
 * Returns NULL if absent. */
const char *coll_http_header(const coll_http_req *req, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    const char *p = req->fields, *end = req->fields ? req->fields + req->fields_len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol)
            eol = end;
        if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1, *ve = eol;
            while (v < ve && (*v == ' ' || *v == '\t'))
                v++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *len = (size_t)(ve - v);
            return v;
        }
        p = eol + 2;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* reason phrases                                                      */
/* ------------------------------------------------------------------ */

/* Returns the reason phrase of status, or "Unknown" for an unlisted one. */
const char *coll_http_reason(int status)
{
    static const struct { int code; const char *text; } t[] = {
        {100, "Continue"}, {101, "Switching Protocols"}, {200, "OK"}, {201, "Created"},
        {202, "Accepted"}, {204, "No Content"}, {206, "Partial Content"},
        {301, "Moved Permanently"}, {302, "Found"}, {303, "See Other"},
        {304, "Not Modified"}, {307, "Temporary Redirect"}, {308, "Permanent Redirect"},
        {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"},
        {404, "Not Found"}, {405, "Method Not Allowed"}, {408, "Request Timeout"},
        {409, "Conflict"}, {411, "Length Required"}, {413, "Content Too Large"},
        {414, "URI Too Long"}, {415, "Unsupported Media Type"},
        {417, "Expectation Failed"}, {422, "Unprocessable Content"},
        {429, "Too Many Requests"}, {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"},
        {503, "Service Unavailable"}, {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (t[i].code == status)
            return t[i].text;
    }
    return "Unknown";
}

/* ------------------------------------------------------------------ */
/* chunked bodies                                                      */
/* ------------------------------------------------------------------ */

#define CHUNK_LINE_MAX 4096   /* a chunk-size line, and all trailers together */

enum { CH_SIZE = 0, CH_DATA, CH_CRLF, CH_TRAILER };

/* Returns the value of hex digit ch, or -1 if it is none. */
static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* De-chunks buf in place; see http.h. Returns 1 when complete, 0 for more
 * input, -400 or -413. */
int coll_http_dechunk(char *b, size_t n, size_t max_body, coll_http_chunked *st)
{
    for (;;) {
        size_t i = st->r, k;
        uint64_t v = 0;
        int d = -1;

        switch (st->state) {
        case CH_SIZE:
            for (; i < n && (d = hexval((unsigned char)b[i])) >= 0; i++) {
                v = v * 16 + (uint64_t)d;
                if (v > max_body)
                    return -413;
            }
            if (i < n && i == st->r)
                return -400;                          /* no digit */
            while (i < n && (b[i] == ' ' || b[i] == '\t'))
                i++;
            if (i < n && b[i] != ';' && b[i] != '\r')
                return -400;
            for (; i < n && b[i] != '\r'; i++) {      /* chunk-ext: no CTLs */
                if (!is_vchar((unsigned char)b[i]))
                    return -400;
            }
            if (i + 1 >= n)
                return n - st->r > CHUNK_LINE_MAX ? -400 : 0;
            if (b[i + 1] != '\n' || i + 2 - st->r > CHUNK_LINE_MAX)
                return -400;
            if (st->w + v > max_body)
                return -413;
            st->r = i + 2;
            st->left = v;
            st->state = v ? CH_DATA : CH_TRAILER;
            break;
        case CH_DATA:
            k = n - i < st->left ? n - i : (size_t)st->left;
            if (k && st->w != i)
                memmove(b + st->w, b + i, k);
            st->w += k;
            st->r += k;
            st->left -= k;
            if (st->left)
                return 0;
            st->state = CH_CRLF;
            break;
        case CH_CRLF:
            if (n - i < 2)
                return (n - i == 1 && b[i] != '\r') ? -400 : 0;
            if (b[i] != '\r' || b[i + 1] != '\n')
                return -400;
            st->r = i + 2;
            st->state = CH_SIZE;
            break;
        default:                                      /* CH_TRAILER */
            for (; i < n && b[i] != '\r'; i++) {
                if (b[i] == '\n')
                    return -400;
            }
            if (i + 1 >= n)
                return st->trailer + (n - st->r) > CHUNK_LINE_MAX ? -400 : 0;
            st->trailer += i + 2 - st->r;
            if (b[i + 1] != '\n' || st->trailer > CHUNK_LINE_MAX ||
                b[st->r] == ' ' || b[st->r] == '\t')
                return -400;
            k = i - st->r;
            st->r = i + 2;
            if (k == 0)
                return 1;
            break;
        }
    }
}

/* resp.c: RESP command building into a growable buffer (see resp.h). */
#include "resp.h"

#include <stdlib.h>
#include <string.h>

/* Makes room for n more bytes. Returns 0, or -1 (and sets oom) on failure. */
static int reserve(proto_resp *r, size_t n)
{
    if (r->oom)
        return -1;
    if (r->len + n <= r->cap)
        return 0;
    size_t nc = r->cap ? r->cap : 256;
    while (nc < r->len + n)
        nc *= 2;
    char *nd = realloc(r->data, nc);
    if (!nd) {
        r->oom = 1;
        return -1;
    }
    r->data = nd;
    r->cap = nc;
    return 0;
}

/* Empties r; never fails. */
void proto_resp_reset(proto_resp *r)
{
    r->len = 0;
    r->nargs = 0;
    r->oom = 0;
}

/* Frees r; never fails. */
void proto_resp_free(proto_resp *r)
{
    free(r->data);
    memset(r, 0, sizeof *r);
}

/* Writes v in decimal; never fails. */
char *proto_resp_put_ll(char *p, long long v)
{
    char tmp[20];
    int n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    if (v < 0)
        *p++ = '-';
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Appends a "<c><n>\r\n" header. Returns 0 or -1 (oom). */
static int header(proto_resp *r, char c, size_t n)
{
    if (reserve(r, 24) < 0)
        return -1;
    char *p = r->data + r->len;
    *p++ = c;
    p = proto_resp_put_ll(p, (long long)n);
    *p++ = '\r';
    *p++ = '\n';
    r->len = (size_t)(p - r->data);
    return 0;
}

/* Appends one argument; sets oom on failure. */
void proto_resp_arg(proto_resp *r, const void *s, size_t n)
{
    if (header(r, '$', n) < 0 || reserve(r, n + 2) < 0)
        return;
    memcpy(r->data + r->len, s, n);
    r->data[r->len + n] = '\r';
    r->data[r->len + n + 1] = '\n';
    r->len += n + 2;
    r->nargs++;
}

/* Appends a NUL-terminated argument; sets oom on failure. */
void proto_resp_str(proto_resp *r, const char *s)
{
    proto_resp_arg(r, s, strlen(s));
}

/* Appends an integer argument; sets oom on failure. */
void proto_resp_ll(proto_resp *r, long long v)
{
    char buf[24];
    char *e = proto_resp_put_ll(buf, v);
    proto_resp_arg(r, buf, (size_t)(e - buf));
}

/* Appends src's arguments; sets oom on failure. */
void proto_resp_cat(proto_resp *r, const proto_resp *src)
{
    if (src->oom) {
        r->oom = 1;
        return;
    }
    if (src->len == 0 || reserve(r, src->len) < 0)
        return;
    memcpy(r->data + r->len, src->data, src->len);
    r->len += src->len;
    r->nargs += src->nargs;
}

/* Appends one framed command; sets oom on failure. */
void proto_resp_command(proto_resp *out, const proto_resp *args)
{
    size_t keep = out->nargs;
    if (args->oom) {
        out->oom = 1;
        return;
    }
    if (header(out, '*', args->nargs) < 0)
        return;
    proto_resp_cat(out, args);
    out->nargs = keep;
}

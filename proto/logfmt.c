/* logfmt.c: logfmt lines (SPEC 10) built in memory: quoting and the line
 * layout ts=… level=… prog=… msg="…" key=value; no I/O (proto/sys/log.c
 * writes them). */
#include "logfmt.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Returns the level of name ("debug" … "error"), or -1; never fails. */
int proto_logfmt_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

/* Quotes s into out, bare only if allowed and safe; never fails (truncates). */
static char *quote(char *out, size_t cap, const char *s, size_t len, int allow_bare)
{
    size_t o = 0;
    int bare = allow_bare && len > 0;
    if (cap == 0)
        return out;
    for (size_t i = 0; i < len && bare; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '"' || ch == '=' || ch == '\\')
            bare = 0;
    }
    if (bare) {
        size_t n = len < cap - 1 ? len : cap - 1;
        memcpy(out, s, n);
        out[n] = 0;
        return out;
    }
    if (o + 1 < cap)
        out[o++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        char tmp[5];
        size_t n;
        if (ch == '"' || ch == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)ch;
            n = 2;
        } else if (ch == '\n') {
            memcpy(tmp, "\\n", 2);
            n = 2;
        } else if (ch < ' ' || ch >= 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02x", ch);
            n = 4;
        } else {
            tmp[0] = (char)ch;
            n = 1;
        }
        if (o + n + 2 > cap)
            break;
        memcpy(out + o, tmp, n);
        o += n;
    }
    out[o++] = '"';
    out[o] = 0;
    return out;
}

/* Quotes s as a logfmt value into out; never fails (truncates). */
char *proto_logfmt_quote(char *out, size_t cap, const char *s, size_t len)
{
    return quote(out, cap, s, len, 1);
}

/* Builds one line into out (cap >= 64): the prefix, then kvs as given,
 * then a newline; truncates to fit. Returns its length. */
size_t proto_logfmt_line(char *out, size_t cap, int64_t ts_ms, int level, const char *prog,
                         const char *msg, const char *kvs)
{
    char qmsg[512];
    struct tm tm;
    time_t secs = (time_t)(ts_ms / 1000);
    gmtime_r(&secs, &tm);
    quote(qmsg, sizeof qmsg, msg, strlen(msg), 0); /* msg is always quoted (SPEC 10) */
    int n = snprintf(out, cap, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s prog=%s msg=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int)(ts_ms % 1000), level_names[level & 3], prog, qmsg);
    if (n < 0)
        n = 0;
    if ((size_t)n > cap - 2)
        n = (int)cap - 2;
    size_t o = (size_t)n, room = cap - 2 - o;  /* keeps the newline and the NUL */
    if (kvs && *kvs && room > 1) {
        size_t k = strlen(kvs);
        if (k > room - 1)
            k = room - 1;
        out[o++] = ' ';
        memcpy(out + o, kvs, k);
        o += k;
    }
    out[o++] = '\n';
    out[o] = 0;
    return o;
}

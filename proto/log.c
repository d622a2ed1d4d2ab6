/* log.c: logfmt lines on stderr, one write(2) per line (SPEC 10). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int log_level = PROTO_LOG_INFO;
static const char *log_prog = "actiongap";
static const char *level_names[] = {"debug", "info", "warn", "error"};

/* Sets the lowest level printed. Returns 0, or -1 for an unknown name. */
int proto_log_set_level(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            log_level = i;
            return 0;
        }
    }
    return -1;
}

/* Sets the program name printed on every line; never fails. */
void proto_log_set_prog(const char *prog)
{
    log_prog = prog;
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
char *proto_log_quote(char *out, size_t cap, const char *s, size_t len)
{
    return quote(out, cap, s, len, 1);
}

/* Writes one logfmt line to stderr; drops it silently if it cannot be formatted. */
void proto_log(int level, const char *msg, const char *kvfmt, ...)
{
    char line[2048], qmsg[512];
    struct timespec ts;
    struct tm tm;
    if (level < log_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    quote(qmsg, sizeof qmsg, msg, strlen(msg), 0); /* msg is always quoted (SPEC 10) */
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s prog=%s msg=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level & 3], log_prog, qmsg);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    if (kvfmt && *kvfmt) {
        va_list ap;
        line[n++] = ' ';
        va_start(ap, kvfmt);
        int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, kvfmt, ap);
        va_end(ap);
        if (m > 0)
            n += (size_t)m < sizeof line - (size_t)n - 1 ? m : (int)(sizeof line - (size_t)n - 2);
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

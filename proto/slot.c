/* slot.c: Redis Cluster's arithmetic — hash slots, command routing keys,
 * MOVED/ASK errors (see slot.h). */
#include "slot.h"

#include "keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Returns key's hash slot; cannot fail. */
unsigned proto_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return proto_crc16(open + 1, (size_t)(close - open - 1)) % PROTO_SLOTS;
    }
    return proto_crc16(key, len) % PROTO_SLOTS;
}

/* Reads "<c><digits>\r\n" at *p (below end), advancing past it. Returns
 * the number, or -1 if malformed. */
static long header(const char **p, const char *end, char c)
{
    const char *s = *p;
    long v = 0;
    if (s >= end || *s++ != c)
        return -1;
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        v = v * 10 + (*s++ - '0');
        if (v > 1L << 30)
            return -1;
    }
    if (end - s < 2 || s[0] != '\r' || s[1] != '\n')
        return -1;
    *p = s + 2;
    return v;
}

/* Walks the command at buf: calls back nothing, but stops at argument
 * want (if >= 0) to point *arg at it. Returns the argument count, or -1. */
static int walk(const char *buf, size_t len, int want, const char **arg, size_t *arglen,
                size_t *cmdlen)
{
    const char *p = buf, *end = buf + len;
    long n = header(&p, end, '*');
    if (n < 1)
        return -1;
    for (long i = 0; i < n; i++) {
        long l = header(&p, end, '$');
        if (l < 0 || end - p < l + 2 || p[l] != '\r' || p[l + 1] != '\n')
            return -1;
        if (i == want) {
            *arg = p;
            *arglen = (size_t)l;
        }
        p += l + 2;
    }
    if (cmdlen)
        *cmdlen = (size_t)(p - buf);
    return (int)n;
}

/* Finds the first command's end. Returns its argument count, or -1. */
int proto_cmd_span(const char *buf, size_t len, size_t *cmdlen)
{
    return walk(buf, len, -1, NULL, NULL, cmdlen);
}

/* Points at argument i. Returns 0, or -1 if there is none. */
int proto_cmd_arg(const char *cmd, size_t len, int i, const char **arg, size_t *arglen)
{
    int n = walk(cmd, len, i, arg, arglen, NULL);
    return n < 0 || i < 0 || i >= n ? -1 : 0;
}

/* Returns 1 if the argument (a, n bytes) is word, ignoring case. */
static int is(const char *a, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(a, word, n) == 0;
}

/* Commands without a key: they go to any master. */
static const char *const keyless[] = {
    "PING", "INFO", "CONFIG", "CLIENT", "CLUSTER", "ACL", "AUTH", "SELECT", "WAIT", "TIME",
    "DBSIZE", "FLUSHALL", "FLUSHDB", "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE",
    "PUBLISH", "SCAN", "KEYS", "RANDOMKEY", "DEBUG", "COMMAND", "LATENCY", "SLOWLOG", "HELLO",
    "ECHO", "LASTSAVE", "BGSAVE", "BGREWRITEAOF", "SAVE", "ROLE", "READONLY", "READWRITE",
    "ASKING", "FUNCTION", "MULTI", "EXEC", "DISCARD", "MONITOR", "SHUTDOWN", "REPLICAOF",
    "FAILOVER",
};

/* Says how cmd is routed. Returns the route, or -1 if malformed. */
int proto_cmd_route(const char *cmd, size_t len, const char **key, size_t *klen)
{
    const char *a0, *a;
    size_t n0, n;
    int argc = walk(cmd, len, 0, &a0, &n0, NULL);
    if (argc < 1)
        return -1;
    if (is(a0, n0, "SCRIPT"))
        return PROTO_ROUTE_ALL;
    if (is(a0, n0, "EVAL") || is(a0, n0, "EVALSHA") || is(a0, n0, "EVAL_RO") ||
        is(a0, n0, "EVALSHA_RO") || is(a0, n0, "FCALL") || is(a0, n0, "FCALL_RO")) {
        if (proto_cmd_arg(cmd, len, 2, &a, &n) < 0 || n == 0 || n > 10 || (n == 1 && *a == '0'))
            return PROTO_ROUTE_ANY;
        return proto_cmd_arg(cmd, len, 3, key, klen) < 0 ? -1 : PROTO_ROUTE_KEY;
    }
    if (is(a0, n0, "XREAD") || is(a0, n0, "XREADGROUP")) {
        for (int i = 1; i + 1 < argc; i++)
            if (proto_cmd_arg(cmd, len, i, &a, &n) == 0 && is(a, n, "STREAMS"))
                return proto_cmd_arg(cmd, len, i + 1, key, klen) < 0 ? -1 : PROTO_ROUTE_KEY;
        return -1;
    }
    if (is(a0, n0, "MEMORY")) {
        if (proto_cmd_arg(cmd, len, 1, &a, &n) == 0 && is(a, n, "USAGE"))
            return proto_cmd_arg(cmd, len, 2, key, klen) < 0 ? -1 : PROTO_ROUTE_KEY;
        return PROTO_ROUTE_ANY;
    }
    for (size_t i = 0; i < sizeof keyless / sizeof *keyless; i++)
        if (is(a0, n0, keyless[i]))
            return PROTO_ROUTE_ANY;
    if (is(a0, n0, "XGROUP") || is(a0, n0, "XINFO") || is(a0, n0, "OBJECT")) {
        if (proto_cmd_arg(cmd, len, 1, &a, &n) == 0 && is(a, n, "HELP"))
            return PROTO_ROUTE_ANY;
        return proto_cmd_arg(cmd, len, 2, key, klen) < 0 ? -1 : PROTO_ROUTE_KEY;
    }
    if (argc < 2)
        return PROTO_ROUTE_ANY;
    return proto_cmd_arg(cmd, len, 1, key, klen) < 0 ? -1 : PROTO_ROUTE_KEY;
}

/* Parses a MOVED or ASK error. Returns 0, or -1 if it is neither. */
int proto_redirect_parse(const char *err, size_t len, proto_redirect *out)
{
    char buf[320];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, err, len);
    buf[len] = 0;
    memset(out, 0, sizeof *out);
    const char *p;
    if (strncmp(buf, "MOVED ", 6) == 0)
        p = buf + 6;
    else if (strncmp(buf, "ASK ", 4) == 0)
        p = buf + 4, out->ask = 1;
    else
        return -1;
    char *end;
    unsigned long slot = strtoul(p, &end, 10);
    if (end == p || *end != ' ' || slot >= PROTO_SLOTS)
        return -1;
    p = end + 1;
    const char *colon = strrchr(p, ':');
    if (!colon || (size_t)(colon - p) >= sizeof out->host)
        return -1;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || port < 1 || port > 65535)
        return -1;
    memcpy(out->host, p, (size_t)(colon - p));
    out->host[colon - p] = 0;
    out->slot = (unsigned)slot;
    out->port = (int)port;
    return 0;
}

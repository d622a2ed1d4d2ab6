/* logfmt.h: logfmt lines (SPEC 10) built in memory; no I/O. */
#ifndef PROTO_LOGFMT_H
#define PROTO_LOGFMT_H

#include <stddef.h>
#include <stdint.h>

enum { PROTO_LOG_DEBUG = 0, PROTO_LOG_INFO, PROTO_LOG_WARN, PROTO_LOG_ERROR };

/* Returns the level named "debug", "info", "warn" or "error", or -1. */
int proto_logfmt_level(const char *name);

/* Writes s (len bytes) into out as a logfmt value: bare if it holds only
 * safe characters, else quoted with \" \\ \n escaped and other control or
 * non-ASCII bytes as \xNN, truncated to fit cap. Returns out. */
char *proto_logfmt_quote(char *out, size_t cap, const char *s, size_t len);

/* Builds one line into out (cap >= 64 bytes): ts (UTC, ms) level prog and
 * msg (always quoted), then kvs (space-separated key=value pairs, or NULL),
 * then a newline, truncated to fit. Returns its length. */
size_t proto_logfmt_line(char *out, size_t cap, int64_t ts_ms, int level, const char *prog,
                         const char *msg, const char *kvs);

#endif

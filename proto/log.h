/* log.h: logfmt lines on stderr (SPEC 10): ts=… level=… msg="…" key=value. */
#ifndef PROTO_LOG_H
#define PROTO_LOG_H

#include <stddef.h>

enum { PROTO_LOG_DEBUG = 0, PROTO_LOG_INFO, PROTO_LOG_WARN, PROTO_LOG_ERROR };

/* Sets the lowest level printed from "debug", "info", "warn" or "error".
 * Returns 0, or -1 for an unknown name. */
int proto_log_set_level(const char *name);

/* Sets the program name printed as prog=… on every line. */
void proto_log_set_prog(const char *prog);

/* Writes one line: msg is quoted; kvfmt (printf format, may be NULL) must
 * produce space-separated key=value pairs. Thread-safe; one write(2) per
 * line. */
void proto_log(int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

#define proto_debug(...) proto_log(PROTO_LOG_DEBUG, __VA_ARGS__)
#define proto_info(...) proto_log(PROTO_LOG_INFO, __VA_ARGS__)
#define proto_warn(...) proto_log(PROTO_LOG_WARN, __VA_ARGS__)
#define proto_error(...) proto_log(PROTO_LOG_ERROR, __VA_ARGS__)

/* Writes s (len bytes) into out as a logfmt value: bare if it holds only
 * safe characters, else quoted with \" \\ \n escaped and other control or
 * non-ASCII bytes as \xNN, truncated to fit cap. Returns out. */
char *proto_log_quote(char *out, size_t cap, const char *s, size_t len);

#endif

/* log.h: the log writer (SPEC 10): one logfmt line per event on stderr,
 * built by proto/logfmt.c. */
#ifndef SYS_LOG_H
#define SYS_LOG_H

#include "logfmt.h"

/* Sets the lowest level printed from "debug", "info", "warn" or "error".
 * Returns 0, or -1 for an unknown name. */
int sys_log_set_level(const char *name);

/* Sets the program name printed as prog=… on every line. */
void sys_log_set_prog(const char *prog);

/* Writes one line: msg is quoted; kvfmt (printf format, may be NULL) must
 * produce space-separated key=value pairs. Thread-safe; one write(2) per
 * line. */
void sys_log(int level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Holds back the calling thread's warn and error lines, counting them: a
 * daemon retrying an outage says its first failure, not every retry. */
void sys_log_hush(void);

/* Lets them through again. Returns the number held back, or -1 if the
 * thread was not hushed. */
int sys_log_speak(void);

/* Returns 1 if the calling thread is hushed. */
int sys_log_hushed(void);

#define sys_debug(...) sys_log(PROTO_LOG_DEBUG, __VA_ARGS__)
#define sys_info(...) sys_log(PROTO_LOG_INFO, __VA_ARGS__)
#define sys_warn(...) sys_log(PROTO_LOG_WARN, __VA_ARGS__)
#define sys_error(...) sys_log(PROTO_LOG_ERROR, __VA_ARGS__)

#endif

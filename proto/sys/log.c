/* log.c: writes logfmt lines to stderr, one write(2) per line (SPEC 10). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "clock.h"

static int log_level = PROTO_LOG_INFO;
static const char *log_prog = "actiongap";
static _Thread_local int log_hushed = -1;     /* -1: speaking; else lines held back */

/* Sets the lowest level printed. Returns 0, or -1 for an unknown name. */
int sys_log_set_level(const char *name)
{
    int l = proto_logfmt_level(name);
    if (l < 0)
        return -1;
    log_level = l;
    return 0;
}

/* Sets the program name printed on every line; never fails. */
void sys_log_set_prog(const char *prog)
{
    log_prog = prog;
}

/* Writes one logfmt line to stderr; drops it silently if it cannot be written. */
void sys_log(int level, const char *msg, const char *kvfmt, ...)
{
    char line[2048], kvs[1536];
    if (level < log_level)
        return;
    if (log_hushed >= 0 && level >= PROTO_LOG_WARN) {
        log_hushed++;
        return;
    }
    kvs[0] = 0;
    if (kvfmt && *kvfmt) {
        va_list ap;
        va_start(ap, kvfmt);
        vsnprintf(kvs, sizeof kvs, kvfmt, ap);
        va_end(ap);
    }
    size_t n = proto_logfmt_line(line, sizeof line, sys_now_ms(), level, log_prog, msg, kvs);
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

/* Holds back this thread's warn and error lines (counted) until
 * sys_log_speak; never fails. */
void sys_log_hush(void)
{
    if (log_hushed < 0)
        log_hushed = 0;
}

/* Lets this thread's warn and error lines through again. Returns how many
 * were held back since sys_log_hush, or -1 if it was not hushed. */
int sys_log_speak(void)
{
    int n = log_hushed;
    log_hushed = -1;
    return n;
}

/* Returns 1 if this thread's warn and error lines are held back. */
int sys_log_hushed(void)
{
    return log_hushed >= 0;
}

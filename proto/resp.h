/* resp.h: Redis commands in RESP, built into a growable buffer without
 * printf: the formatting hiredis' redisFormatCommand does, for callers that
 * build long pipelines. No I/O; hand the bytes to redisAppendFormattedCommand
 * (or write them). */
#ifndef PROTO_RESP_H
#define PROTO_RESP_H

#include <stddef.h>

/* A growable byte buffer counting the arguments written to it. A command is
 * built as its arguments in one proto_resp, then framed into another with
 * proto_resp_command. */
typedef struct {
    char *data;
    size_t len, cap;
    size_t nargs;       /* arguments appended since the last reset */
    int oom;            /* set once an allocation failed; later appends are dropped */
} proto_resp;

/* Empties r, keeping its memory; clears oom. */
void proto_resp_reset(proto_resp *r);
/* Frees r's memory and zeroes it; proto_resp_free of a zeroed r is a no-op. */
void proto_resp_free(proto_resp *r);

/* Appends one bulk-string argument ("$n\r\n" s "\r\n"); on allocation
 * failure sets r->oom. */
void proto_resp_arg(proto_resp *r, const void *s, size_t n);
/* Appends a NUL-terminated argument; see proto_resp_arg. */
void proto_resp_str(proto_resp *r, const char *s);
/* Appends a decimal integer argument; see proto_resp_arg. */
void proto_resp_ll(proto_resp *r, long long v);
/* Appends every argument of src to r (src unchanged); see proto_resp_arg. */
void proto_resp_cat(proto_resp *r, const proto_resp *src);
/* Appends to out one whole command ("*n\r\n" then the arguments) made of
 * the arguments in args; out's nargs is not changed. Sets out->oom on
 * allocation failure. */
void proto_resp_command(proto_resp *out, const proto_resp *args);

/* Writes v in decimal at p (at most 20 bytes, no NUL). Returns the end. */
char *proto_resp_put_ll(char *p, long long v);

#endif

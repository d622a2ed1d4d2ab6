/* hit_int.h: private to hit.c and hit_codec.c — the shared field validators and name tables. */
#ifndef PROTO_HIT_INT_H
#define PROTO_HIT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hit.h"

/* Names of proto_via and proto_agent values, indexed by value. */
extern const char *const proto_hit_via_names[PROTO_VIA_COUNT];
extern const char *const proto_hit_agent_names[PROTO_AGENT_COUNT];

/* Reports whether v is a built-in event or a custom [a-z][a-z0-9_]{0,31};
 * returns 0 when not. */
int proto_hit_valid_event(const char *v, size_t n);

/* Parses ASCII digits (no sign, at most maxdig) into *out without overflow;
 * returns 0, or -1 on anything else. */
int proto_hit_parse_uint(const char *v, size_t n, size_t maxdig, int64_t *out);

/* Copies n bytes into a NUL-terminated field; never fails (callers checked n). */
static inline void proto_hit_put(char *dst, const char *v, size_t n)
{
    memcpy(dst, v, n);
    dst[n] = '\0';
}

#endif

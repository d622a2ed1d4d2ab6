/* url.h: strict percent-decoding, RFC 3986 encoding, query iteration and
 * redirect-target validation. No I/O, no allocation. */
#ifndef PROTO_URL_H
#define PROTO_URL_H

#include <stddef.h>

/* Decodes src (len bytes, form encoding: '+' is a space when plus_is_space)
 * into dst (cap bytes; not NUL-terminated). Rejects a '%' not followed by
 * two hex digits, a decoded NUL, and invalid UTF-8 (overlong, surrogates,
 * truncated sequences). Returns the decoded length, -1 on bad encoding, -2
 * if dst is too small. With dst NULL it only validates and returns the
 * length the decoded text would have. */
long proto_url_decode(char *dst, size_t cap, const char *src, size_t len,
                      int plus_is_space);

/* Encodes src per RFC 3986: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX
 * (uppercase hex). Writes a NUL-terminated string into dst. Returns the
 * length written, or -1 if dst (cap bytes) is too small. */
long proto_url_encode(char *dst, size_t cap, const char *src, size_t len);

/* One raw (still encoded) name=value pair of a query string. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} proto_url_pair;

/* Splits a query string on '&' into raw pairs (a pair without '=' has an
 * empty value; empty segments are skipped). Returns the number of pairs, or
 * -1 if there are more than max. */
int proto_url_split(const char *q, size_t len, proto_url_pair *pairs, int max);

/* Validates a redirect target: an absolute http or https URL of at most
 * 2048 bytes with a non-empty host, no userinfo ('@' before the host end),
 * no backslash, no control characters or spaces, no CR/LF. On success copies
 * the lower-cased host (without port) into host (cap bytes, NUL-terminated)
 * and returns 0; returns -1 otherwise. */
int proto_url_target(const char *url, size_t len, char *host, size_t cap);

/* Returns 1 if host equals a name in the comma-separated allow list, or is
 * a subdomain of an entry written as ".example.org"; 0 otherwise. Matching
 * is case-insensitive. */
int proto_url_host_allowed(const char *host, const char *allow_list);

#endif

/* sign.h: link signatures — canonical query and HMAC-SHA256 (SPEC 6). */
#ifndef PROTO_SIGN_H
#define PROTO_SIGN_H

#include <stddef.h>

/* Computes the signature of a raw query string (encoded, without '?'): the
 * canonical form of every decoded parameter but `sig`, sorted by name then
 * value, each re-encoded per RFC 3986, joined with '&'; then the first 16
 * bytes of HMAC-SHA256(key, canonical), base64url without padding, written
 * NUL-terminated into out (at least 23 bytes). Returns 0, or -1 if the query
 * cannot be decoded or has more than PROTO_PARAMS_MAX parameters. */
int proto_sign_query(const char *key, size_t key_len, const char *q, size_t len,
                     char out[23]);

/* Checks the `sig` parameter of a raw query against proto_sign_query, in
 * constant time. Returns 1 if valid, 0 if absent or wrong. */
int proto_sign_verify(const char *key, size_t key_len, const char *q, size_t len);

/* Builds the canonical query of raw query q into dst (cap bytes,
 * NUL-terminated). Returns its length, or -1 (bad encoding, too many
 * parameters, dst too small). Exposed for tests and the `actiongap link`
 * command. */
long proto_sign_canonical(char *dst, size_t cap, const char *q, size_t len);

/* Computes HMAC-SHA256(key, the n parts concatenated) into out. Returns 0,
 * or -1 (empty key, OpenSSL failure). */
int proto_sign_hmac(const char *key, size_t key_len, const void *const parts[],
                    const size_t lens[], int n, unsigned char out[32]);

/* Decodes base64url without padding into out (cap bytes); with any set,
 * the standard alphabet ('+', '/') and '=' padding too. Returns the
 * length, or -1 on a bad character, a bad length or no room. */
long proto_sign_b64_decode(const char *in, size_t n, int any, unsigned char *out, size_t cap);

/* ---- attribution tokens (SPEC 7): what a tracked link hands its landing
 * page, so that the actions there are credited to the advocate ---- */

/* What a token carries (each may be empty but the campaign). */
typedef struct {
    char campaign[65];
    char ref[65];
    char subject[129];
} proto_attr;

/* Writes the token of a into out (cap bytes, NUL-terminated): the
 * base64url of the canonical query c=…&ref=…&s=… (empty ones left out),
 * '.', its signature under a key derived from key (so a token is never a
 * valid link signature). Returns its length, or -1 if it does not fit or a
 * value is invalid. */
long proto_attr_token(const char *key, size_t key_len, const proto_attr *a, char *out,
                      size_t cap);

/* Checks token (len bytes) against key and fills a from it. Returns 1 if
 * it is valid (signature, and the values a hit would accept), else 0. */
int proto_attr_verify(const char *key, size_t key_len, const char *token, size_t len,
                      proto_attr *a);

#endif

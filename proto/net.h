/* net.h: client addresses — truncation for storage, CIDR lists, and the
 * X-Forwarded-For rule for trusted proxies (SPEC 6). Strings in, strings
 * out: nothing here touches a socket. */
#ifndef PROTO_NET_H
#define PROTO_NET_H

#include <stddef.h>
#include <stdint.h>

typedef enum { PROTO_STORE_IP_TRUNCATED = 0, PROTO_STORE_IP_FULL, PROTO_STORE_IP_NONE } proto_store_ip;

/* Writes the stored form of textual address ip into out (cap bytes):
 * truncated to /24 (IPv4, "203.0.113.0") or /48 (IPv6, "2001:db8:1::"),
 * unchanged, or empty, per mode. Returns 0, or -1 if ip is not an address. */
int proto_net_store(const char *ip, proto_store_ip mode, char *out, size_t cap);

/* A parsed list of CIDR ranges. */
#define PROTO_CIDR_MAX 64
typedef struct {
    int n;
    struct {
        int family;          /* 4 or 6 */
        uint8_t addr[16];
        int bits;
    } e[PROTO_CIDR_MAX];
} proto_cidrs;

/* Parses a comma-separated list of addresses or CIDRs ("10.0.0.0/8,::1").
 * Returns 0, or -1 naming nothing (the caller names the key) on a bad
 * entry or more than PROTO_CIDR_MAX. An empty list is valid. */
int proto_net_cidrs_parse(proto_cidrs *c, const char *list);

/* Returns 1 if textual address ip is inside one of c's ranges, else 0. */
int proto_net_cidrs_match(const proto_cidrs *c, const char *ip);

/* Picks the client address: the peer, unless the peer is trusted, in which
 * case the right-most address of X-Forwarded-For (xff, may be NULL) that is
 * not itself trusted (or the left-most if all are). Writes it to out.
 * Returns 0, or -1 if no valid address results. */
int proto_net_client_ip(const char *peer, const char *xff, size_t xff_len,
                        const proto_cidrs *trusted, char *out, size_t cap);

#endif

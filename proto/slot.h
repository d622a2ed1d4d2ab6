/* slot.h: Redis Cluster's arithmetic — a key's hash slot (CRC16, hash tags
 * honoured), where an encoded command's routing key is, and what a MOVED or
 * ASK error says. No I/O, no allocation. */
#ifndef PROTO_SLOT_H
#define PROTO_SLOT_H

#include <stddef.h>

#define PROTO_SLOTS 16384

/* Returns the hash slot of key (len bytes): CRC16/XMODEM of the key, or of
 * the text between its first '{' and the next '}' when that is not empty,
 * modulo 16384. Cannot fail. */
unsigned proto_slot(const char *key, size_t len);

/* What an encoded command is routed by. */
typedef enum {
    PROTO_ROUTE_KEY,        /* by *key: one key, or the first of keys of one slot */
    PROTO_ROUTE_ANY,        /* no key: any master (PING, INFO, PUBLISH, WAIT…) */
    PROTO_ROUTE_ALL,        /* to every master (SCRIPT LOAD/FLUSH/EXISTS) */
} proto_route;

/* Finds the end of the first command in buf (a RESP array of bulk strings,
 * as hiredis formats it): *cmdlen its bytes. Returns its argument count, or
 * -1 if buf does not start with a whole command. */
int proto_cmd_span(const char *buf, size_t len, size_t *cmdlen);

/* Points *arg (and *arglen) at argument i of the encoded command cmd (len
 * bytes). Returns 0, or -1 if there is no such argument. */
int proto_cmd_arg(const char *cmd, size_t len, int i, const char **arg, size_t *arglen);

/* Says how the encoded command cmd is routed, pointing *key / *klen at its
 * routing key for PROTO_ROUTE_KEY: argv[1] for most commands, the first
 * key of EVAL/EVALSHA/FCALL (keyless when numkeys is 0), the first stream
 * after STREAMS of XREAD/XREADGROUP, argv[2] of XGROUP/XINFO/OBJECT/MEMORY
 * USAGE subcommands. Returns the route, or -1 if cmd is malformed. */
int proto_cmd_route(const char *cmd, size_t len, const char **key, size_t *klen);

/* A redirection parsed from an error reply. */
typedef struct {
    int ask;                /* 1: ASK (ask once, map unchanged); 0: MOVED */
    unsigned slot;
    char host[256];
    int port;
} proto_redirect;

/* Parses "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>" (an
 * empty host means the node that answered). Returns 0, or -1 if err is
 * neither. */
int proto_redirect_parse(const char *err, size_t len, proto_redirect *out);

#endif

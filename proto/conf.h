/* conf.h: the configuration of every actiongap program — one struct, one
 * table (key, offset, parser, default), validated once at start (SPEC 8).
 * Sources, weakest first: defaults, AG_* environment, the --config file,
 * then --flags. */
#ifndef PROTO_CONF_H
#define PROTO_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "hook.h"
#include "prom.h"
#include "net.h"

typedef enum { PROTO_SIG_NONE = 0, PROTO_SIG_LINKS, PROTO_SIG_ALL } proto_require_sig;
/* When the spool reaches the disk (RELIABILITY.md, the crash window). */
typedef enum { PROTO_FSYNC_ALWAYS = 0, PROTO_FSYNC_SECOND, PROTO_FSYNC_NEVER } proto_spool_fsync;
/* The body of an alert webhook (SPEC 4); auto picks one from the URL. */
typedef enum { PROTO_WH_AUTO = 0, PROTO_WH_SLACK, PROTO_WH_DISCORD, PROTO_WH_TEAMS, PROTO_WH_NTFY,
               PROTO_WH_JSON } proto_webhook_format;
/* Their names, in that order, NULL-terminated (the key's values, and the
 * per-campaign field's). */
extern const char *const proto_webhook_format_names[];

typedef struct proto_conf {
    char listen[128];
    char redis[512];
    char prefix[64];
    int partitions;
    int partitions_auto;        /* partitions = 0 was meant: set by the Redis kind */
    int threads;
    char spool_dir[512];
    int64_t spool_max_bytes;
    int64_t queue_max;          /* hits held in memory awaiting Redis, per thread */
    int redis_timeout_ms;       /* a reply later than this: Redis is hung */
    int replicas_ack;           /* WAIT for this many replicas before forgetting a write (0: no wait) */
    char signing_key[256];
    char api_token[256];
    proto_require_sig require_signature;
    char redirect_allow[1024];
    char cors_allow[1024];
    char trusted_proxies_text[1024];
    proto_cidrs trusted_proxies;
    proto_store_ip store_ip;
    proto_spool_fsync spool_fsync;
    int honor_gpc;
    int allow_eviction;         /* run against a Redis whose maxmemory-policy evicts keys */
    int carry_attribution;      /* /r appends ag_attr=<token> to the target (SPEC 7) */
    int followup_sla_s;
    char webhook[1024];
    proto_webhook_format webhook_format;
    char alert_email_to[1024];  /* comma-separated addresses; empty: no e-mail */
    char alert_email_from[256]; /* empty: actiongap@<hostname> */
    char smtp_url[512];
    int retention_hours;
    int retention_days;
    int keep_hours;
    int audience_days;
    int64_t audience_max;
    char metrics_listen[128];
    char dashboard_listen[128];
    char dashboard_token[256];
    char dashboard_url[512];
    char base_url[512];
    int max_header_bytes;
    int max_body_bytes;
    int header_timeout_s;
    int idle_timeout_s;
    int max_connections;
    int batch;                  /* aggregator: entries per read */
    int batch_max;              /* aggregator: entries applied together from a backlog */
    int batch_wait_ms;          /* aggregator: a round gathers entries this long */
    char consumer[64];          /* aggregator: consumer name (default host-pid) */
    char log_level[16];         /* debug | info | warn | error */
    int link_refresh_s;         /* the collector reloads every short link this often */
    char short_url[512];        /* public base of short links ("": base_url + /s) */
    char short_hosts[1024];     /* hosts on which GET /<code> is a short link */
    int attribution_first;      /* attribution = first: the first tracked link of a visit wins */
    int accept_unsigned_ref;    /* a landing page's ?via=<advocate> credits the advocate */
    int hook_window_s;          /* a signed hook request's timestamp may be this far from now */
    char subject_hash[256];     /* key of the hash an e-mail subject becomes ("": kept as given) */
    proto_hooks hooks;          /* hook.<name>.<field> (proto/hook.h) */
} proto_conf;

/* Fills c with every default. */
void proto_conf_defaults(proto_conf *c);

/* The three sources, weakest first (sys_conf_load in proto/sys/conffile.c
 * reads the environment and the file and applies them in this order). Each
 * returns 0, or -1 with one line naming the key and the reason in err. */

/* Applies the AG_<KEY> variables that lookup finds (e.g. getenv). */
int proto_conf_env(proto_conf *c, const char *(*lookup)(const char *name), char *err,
                   size_t err_cap);

/* Finds --config FILE (or --config=FILE) in argv; *file is NULL if none. */
int proto_conf_file_arg(int argc, char **argv, const char **file, char *err, size_t err_cap);

/* Applies the key = value lines of text (a config file's contents; path
 * names it in messages; # comments). */
int proto_conf_text(proto_conf *c, const char *text, const char *path, char *err,
                    size_t err_cap);

/* Applies the --flags of argv (argv[0] skipped; "--key value" and
 * "--key=value"; dashes or underscores). Arguments that are not
 * configuration keys are left for the caller: their indexes are stored in
 * rest[] (at most rest_cap) and their count in *nrest. */
int proto_conf_args(proto_conf *c, int argc, char **argv, int *rest, int rest_cap, int *nrest,
                    char *err, size_t err_cap);

/* Sets one key from text, validating it. Returns 0, or -1 with the reason
 * in err. */
int proto_conf_set(proto_conf *c, const char *key, const char *value, char *err,
                   size_t err_cap);

/* Checks what spans keys once every source is applied (the hooks: each
 * complete). Returns 0, or -1 with one line naming the key in err. */
int proto_conf_check(proto_conf *c, char *err, size_t err_cap);

/* Checks a comma-separated list of e-mail addresses (local@domain, no
 * spaces, quotes, angle brackets or control characters); max is the most
 * addresses allowed (1 for a single address). Returns how many there are,
 * or -1 if one is malformed or there are too many. */
int proto_conf_emails(const char *list, int max);

/* Splits "host:port" / "[v6]:port" / ":port". Returns 0 or -1. */
int proto_conf_hostport(const char *s, char *host, size_t cap, int *port);

/* Hit stream partitions on a cluster unless `partitions` says otherwise:
 * enough for every master of a large cluster to hold some. */
#define PROTO_CLUSTER_PARTITIONS 16

/* A Redis address split from the `redis` key. */
typedef struct {
    char host[256];
    int port;             /* 6379 unless given */
    char path[256];       /* unix socket path, or "" for TCP */
    char user[128];
    char pass[256];
    int db;
    int cluster;          /* redis+cluster://: host and port are the first seed */
    char seeds[1024];     /* cluster: "host:port,host:port,..." */
} proto_redis_addr;

/* Splits a redis URL ("redis://[user:pass@]host[:port][/db]",
 * "unix:///path" or "redis+cluster://[user:pass@]host:port,host:port,...")
 * into a. Returns 0, or -1 if it is malformed. */
int proto_conf_redis_addr(const char *url, proto_redis_addr *a);

/* Splits seed k (0, 1, ...) of a cluster's seed list ("host:port,...",
 * proto_redis_addr.seeds) into host and port. Returns 0, or -1 past the
 * last seed or if it is malformed. */
int proto_conf_seed(const char *seeds, int k, char *host, size_t cap, int *port);

/* One key of the table, for the manual (proto/conf_man.c) and its test. */
typedef struct {
    const char *key;
    const char *type;           /* what a value looks like: "integer", "host:port", ... */
    const char *def;            /* "" when empty */
    const char *help;           /* one line */
    const char *const *names;   /* a word key's values, NULL-terminated; else NULL */
    int ranged;                 /* integer keys: min and max apply */
    int64_t min, max;
} proto_conf_doc;

/* Describes key i (0, 1, ... in table order) into d. Returns 0, or -1 past
 * the last key. */
int proto_conf_doc_at(size_t i, proto_conf_doc *d);

/* Writes the keys as man(7) source: a .TP entry per key of the table, then
 * the hook.<name>.<field> keys (proto/conf_man.c). Never fails (see b->oom). */
void proto_conf_man(proto_buf *b);

/* Writes text to b escaped for man(7) (backslashes, leading dots and
 * quotes, minus signs); never fails. */
void proto_man_text(proto_buf *b, const char *text, size_t len);

/* Writes every key, its default and a one-line description (for --help)
 * into b. */
void proto_conf_usage(proto_buf *b);

#endif

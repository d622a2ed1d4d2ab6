/* conf.c: the configuration table — key, offset, parser, default — and its
 * three sources (environment, file text, flags), validated once at start;
 * no I/O (proto/sys/conffile.c reads the environment and the file). */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "logfmt.h"
#include "prom.h"

typedef enum { T_STR, T_INT, T_I64, T_ENUM, T_BOOL, T_CIDRS, T_HOSTPORT, T_REDIS, T_URL,
               T_LEVEL, T_PREFIX, T_HOSTS, T_EMAILS, T_EMAIL, T_SMTP } conf_type;

typedef struct {
    const char *key;
    conf_type type;
    size_t off;
    size_t size;           /* T_STR family: buffer size */
    int64_t min, max;      /* T_INT, T_I64 */
    const char *const *names; /* T_ENUM: NULL-terminated */
    const char *def;
    const char *help;
} conf_key;

static const char *const req_sig_names[] = {"none", "links", "all", NULL};
static const char *const store_ip_names[] = {"truncated", "full", "none", NULL};
static const char *const spool_fsync_names[] = {"always", "second", "never", NULL};
static const char *const attribution_names[] = {"last", "first", NULL};
const char *const proto_webhook_format_names[] = {"auto", "slack", "discord", "teams", "ntfy",
                                                  "json", NULL};

#define S(k, t, d, h) {#k, t, offsetof(proto_conf, k), sizeof(((proto_conf *)0)->k), 0, 0, NULL, d, h}
#define I(k, lo, hi, d, h) {#k, T_INT, offsetof(proto_conf, k), 0, lo, hi, NULL, d, h}
#define L(k, lo, hi, d, h) {#k, T_I64, offsetof(proto_conf, k), 0, lo, hi, NULL, d, h}
#define E(k, n, d, h) {#k, T_ENUM, offsetof(proto_conf, k), 0, 0, 0, n, d, h}

/* The one table of every configuration key. */
static const conf_key conf_table[] = {
    S(listen, T_HOSTPORT, "127.0.0.1:8080", "collector HTTP address, host:port"),
    S(redis, T_REDIS, "redis://127.0.0.1:6379/0",
      "redis://[user:pass@]host:port/db, unix:///path or redis+cluster://[user:pass@]host:port,host:port,..."),
    S(prefix, T_PREFIX, "ag:", "prefix of every Redis key"),
    I(partitions, 0, 1024, "0", "hit stream partitions (0: 1 on one Redis, 16 on a cluster)"),
    I(threads, 1, 64, "1", "collector event-loop threads"),
    S(spool_dir, T_STR, "./var/spool", "directory of the collector's spool files"),
    L(spool_max_bytes, 4096, INT64_C(1) << 50, "1073741824", "spool size beyond which new hits are dropped"),
    E(spool_fsync, spool_fsync_names, "second",
      "always (each spooled hit on disk before its answer) | second | never (the kernel decides)"),
    L(queue_max, 16, 100000000, "100000", "hits per thread held in memory awaiting Redis, or the disk"),
    {"allow_eviction", T_BOOL, offsetof(proto_conf, allow_eviction), 0, 0, 0, NULL, "no", "run even if Redis's maxmemory-policy evicts keys (counts may silently lose data)"},
    I(redis_timeout_ms, 50, 600000, "2000", "a Redis reply later than this counts as a hung server"),
    I(replicas_ack, 0, 16, "0",
      "replicas that must hold a write (WAIT) before a hit leaves the collector's memory and applied hits are acknowledged"),
    S(signing_key, T_STR, "", "HMAC key for link signatures"),
    S(api_token, T_STR, "", "bearer token of /api/hits (empty: the API is closed)"),
    E(require_signature, req_sig_names, "links", "none | links | all"),
    S(redirect_allow, T_HOSTS, "", "hosts /r may redirect to unsigned (comma-separated; .example.org for subdomains)"),
    S(cors_allow, T_STR, "*", "origins allowed to POST /b (comma-separated, * for any)"),
    {"trusted_proxies", T_CIDRS, offsetof(proto_conf, trusted_proxies_text),
     sizeof(((proto_conf *)0)->trusted_proxies_text), 0, 0, NULL, "", "CIDRs whose X-Forwarded-For is believed"},
    E(store_ip, store_ip_names, "truncated", "truncated | full | none"),
    {"honor_gpc", T_BOOL, offsetof(proto_conf, honor_gpc), 0, 0, 0, NULL, "yes", "drop subject, ip and ua on Sec-GPC: 1 or DNT: 1"},
    {"carry_attribution", T_BOOL, offsetof(proto_conf, carry_attribution), 0, 0, 0, NULL, "yes", "tracked links hand the landing page a signed attribution token (ag_attr)"},
    I(followup_sla_s, 1, 31536000, "900", "default follow-up SLA, seconds"),
    S(webhook, T_URL, "", "default alert webhook (http or https URL)"),
    E(webhook_format, proto_webhook_format_names, "auto",
      "auto | slack | discord | teams | ntfy | json: the webhook's body (auto: from its URL)"),
    S(alert_email_to, T_EMAILS, "", "alerts by e-mail to these addresses (comma-separated; empty: none)"),
    S(alert_email_from, T_EMAIL, "", "sender of alert e-mail (default: actiongap@<hostname>)"),
    S(smtp_url, T_SMTP, "smtp://localhost:25", "mail server of alert e-mail: smtp://[user:pass@]host[:port] (STARTTLS if offered) or smtps://"),
    I(retention_hours, 1, 1000000, "2160", "hourly buckets kept, hours"),
    I(retention_days, 1, 100000, "730", "daily buckets kept, days"),
    I(keep_hours, 0, 1000000, "24", "stream history kept after it is applied, hours"),
    I(audience_days, 1, 36500, "90", "a subject stays in a campaign's audience this long after its last hit, days"),
    L(audience_max, 1024, INT64_C(1) << 40, "1000000", "subjects kept in one campaign's audience at most (past it: audience_full)"),
    S(metrics_listen, T_HOSTPORT, "127.0.0.1:8081", "aggregator /metrics and /healthz address"),
    S(dashboard_listen, T_HOSTPORT, "127.0.0.1:8082", "dashboard address (actiongap-dashboard), never the collector's"),
    S(dashboard_token, T_STR, "", "read-only bearer token of the whole dashboard (required by actiongap-dashboard, 16+ characters)"),
    S(dashboard_url, T_URL, "", "public URL of the dashboard that actiongap share builds on (default: http://dashboard_listen)"),
    S(base_url, T_URL, "http://127.0.0.1:8080", "public URL that actiongap link builds on"),
    I(max_header_bytes, 512, 1048576, "8192", "request line + headers limit"),
    I(max_body_bytes, 1024, 67108864, "65536", "request body limit"),
    I(header_timeout_s, 1, 3600, "10", "deadline to receive a request's headers"),
    I(idle_timeout_s, 1, 86400, "30", "keep-alive idle timeout"),
    I(max_connections, 1, 1000000, "10000", "open connections at most"),
    I(batch, 1, 100000, "1000", "aggregator: entries read per batch"),
    I(batch_max, 1, 1000000, "50000", "aggregator: entries applied together when reading a backlog (full reads of batch are merged)"),
    I(batch_wait_ms, 0, 10000, "250", "aggregator: how long a round keeps reading new entries before applying them"),
    S(consumer, T_STR, "", "aggregator consumer name (default: hostname-pid)"),
    I(link_refresh_s, 1, 86400, "60", "the collector reloads every short link this often (changes also arrive at once by pub/sub)"),
    S(short_url, T_URL, "", "public base of short links, e.g. https://go.example.org (default: base_url + /s)"),
    S(short_hosts, T_HOSTS, "", "hosts pointed at the collector on which GET /<code> is a short link (comma-separated)"),
    {"attribution", T_ENUM, offsetof(proto_conf, attribution_first), 0, 0, 0, attribution_names, "last",
     "last | first: which tracked link of a visit is credited"},
    {"accept_unsigned_ref", T_BOOL, offsetof(proto_conf, accept_unsigned_ref), 0, 0, 0, NULL, "no",
     "credit a landing page's unsigned ?via=<advocate> (no: counted apart as unverified)"},
    I(hook_window_s, 10, 86400, "300", "a signed hook request older or newer than this is refused (replays)"),
    S(subject_hash, T_STR, "", "key whose HMAC an e-mail subject from a hook becomes (empty: the address, lower-cased)"),
    {"log_level", T_LEVEL, offsetof(proto_conf, log_level), sizeof(((proto_conf *)0)->log_level),
     0, 0, NULL, "info", "debug | info | warn | error"},
};
#define CONF_N (sizeof conf_table / sizeof conf_table[0])

/* What each type's values look like, for the manual (in conf_type's order). */
static const char *const type_docs[] = {
    [T_STR] = "text", [T_INT] = "integer", [T_I64] = "integer", [T_ENUM] = "word",
    [T_BOOL] = "yes | no", [T_CIDRS] = "CIDR list", [T_HOSTPORT] = "host:port",
    [T_REDIS] = "Redis URL", [T_URL] = "URL", [T_LEVEL] = "level", [T_PREFIX] = "key prefix",
    [T_HOSTS] = "host list", [T_EMAILS] = "address list", [T_EMAIL] = "address",
    [T_SMTP] = "SMTP URL"};

/* Describes key i of the table into d. Returns 0, or -1 past the last key. */
int proto_conf_doc_at(size_t i, proto_conf_doc *d)
{
    if (i >= CONF_N)
        return -1;
    const conf_key *k = &conf_table[i];
    d->key = k->key;
    d->type = type_docs[k->type];
    d->def = k->def;
    d->help = k->help;
    d->names = k->names;
    d->ranged = k->type == T_INT || k->type == T_I64;
    d->min = k->min;
    d->max = k->max;
    return 0;
}

/* Finds a key by name, dashes and underscores alike. Returns NULL if unknown. */
static const conf_key *conf_find(const char *name, size_t len)
{
    for (size_t i = 0; i < CONF_N; i++) {
        const char *k = conf_table[i].key;
        size_t j = 0;
        for (; j < len && k[j]; j++) {
            char a = name[j] == '-' ? '_' : name[j];
            if (a != k[j])
                break;
        }
        if (j == len && k[j] == 0)
            return &conf_table[i];
    }
    return NULL;
}

/* Parses a decimal integer within [min, max]. Returns 0 or -1. */
static int parse_int(const char *v, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    if (!*v || isspace((unsigned char)*v))
        return -1;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || x < min || x > max)
        return -1;
    *out = x;
    return 0;
}

/* Checks a redis URL: redis://[user[:pass]@]host[:port][/db] or unix:///path.
 * Returns 0 or -1. */
#define CLUSTER_SCHEME "redis+cluster://"
#define CLUSTER_SEEDS_MAX 16

/* Splits seed k of a seed list. Returns 0, or -1 past the end or if it is
 * malformed. */
int proto_conf_seed(const char *seeds, int k, char *host, size_t cap, int *port)
{
    const char *p = seeds;
    for (; k > 0 && *p; k--)
        p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',');
    size_t n = strcspn(p, ",/");
    char one[300];
    if (!*p || n == 0 || n >= sizeof one)
        return -1;
    memcpy(one, p, n);
    one[n] = 0;
    return proto_conf_hostport(one, host, cap, port) < 0 || !host[0] ? -1 : 0;
}

/* Checks the seeds of a cluster URL ("[user:pass@]host:port,..." with an
 * optional "/0"). Returns 0, or -1 if malformed. */
static int check_cluster_url(const char *v)
{
    const char *h = strrchr(v, '@');
    h = h ? h + 1 : v;
    size_t n = strcspn(h, "/");
    if (h[n] == '/' && h[n + 1] && strcmp(h + n + 1, "0") != 0)
        return -1;          /* a cluster has database 0 only */
    if (n == 0 || h[n - 1] == ',' || strstr(h, ",,"))
        return -1;
    int seeds = 1;
    for (size_t i = 0; i < n; i++)
        seeds += h[i] == ',';
    char host[256];
    int port;
    for (int k = 0; k < seeds; k++)
        if (seeds > CLUSTER_SEEDS_MAX || proto_conf_seed(h, k, host, sizeof host, &port) < 0)
            return -1;
    return 0;
}

static int check_redis_url(const char *v)
{
    if (strncmp(v, "unix://", 7) == 0)
        return v[7] == '/' ? 0 : -1;
    if (strncmp(v, CLUSTER_SCHEME, strlen(CLUSTER_SCHEME)) == 0)
        return check_cluster_url(v + strlen(CLUSTER_SCHEME));
    if (strncmp(v, "redis://", 8) != 0)
        return -1;
    const char *h = strrchr(v + 8, '@');
    h = h ? h + 1 : v + 8;
    if (!*h || *h == '/' || *h == ':')
        return -1;
    const char *slash = strchr(h, '/');
    if (slash && slash[1]) {
        int64_t db;
        if (parse_int(slash + 1, 0, 1000, &db) < 0)
            return -1;
    }
    const char *colon = strchr(h, ':');
    if (colon && (!slash || colon < slash)) {
        char port[8];
        size_t n = (size_t)((slash ? slash : colon + strlen(colon)) - colon - 1);
        int64_t p;
        if (n == 0 || n >= sizeof port)
            return -1;
        memcpy(port, colon + 1, n);
        port[n] = 0;
        if (parse_int(port, 1, 65535, &p) < 0)
            return -1;
    }
    return 0;
}

/* Splits a redis URL into its parts. Returns 0, or -1 if malformed. */
int proto_conf_redis_addr(const char *url, proto_redis_addr *a)
{
    memset(a, 0, sizeof *a);
    a->port = 6379;
    if (check_redis_url(url) < 0)
        return -1;
    if (strncmp(url, "unix://", 7) == 0) {
        snprintf(a->path, sizeof a->path, "%s", url + 7);
        return 0;
    }
    int cluster = strncmp(url, CLUSTER_SCHEME, strlen(CLUSTER_SCHEME)) == 0;
    const char *h = url + (cluster ? strlen(CLUSTER_SCHEME) : 8), *at = strrchr(h, '@');
    if (at) {
        const char *colon = memchr(h, ':', (size_t)(at - h));
        if (colon) {
            snprintf(a->user, sizeof a->user, "%.*s", (int)(colon - h), h);
            snprintf(a->pass, sizeof a->pass, "%.*s", (int)(at - colon - 1), colon + 1);
        } else {
            snprintf(a->pass, sizeof a->pass, "%.*s", (int)(at - h), h);
        }
        h = at + 1;
    }
    if (cluster) {
        a->cluster = 1;
        snprintf(a->seeds, sizeof a->seeds, "%.*s", (int)strcspn(h, "/"), h);
        return proto_conf_seed(a->seeds, 0, a->host, sizeof a->host, &a->port);
    }
    size_t hl = strcspn(h, ":/");
    snprintf(a->host, sizeof a->host, "%.*s", (int)hl, h);
    h += hl;
    if (*h == ':') {
        a->port = atoi(h + 1);
        h += 1 + strcspn(h + 1, "/");
    }
    if (*h == '/' && h[1])
        a->db = atoi(h + 1);
    return 0;
}

/* Narrows [*b, *e), an item of a comma-separated list, past its spaces; cannot fail. */
static void item_trim(const char **b, const char **e)
{
    while (*b < *e && **b == ' ')
        (*b)++;
    while (*e > *b && (*e)[-1] == ' ')
        (*e)--;
}

/* Checks a list of e-mail addresses. Returns their count, or -1 if one is
 * malformed or there are more than max. */
int proto_conf_emails(const char *list, int max)
{
    int n = 0;
    for (const char *p = list;; p++) {
        size_t len = strcspn(p, ",");
        const char *b = p, *e = p + len;
        item_trim(&b, &e);
        const char *at = memchr(b, '@', (size_t)(e - b));
        if (!at || at == b || at + 1 == e || memchr(at + 1, '@', (size_t)(e - at - 1)) ||
            !memchr(at + 1, '.', (size_t)(e - at - 1)) || ++n > max)
            return -1;
        for (const char *q = b; q < e; q++)
            if ((unsigned char)*q <= ' ' || *q == 0x7f || strchr("\"<>()[]\\;:,", *q))
                return -1;
        p += len;
        if (!*p)
            return n;
    }
}

/* Splits "host:port", "[v6]:port" or ":port". Returns 0 or -1. */
int proto_conf_hostport(const char *s, char *host, size_t cap, int *port)
{
    const char *colon;
    size_t hl;
    const char *h = s;
    if (*s == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':')
            return -1;
        h = s + 1;
        hl = (size_t)(rb - h);
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        hl = (size_t)(colon - s);
    }
    if (hl >= cap)
        return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    int64_t p;
    if (parse_int(colon + 1, 0, 65535, &p) < 0)
        return -1;
    *port = (int)p;
    return 0;
}

/* Sets one key from text, validating it. Returns 0, or -1 with err filled. */
static int conf_apply(proto_conf *c, const conf_key *k, const char *v, char *err, size_t cap)
{
    char *base = (char *)c;
    const char *why = NULL;
    int64_t x;
    switch (k->type) {
    case T_INT:
    case T_I64:
        if (parse_int(v, k->min, k->max, &x) < 0) {
            snprintf(err, cap, "config: %s=%s: must be an integer from %lld to %lld", k->key, v,
                     (long long)k->min, (long long)k->max);
            return -1;
        }
        if (k->off == offsetof(proto_conf, partitions))
            c->partitions_auto = x == 0;
        if (k->type == T_INT)
            *(int *)(base + k->off) = (int)x;
        else
            *(int64_t *)(base + k->off) = x;
        return 0;
    case T_ENUM:
        for (int i = 0; k->names[i]; i++) {
            if (strcmp(v, k->names[i]) == 0) {
                *(int *)(base + k->off) = i;
                return 0;
            }
        }
        {
            int m = snprintf(err, cap, "config: %s=%s: must be one of", k->key, v);
            for (int i = 0; k->names[i] && m >= 0 && (size_t)m < cap; i++)
                m += snprintf(err + m, cap - (size_t)m, "%s%s", i ? " | " : " ", k->names[i]);
        }
        return -1;
    case T_BOOL:
        if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
            *(int *)(base + k->off) = 1;
        else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
            *(int *)(base + k->off) = 0;
        else {
            snprintf(err, cap, "config: %s=%s: must be yes or no", k->key, v);
            return -1;
        }
        return 0;
    case T_CIDRS:
        if (proto_net_cidrs_parse(&c->trusted_proxies, v) < 0)
            why = "must be a comma-separated list of addresses or CIDRs";
        break;
    case T_HOSTPORT: {
        char host[128];
        int port;
        if (proto_conf_hostport(v, host, sizeof host, &port) < 0)
            why = "must be host:port";
        break;
    }
    case T_REDIS:
        if (check_redis_url(v) < 0)
            why = "must be redis://[user:pass@]host[:port][/db] or unix:///path";
        break;
    case T_URL:
        if (*v && strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
            why = "must be an http:// or https:// URL";
        break;
    case T_EMAILS:
    case T_EMAIL:
        if (*v && proto_conf_emails(v, k->type == T_EMAIL ? 1 : 100) < 0)
            why = k->type == T_EMAIL ? "must be one e-mail address (name@domain)"
                                     : "must be comma-separated e-mail addresses (name@domain)";
        break;
    case T_SMTP: {
        const char *h = !strncmp(v, "smtp://", 7) ? v + 7 : !strncmp(v, "smtps://", 8) ? v + 8 : NULL;
        const char *at = h ? strrchr(h, '@') : NULL;
        h = at ? at + 1 : h;
        if (*v && (!h || !*h || *h == '/' || *h == ':' || strpbrk(v, " \t\r\n")))
            why = "must be smtp://[user:pass@]host[:port] or smtps://[user:pass@]host[:port]";
        break;
    }
    case T_LEVEL:
        if (proto_logfmt_level(v) < 0)
            why = "must be debug, info, warn or error";
        break;
    case T_PREFIX:
        for (const char *p = v; *p && !why; p++)
            if (*p <= ' ' || *p >= 0x7f || *p == '{' || *p == '}')
                why = "must be printable ASCII without spaces or braces";
        break;
    case T_HOSTS: /* host names, ".domain" for subdomains; never a bare "." */
        for (const char *p = v; *p && !why;) {
            size_t n = strcspn(p, ",");
            const char *b = p, *e = p + n;
            item_trim(&b, &e);
            size_t dots = 0, other = 0;
            for (const char *q = b; q < e; q++) {
                if (*q == '.')
                    dots++;
                else if ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                         (*q >= '0' && *q <= '9') || *q == '-')
                    other++;
                else
                    other = 0, dots = (size_t)(e - b) + 1; /* force the error below */
            }
            if (other == 0 || dots > (size_t)(e - b))
                why = "must be a comma-separated list of host names (.example.org for subdomains)";
            p += n + (p[n] == ',');
        }
        break;
    case T_STR:
        break;
    }
    if (!why && strlen(v) >= k->size)
        why = "too long";
    if (why) {
        snprintf(err, cap, "config: %s: %s", k->key, why);
        return -1;
    }
    memcpy(base + k->off, v, strlen(v) + 1);
    return 0;
}

/* Sets one key by name from text. Returns 0, or -1 with err filled. */
int proto_conf_set(proto_conf *c, const char *key, const char *value, char *err, size_t cap)
{
    if (strncmp(key, "hook.", 5) == 0)
        return proto_hook_conf_set(&c->hooks, key + 5, value, err, cap);
    const conf_key *k = conf_find(key, strlen(key));
    if (!k) {
        snprintf(err, cap, "config: %s: unknown key", key);
        return -1;
    }
    return conf_apply(c, k, value, err, cap);
}

/* Resolves `partitions = 0` (auto): 16 on a cluster, else 1; a value
 * given stays. Never fails. */
static void auto_partitions(proto_conf *c)
{
    if (c->partitions_auto)     /* conf_apply set it for a 0 */
        c->partitions = strncmp(c->redis, CLUSTER_SCHEME, strlen(CLUSTER_SCHEME)) == 0
                            ? PROTO_CLUSTER_PARTITIONS : 1;
}

/* Fills c with every default; never fails (the defaults are valid). */
void proto_conf_defaults(proto_conf *c)
{
    char err[256];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < CONF_N; i++)
        conf_apply(c, &conf_table[i], conf_table[i].def, err, sizeof err);
    auto_partitions(c);
}

/* Trims leading and trailing white space in place; returns the start. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

/* Applies key = value lines of text (a file's contents; path names it in
 * messages). Returns 0, or -1 with err naming the line. */
int proto_conf_text(proto_conf *c, const char *text, const char *path, char *err, size_t cap)
{
    char line[4096];
    int ln = 0;
    while (*text) {
        size_t n = strcspn(text, "\n");
        ln++;
        if (n >= sizeof line) {
            snprintf(err, cap, "config: %s:%d: line too long", path, ln);
            return -1;
        }
        memcpy(line, text, n);
        line[n] = 0;
        text += n + (text[n] == '\n');
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, cap, "config: %s:%d: expected key = value", path, ln);
            return -1;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        if (proto_conf_set(c, key, val, err, cap) < 0) {
            size_t m = strlen(err);
            snprintf(err + m, cap - m, " (%s:%d)", path, ln);
            return -1;
        }
    }
    return 0;
}

/* Applies AG_<KEY> variables found by lookup. Returns 0, or -1 with err
 * naming the key and the variable. */
int proto_conf_env(proto_conf *c, const char *(*lookup)(const char *name), char *err,
                   size_t cap)
{
    for (size_t i = 0; i < CONF_N; i++) {
        char env[64] = "AG_";
        size_t j = 3;
        for (const char *p = conf_table[i].key; *p && j < sizeof env - 1; p++)
            env[j++] = (char)toupper((unsigned char)*p);
        env[j] = 0;
        const char *v = lookup(env);
        if (v && conf_apply(c, &conf_table[i], v, err, cap) < 0) {
            size_t n = strlen(err);
            snprintf(err + n, cap - n, " (from %s)", env);
            return -1;
        }
    }
    return 0;
}

/* Finds --config FILE in argv. Returns 0 with *file (NULL if none), or -1
 * with err. */
int proto_conf_file_arg(int argc, char **argv, const char **file, char *err, size_t cap)
{
    *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, cap, "config: config: --config needs a file");
                return -1;
            }
            *file = argv[i + 1];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            *file = argv[i] + 9;
        }
    }
    return 0;
}

/* Applies the --flags of argv, leaving the other arguments' indexes in
 * rest. Returns 0, or -1 with err naming the key. */
int proto_conf_args(proto_conf *c, int argc, char **argv, int *rest, int rest_cap, int *nrest,
                    char *err, size_t cap)
{
    *nrest = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "--config=", 9) == 0)
            continue;
        const conf_key *k = NULL;
        const char *val = NULL;
        if (strncmp(a, "--hook.", 7) == 0) {    /* --hook.<name>.<field>[=]VALUE */
            const char *eq = strchr(a, '=');
            char key[256];
            snprintf(key, sizeof key, "%.*s", (int)(eq ? (size_t)(eq - a - 2) : strlen(a + 2)), a + 2);
            if (!eq && i + 1 >= argc) {
                snprintf(err, cap, "config: %s: --%s needs a value", key, key);
                return -1;
            }
            if (proto_conf_set(c, key, eq ? eq + 1 : argv[++i], err, cap) < 0)
                return -1;
            continue;
        }
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            k = conf_find(a + 2, len);
            if (k) {
                if (eq) {
                    val = eq + 1;
                } else if (i + 1 < argc) {
                    val = argv[++i];
                } else {
                    snprintf(err, cap, "config: %s: --%s needs a value", k->key, a + 2);
                    return -1;
                }
            }
        }
        if (!k) {
            if (*nrest < rest_cap)
                rest[(*nrest)++] = i;
            continue;
        }
        if (conf_apply(c, k, val, err, cap) < 0)
            return -1;
    }
    return 0;
}

/* Checks what spans keys. Returns 0, or -1 with err naming the key. */
int proto_conf_check(proto_conf *c, char *err, size_t cap)
{
    auto_partitions(c);
    return proto_hook_conf_check(&c->hooks, err, cap);
}

/* Writes every key with its default and description into b; never fails
 * (see b->oom). */
void proto_conf_usage(proto_buf *b)
{
    proto_buf_printf(b, "configuration (file key = value, flag --key VALUE, env AG_KEY):\n");
    for (size_t i = 0; i < CONF_N; i++) {
        const conf_key *k = &conf_table[i];
        proto_buf_printf(b, "  --%-20s %s (default: %s)\n", k->key, k->help,
                         *k->def ? k->def : "\"\"");
    }
    proto_buf_printf(b, "  --hook.NAME.FIELD      an inbound hook (file or flag, not env); FIELD is one of:\n");
    for (const proto_hook_field_doc *f = proto_hook_fields; f->field; f++)
        proto_buf_printf(b, "    %-20s %s\n", f->field, f->help);
}

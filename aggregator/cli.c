/* cli.c: the `actiongap` command — arguments, verbs dispatch, the Redis
 * connection and the formatting helpers the verbs share (SPEC 5). */
#include "clock.h"
#include "cli.h"
#include "conffile.h"
#include "redis.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "hit.h"
#include "keys.h"
#include "log.h"
#include "sign.h"
#include "url.h"

#define MAX_ARGS 64

/* The parsed command line after the configuration keys are taken out. */
typedef struct {
    const char *verb;
    const char *pos[MAX_ARGS];
    int npos;
    int json, follow;
    const char *limit, *count, *to, *ref, *subject, *event, *channel;
} cli_args;

/* Options of the verbs: name, whether a value follows, and where it goes. */
typedef struct {
    const char *name;
    int has_value;
    size_t off;
} cli_opt;

static const cli_opt cli_opts[] = {
    {"json", 0, offsetof(cli_args, json)},
    {"follow", 0, offsetof(cli_args, follow)},
    {"limit", 1, offsetof(cli_args, limit)},
    {"count", 1, offsetof(cli_args, count)},
    {"to", 1, offsetof(cli_args, to)},
    {"ref", 1, offsetof(cli_args, ref)},
    {"subject", 1, offsetof(cli_args, subject)},
    {"event", 1, offsetof(cli_args, event)},
    {"channel", 1, offsetof(cli_args, channel)},
};

/* Verbs: name, options allowed (space-separated, padded), positional count. */
static const struct {
    const char *verb;
    const char *opts;
    int npos;
} cli_verbs[] = {
    {"campaigns", " json ", 0},
    {"stats", " json ", 1},
    {"top", " json limit ", 1},
    {"pending", " json ", 1},
    {"followup", " json ", 2},
    {"alerts", " json follow count ", 0},
    {"link", " json to ref subject event channel ", 1},
};

/* Prints the usage text on out; never fails. */
static void usage(FILE *out)
{
    fputs("usage: actiongap [config flags] VERB [ARGS] [--json]\n"
          "\n"
          "verbs:\n"
          "  campaigns [--json]                 campaigns by last activity\n"
          "  stats C [--json]                   reach, actions, rates, the action gap,\n"
          "                                     scroll depth, follow-up latency, pending\n"
          "  top C [--json] [--limit N]         advocate leaderboard (actions, reach; N=20, 0 all)\n"
          "  pending C [--json]                 signups awaiting follow-up, oldest first\n"
          "  followup C SUBJECT [--json]        record a follow-up of SUBJECT (via=api)\n"
          "  alerts [--json] [--count N] [--follow]\n"
          "                                     last N alerts (20), then wait for new ones\n"
          "  link C [--to URL] [--ref A] [--subject S] [--event E] [--channel CH] [--json]\n"
          "                                     print a signed pixel URL (or /r link with --to)\n"
          "  help                               this text\n"
          "\n"
          "configuration (file, flag or AG_* environment, as the daemons):\n"
          "  --config FILE  --redis URL  --prefix P  --partitions N  --base-url URL\n"
          "  --signing-key K  --followup-sla-s S\n"
          "\n"
          "exit status: 0 success, 1 runtime error (e.g. Redis unreachable), 2 bad usage\n",
          out);
}

/* Reports a usage error (one line, then the usage); returns CLI_USAGE. */
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("actiongap: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n\n", stderr);
    usage(stderr);
    return CLI_USAGE;
}

/* ---------------------------------------------------------------- helpers */

/* Formats ms as UTC ISO 8601; returns buf, empty on failure. */
char *cli_fmt_time(char *buf, size_t cap, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (cap)
        buf[0] = '\0';
    if (cap && gmtime_r(&t, &tm) && strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        buf[0] = '\0';
    return buf;
}

/* Formats a duration compactly; returns buf (never fails). */
char *cli_fmt_duration(char *buf, size_t cap, double secs)
{
    long long s = secs > 0 ? llround(secs) : 0;

    if (s < 60)
        snprintf(buf, cap, "%llds", s);
    else if (s < 3600)
        snprintf(buf, cap, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, cap, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, cap, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
    return buf;
}

/* Parses a decimal integer; returns 0, or -1 if it is not one. */
int cli_parse_i64(const char *text, int64_t *out)
{
    char *end;
    long long v;

    *out = 0;
    if (!text || !*text)
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* Prints and frees a cJSON document; returns 0, or -1 if rendering failed. */
int cli_print_json(void *doc)
{
    char *s = cJSON_Print(doc);

    cJSON_Delete(doc);
    if (!s) {
        fputs("actiongap: out of memory rendering JSON\n", stderr);
        return -1;
    }
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    return 0;
}

/* Writes s into buf as a double-quoted string with control and non-ASCII
 * bytes escaped (for error lines); returns buf (truncated if long). */
static char *quoted(char *buf, size_t cap, const char *s)
{
    char tmp[300];

    proto_logfmt_quote(tmp, sizeof tmp, s, strlen(s));
    if (tmp[0] == '"')
        snprintf(buf, cap, "%s", tmp);
    else
        snprintf(buf, cap, "\"%s\"", tmp);
    return buf;
}

/* Checks a campaign id with the hit schema; returns 0, or -1 (printed). */
int cli_check_campaign(const char *verb, const char *c)
{
    proto_hit hit;
    unsigned seen = 0;
    char q[310];

    proto_hit_init(&hit);
    if (proto_hit_set(&hit, &seen, "c", 1, c, strlen(c)) == PROTO_OK && hit.campaign[0])
        return 0;
    fprintf(stderr, "actiongap: %s: invalid campaign id %s (want [A-Za-z0-9._-]{1,64})\n",
            verb, quoted(q, sizeof q, c));
    return -1;
}

/* ---------------------------------------------------------------- tables */

struct cli_table {
    int ncols;
    size_t nrows, cap;  /* rows, including the title row */
    char **cells;       /* nrows * ncols */
};

/* Creates a table with a title row; returns NULL (printed) on allocation
 * failure. */
cli_table *cli_table_new(int ncols, const char *const *titles)
{
    cli_table *t = calloc(1, sizeof *t);

    if (!t) {
        fputs("actiongap: out of memory\n", stderr);
        return NULL;
    }
    t->ncols = ncols;
    if (cli_table_add(t, titles) < 0) {
        cli_table_free(t);
        return NULL;
    }
    return t;
}

/* Appends a row of copied cells; returns 0, or -1 (printed) on allocation
 * failure. */
int cli_table_add(cli_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        char **c = realloc(t->cells, cap * (size_t)t->ncols * sizeof *c);
        if (!c) {
            fputs("actiongap: out of memory\n", stderr);
            return -1;
        }
        t->cells = c;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * (size_t)t->ncols;
    for (int i = 0; i < t->ncols; i++) {
        row[i] = strdup(cells[i] ? cells[i] : "");
        if (!row[i]) {
            while (i-- > 0)
                free(row[i]);
            fputs("actiongap: out of memory\n", stderr);
            return -1;
        }
    }
    t->nrows++;
    return 0;
}

/* Prints the rows with aligned columns; never fails. */
void cli_table_print(const cli_table *t, FILE *out)
{
    size_t w[32] = {0};
    int nc = t->ncols < 32 ? t->ncols : 32;

    for (size_t r = 0; r < t->nrows; r++)
        for (int c = 0; c < nc; c++) {
            size_t n = strlen(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (int c = 0; c < nc; c++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
            if (c == nc - 1)
                fprintf(out, "%s\n", s);
            else
                fprintf(out, "%-*s  ", (int)w[c], s);
        }
    }
}

/* Frees every cell and the table; NULL is a no-op. */
void cli_table_free(cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* ---------------------------------------------------------------- Redis */

/* Checks a reply; returns it, or NULL (freed, one line printed) if the
 * connection failed or Redis answered an error. */
static redisReply *checked(cli_ctx *x, redisReply *r)
{
    if (!r) {
        fprintf(stderr, "actiongap: lost Redis at %s: %s\n", x->where,
                x->rc->errstr[0] ? x->rc->errstr : "no reply");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "actiongap: Redis at %s answered: %s\n", x->where, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* Runs a formatted command; returns the reply or NULL (printed). */
redisReply *cli_cmd(cli_ctx *x, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(x->rc, fmt, ap);
    va_end(ap);
    return checked(x, r);
}

/* Runs a command from an argument vector; returns the reply or NULL (printed). */
redisReply *cli_cmdv(cli_ctx *x, int argc, const char **argv, const size_t *lens)
{
    return checked(x, redisCommandArgv(x->rc, argc, argv, lens));
}

/* Connects, authenticates and selects the database of conf.redis; returns
 * 0, or -1 after one line on stderr. */
int cli_connect(cli_ctx *x)
{
    char err[256];
    agg_redis_failure why;
    x->rc = agg_redis_connect(&x->conf, 2000, x->conf.redis_timeout_ms + 2000, x->where,
                              sizeof x->where, &why, err, sizeof err);
    if (!x->rc) {
        if (why == AGG_REDIS_REFUSED)
            fprintf(stderr, "actiongap: Redis at %s answered: %s\n", x->where, err);
        else
            fprintf(stderr, "actiongap: cannot reach Redis at %s: %s\n", x->where, err);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- followup */

/* Fills buf with 8 random hex digits; never fails (falls back to time/pid). */
static void random_hex(char buf[9])
{
    unsigned char b[4];
    FILE *f = fopen("/dev/urandom", "rb");

    if (!f || fread(b, 1, sizeof b, f) != sizeof b) {
        uint32_t v = (uint32_t)sys_now_ms() ^ ((uint32_t)clock() << 16);
        memcpy(b, &v, sizeof b);
    }
    if (f)
        fclose(f);
    snprintf(buf, 9, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

/* Sets one hit parameter for verb, naming the option on failure; returns 0
 * or -1 (printed). */
static int set_param(proto_hit *hit, unsigned *seen, const char *verb, const char *name,
                     const char *opt, const char *value)
{
    char q[310];
    proto_reason r;

    if (!value)
        return 0;
    r = proto_hit_set(hit, seen, name, strlen(name), value, strlen(value));
    if (r == PROTO_OK && *value)
        return 0;
    fprintf(stderr, "actiongap: %s: invalid %s %s (%s)\n", verb, opt,
            quoted(q, sizeof q, value),
            r == PROTO_OK ? "empty" : proto_reason_name(r));
    return -1;
}

/* Appends a followup hit for subject; returns an exit status. */
static int cmd_followup(cli_ctx *x, const char *campaign, const char *subject)
{
    proto_hit hit;
    unsigned seen = 0;
    proto_reason why;
    char key[PROTO_KEY_MAX], rnd[9], scratch[128];
    const char *argv[3 + 2 * PROTO_HIT_FIELDS], *names[PROTO_HIT_FIELDS],
        *values[PROTO_HIT_FIELDS];
    size_t lens[3 + 2 * PROTO_HIT_FIELDS], vlens[PROTO_HIT_FIELDS];
    redisReply *r;
    int n, argc = 0, rc;

    if (cli_check_campaign("followup", campaign) < 0)
        return CLI_USAGE;
    proto_hit_init(&hit);
    if (set_param(&hit, &seen, "followup", "c", "campaign", campaign) < 0 ||
        set_param(&hit, &seen, "followup", "e", "event", "followup") < 0 ||
        set_param(&hit, &seen, "followup", "s", "subject", subject) < 0)
        return CLI_USAGE;
    if ((why = proto_hit_finish(&hit, PROTO_VIA_API)) != PROTO_OK) {
        fprintf(stderr, "actiongap: followup: invalid hit (%s)\n", proto_reason_name(why));
        return CLI_USAGE;
    }
    hit.agent = PROTO_AGENT_HUMAN;
    hit.ts = sys_now_ms();
    random_hex(rnd);
    snprintf(hit.hid, sizeof hit.hid, "cli.%s-1", rnd);
    if (proto_key_hits(key, sizeof key, x->conf.prefix,
                       proto_partition(campaign, (unsigned)x->conf.partitions)) < 0) {
        fputs("actiongap: followup: key name too long\n", stderr);
        return CLI_ERR;
    }
    if (cli_connect(x) < 0)
        return CLI_ERR;
    n = proto_hit_fields(&hit, names, values, vlens, scratch, sizeof scratch);
    argv[argc] = "XADD", lens[argc++] = 4;
    argv[argc] = key, lens[argc++] = strlen(key);
    argv[argc] = "*", lens[argc++] = 1;
    for (int i = 0; i < n; i++) {
        argv[argc] = names[i], lens[argc++] = strlen(names[i]);
        argv[argc] = values[i], lens[argc++] = vlens[i];
    }
    if (!(r = cli_cmdv(x, argc, argv, lens)))
        return CLI_ERR;
    rc = CLI_OK;
    if (r->type != REDIS_REPLY_STRING) {
        fputs("actiongap: followup: unexpected reply to XADD\n", stderr);
        rc = CLI_ERR;
    } else if (x->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "campaign", campaign);
        cJSON_AddStringToObject(doc, "subject", subject);
        cJSON_AddStringToObject(doc, "entry", r->str);
        cJSON_AddStringToObject(doc, "stream", key);
        cJSON_AddStringToObject(doc, "hid", hit.hid);
        rc = cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
    } else {
        printf("followup recorded for %s in %s (entry %s)\n", subject, campaign, r->str);
    }
    freeReplyObject(r);
    return rc;
}

/* ---------------------------------------------------------------- link */

/* Appends "&name=<encoded value>" (no '&' first) to q; returns 0 or -1 if
 * q (cap bytes) is full. */
static int query_add(char *q, size_t cap, const char *name, const char *value)
{
    size_t n = strlen(q);
    long e;

    if (!value || !*value)
        return 0;
    int w = snprintf(q + n, cap - n, "%s%s=", n ? "&" : "", name);
    if (w < 0 || (size_t)w >= cap - n)
        return -1;
    n += (size_t)w;
    e = proto_url_encode(q + n, cap - n, value, strlen(value));
    return e < 0 ? -1 : 0;
}

/* Prints a signed pixel or tracked-link URL; returns an exit status. */
static int cmd_link(cli_ctx *x, const cli_args *a)
{
    proto_hit hit;
    unsigned seen = 0;
    proto_reason why;
    char q[8192] = "", sig[23], base[sizeof x->conf.base_url];
    size_t bl;

    if (cli_check_campaign("link", a->pos[0]) < 0)
        return CLI_USAGE;
    if (!x->conf.signing_key[0]) {
        fputs("actiongap: link: signing_key is not set (config key signing_key)\n", stderr);
        return CLI_USAGE;
    }
    proto_hit_init(&hit);
    if (set_param(&hit, &seen, "link", "c", "campaign", a->pos[0]) < 0 ||
        set_param(&hit, &seen, "link", "e", "--event", a->event) < 0 ||
        set_param(&hit, &seen, "link", "s", "--subject", a->subject) < 0 ||
        set_param(&hit, &seen, "link", "ref", "--ref", a->ref) < 0 ||
        set_param(&hit, &seen, "link", "ch", "--channel", a->channel) < 0 ||
        set_param(&hit, &seen, "link", "to", "--to", a->to) < 0)
        return CLI_USAGE;
    why = proto_hit_finish(&hit, a->to ? PROTO_VIA_CLICK : PROTO_VIA_PIXEL);
    if (why != PROTO_OK) {
        fprintf(stderr, "actiongap: link: the collector would reject this hit (%s)\n",
                proto_reason_name(why));
        return CLI_USAGE;
    }
    if (query_add(q, sizeof q, "c", a->pos[0]) < 0 || query_add(q, sizeof q, "e", a->event) < 0 ||
        query_add(q, sizeof q, "s", a->subject) < 0 || query_add(q, sizeof q, "ref", a->ref) < 0 ||
        query_add(q, sizeof q, "ch", a->channel) < 0 || query_add(q, sizeof q, "to", a->to) < 0) {
        fputs("actiongap: link: the query is too long\n", stderr);
        return CLI_USAGE;
    }
    if (proto_sign_query(x->conf.signing_key, strlen(x->conf.signing_key), q, strlen(q), sig) < 0) {
        fputs("actiongap: link: cannot sign the query\n", stderr);
        return CLI_ERR;
    }
    snprintf(base, sizeof base, "%s", x->conf.base_url);
    bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        base[--bl] = '\0';
    if (x->json) {
        size_t ul = strlen(base) + strlen(q) + 64;
        char *url = malloc(ul);
        if (!url) {
            fputs("actiongap: link: out of memory\n", stderr);
            return CLI_ERR;
        }
        snprintf(url, ul, "%s/%s?%s&sig=%s", base, a->to ? "r" : "p.gif", q, sig);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "url", url);
        cJSON_AddStringToObject(doc, "query", q);
        cJSON_AddStringToObject(doc, "sig", sig);
        free(url);
        return cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
    }
    printf("%s/%s?%s&sig=%s\n", base, a->to ? "r" : "p.gif", q, sig);
    return CLI_OK;
}

/* ---------------------------------------------------------------- main */

/* Reads a non-negative count option; returns 0, or -1 (printed) if bad. */
static int count_opt(const char *name, const char *text, long dflt, long *out)
{
    int64_t v;

    *out = dflt;
    if (!text)
        return 0;
    if (cli_parse_i64(text, &v) < 0 || v < 0 || v > 1000000) {
        usage_error("--%s wants a whole number 0..1000000, not \"%s\"", name, text);
        return -1;
    }
    *out = (long)v;
    return 0;
}

/* Splits the non-configuration arguments into verb, options and
 * positionals; returns 0, 1 for help, or CLI_USAGE (printed). */
static int parse_args(cli_args *a, int n, char **args)
{
    int vi = -1, opts_done = 0;

    memset(a, 0, sizeof *a);
    for (int i = 0; i < n; i++)
        if (strcmp(args[i], "--help") == 0 || strcmp(args[i], "-h") == 0)
            return 1;
    if (n == 0)
        return usage_error("no verb given");
    a->verb = args[0];
    if (strcmp(a->verb, "help") == 0)
        return 1;
    for (size_t v = 0; v < sizeof cli_verbs / sizeof cli_verbs[0]; v++)
        if (strcmp(cli_verbs[v].verb, a->verb) == 0)
            vi = (int)v;
    if (vi < 0)
        return usage_error("unknown verb \"%s\"", a->verb);
    for (int i = 1; i < n; i++) {
        const char *s = args[i];
        if (opts_done || s[0] != '-' || !s[1]) {
            if (a->npos == MAX_ARGS)
                return usage_error("%s: too many arguments", a->verb);
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            opts_done = 1;
            continue;
        }
        const char *name = s + (s[1] == '-' ? 2 : 1), *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = NULL;
        char pad[40];
        for (size_t k = 0; k < sizeof cli_opts / sizeof cli_opts[0]; k++)
            if (strlen(cli_opts[k].name) == nl && strncmp(cli_opts[k].name, name, nl) == 0)
                o = &cli_opts[k];
        snprintf(pad, sizeof pad, " %s ", o ? o->name : "");
        if (!o || s[1] != '-' || !strstr(cli_verbs[vi].opts, pad))
            return usage_error("%s: unknown option \"%s\"", a->verb, s);
        if (!o->has_value) {
            if (eq)
                return usage_error("%s: --%s takes no value", a->verb, o->name);
            *(int *)((char *)a + o->off) = 1;
        } else if (eq) {
            *(const char **)((char *)a + o->off) = eq + 1;
        } else if (i + 1 < n) {
            *(const char **)((char *)a + o->off) = args[++i];
        } else {
            return usage_error("%s: --%s needs a value", a->verb, o->name);
        }
    }
    if (a->npos != cli_verbs[vi].npos)
        return usage_error("%s: expected %d argument%s, got %d", a->verb, cli_verbs[vi].npos,
                           cli_verbs[vi].npos == 1 ? "" : "s", a->npos);
    return 0;
}

/* Runs the command; returns its exit status (SPEC 5). */
int main(int argc, char **argv)
{
    static cli_ctx x;
    cli_args a;
    int rest[MAX_ARGS * 2], nrest = 0, rc;
    char *args[MAX_ARGS * 2], err[512];
    long n;

    if (sys_conf_load(&x.conf, argc, argv, rest, MAX_ARGS * 2, &nrest, err, sizeof err) < 0) {
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "help") == 0) {
                usage(stdout);
                return CLI_OK;
            }
        fprintf(stderr, "actiongap: %s\n", err);
        return CLI_USAGE;
    }
    for (int i = 0; i < nrest; i++)
        args[i] = argv[rest[i]];
    rc = parse_args(&a, nrest, args);
    if (rc == 1) {
        usage(stdout);
        return CLI_OK;
    }
    if (rc != 0)
        return rc;
    x.json = a.json;
    if (strcmp(a.verb, "campaigns") == 0) {
        rc = cli_campaigns(&x);
    } else if (strcmp(a.verb, "stats") == 0) {
        rc = cli_stats(&x, a.pos[0]);
    } else if (strcmp(a.verb, "top") == 0) {
        rc = count_opt("limit", a.limit, 20, &n) < 0 ? CLI_USAGE : cli_top(&x, a.pos[0], n);
    } else if (strcmp(a.verb, "pending") == 0) {
        rc = cli_pending(&x, a.pos[0]);
    } else if (strcmp(a.verb, "followup") == 0) {
        rc = cmd_followup(&x, a.pos[0], a.pos[1]);
    } else if (strcmp(a.verb, "alerts") == 0) {
        rc = count_opt("count", a.count, 20, &n) < 0 ? CLI_USAGE : cli_alerts(&x, n, a.follow);
    } else {
        rc = cmd_link(&x, &a);
    }
    if (x.rc)
        redisFree(x.rc);
    fflush(stdout);
    return rc;
}

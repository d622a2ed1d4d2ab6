/* links.c: short links of `actiongap` (SPEC 5) — `link … --short` mints
 * one, `links C --to URL --advocates FILE [--qr DIR]` one per advocate,
 * `links C --list` and `--disable CODE`; minting is idempotent per
 * campaign, advocate, target, subject and channel, and a code is never
 * reused (ag:link:<code> is never deleted). */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>

#include "advocate.h"
#include "keys.h"
#include "link.h"

/* Creates ag:link:<code> with its fields unless the key exists: one key,
 * atomic, so two minters never share a code. */
static const char create_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
    "redis.call('HSET', KEYS[1], unpack(ARGV)) return 1";

/* Points an identity from a gone code to a new one, unless another minter
 * moved it first: one key, compare and set. */
static const char move_lua[] =
    "if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end "
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1";

/* Writes the short URL of code into out: short_url/CODE, or base_url/s/CODE. */
void cli_short_url(const cli_ctx *x, const char *code, char *out, size_t cap)
{
    const char *base = x->conf.short_url[0] ? x->conf.short_url : x->conf.base_url;
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    snprintf(out, cap, "%.*s%s%s", (int)bl, base, x->conf.short_url[0] ? "/" : "/s/", code);
}

/* Stores a new link under a fresh code. Returns 1 if created, 0 if the code
 * was taken (try another), -1 on a Redis failure (printed). */
static int create(cli_ctx *x, const proto_link *lk, const char *code)
{
    char key[PROTO_KEY_MAX], ts[24], exp[24];
    if (proto_key_link(key, sizeof key, x->conf.prefix, code) < 0)
        return -1;
    snprintf(ts, sizeof ts, "%lld", (long long)lk->created_ms);
    snprintf(exp, sizeof exp, "%lld", (long long)lk->expires_ms);
    const char *argv[32] = {"EVAL", create_lua, "1", key};
    int argc = 4;
#define F(name, v) if ((v)[0]) argv[argc++] = name, argv[argc++] = (v)
    F(PROTO_LINK_F_CAMPAIGN, lk->campaign);
    F(PROTO_LINK_F_REF, lk->ref);
    F(PROTO_LINK_F_TO, lk->to);
    F(PROTO_LINK_F_SUBJECT, lk->subject);
    F(PROTO_LINK_F_CHANNEL, lk->channel);
    F(PROTO_LINK_F_NAME, lk->name);
    F(PROTO_LINK_F_EMAIL, lk->email);
    F(PROTO_LINK_F_CREATED, ts);
#undef F
    argv[argc++] = PROTO_LINK_F_STATE;
    argv[argc++] = "active";
    if (lk->expires_ms > 0)
        argv[argc++] = PROTO_LINK_F_EXPIRES, argv[argc++] = exp;
    redisReply *r = sys_redis_cmdv(x->r, argc, argv, NULL);
    if (!r)
        return cli_redis_failed(x), -1;
    int made = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return made;
}

static int load(cli_ctx *x, const char *code, proto_link *lk);

/* Tells the collectors a link changed (channel ag:links). Returns 0, or -1 (printed). */
static int announce(cli_ctx *x, const char *code)
{
    char key[PROTO_KEY_MAX];
    proto_key_links(key, sizeof key, x->conf.prefix);
    redisReply *r = cli_cmd(x, "PUBLISH %s %s", key, code);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

/* Mints the link lk (its code filled in), or finds the one minted before
 * for the same campaign, advocate, target, subject and channel. Sets
 * *created. Returns 0, or -1 (printed). */
static int mint(cli_ctx *x, proto_link *lk, int *created)
{
    char ck[PROTO_KEY_MAX], ident[PROTO_TO_MAX + 512], zk[PROTO_KEY_MAX];
    long il = proto_link_ident(lk, ident, sizeof ident);
    *created = 0;
    if (il < 0 || proto_key_of(ck, sizeof ck, x->conf.prefix, lk->campaign, PROTO_CK_LINKS) < 0) {
        fputs("actiongap: links: the link is too long\n", stderr);
        return -1;
    }
    redisReply *r = cli_cmd(x, "HGET %s %b", ck, ident, (size_t)il);
    if (!r)
        return -1;
    char old[PROTO_LINK_CODE_MAX + 1] = "";
    if (r->type == REDIS_REPLY_STRING && proto_link_code_valid(r->str, r->len))
        memcpy(old, r->str, r->len + 1);
    freeReplyObject(r);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    lk->created_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (old[0]) {   /* minted before: the same code while it answers; a new one once it is gone */
        proto_link prev;
        int ok = load(x, old, &prev);
        if (ok < 0)
            return -1;
        if (ok && proto_link_state_at(&prev, lk->created_ms) == PROTO_LINK_ACTIVE) {
            memcpy(lk->code, old, sizeof lk->code);
            return 0;
        }
    }
    for (int attempt = 0;; attempt++) {
        unsigned char rnd[PROTO_LINK_CODE_MAX];
        size_t len = (size_t)(PROTO_LINK_CODE_MIN + attempt / 2);
        if (len > PROTO_LINK_CODE_MAX) {
            fputs("actiongap: links: no free code after 12 attempts\n", stderr);
            return -1;
        }
        if (getrandom(rnd, len, 0) != (ssize_t)len) {
            fprintf(stderr, "actiongap: links: no random bytes: %s\n", strerror(errno));
            return -1;
        }
        proto_link_code(rnd, len, lk->code);
        int made = create(x, lk, lk->code);
        if (made < 0)
            return -1;
        if (made)
            break;
    }
    /* the identity points at the code; a concurrent minter that won keeps its
     * own (a gone link's identity is moved, compared and set in one call) */
    if (old[0])
        r = cli_cmd(x, "EVAL %s 1 %s %b %s %s", move_lua, ck, ident, (size_t)il, old, lk->code);
    else
        r = cli_cmd(x, "HSETNX %s %b %s", ck, ident, (size_t)il, lk->code);
    if (!r)
        return -1;
    int won = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    proto_key_links(zk, sizeof zk, x->conf.prefix);
    if (!(r = cli_cmd(x, "ZADD %s %lld %s", zk, (long long)lk->created_ms, lk->code)))
        return -1;
    freeReplyObject(r);
    if (!won) {     /* ours is left disabled, never reused */
        char key[PROTO_KEY_MAX];
        proto_key_link(key, sizeof key, x->conf.prefix, lk->code);
        if (!(r = cli_cmd(x, "HSET %s " PROTO_LINK_F_STATE " disabled", key)))
            return -1;
        freeReplyObject(r);
        if (!(r = cli_cmd(x, "HGET %s %b", ck, ident, (size_t)il)))
            return -1;
        if (r->type == REDIS_REPLY_STRING && proto_link_code_valid(r->str, r->len))
            memcpy(lk->code, r->str, r->len + 1);
        freeReplyObject(r);
        return 0;
    }
    *created = 1;
    return announce(x, lk->code);
}

/* Reads link code. Returns 1 if found, 0 if not, -1 (printed). */
static int load(cli_ctx *x, const char *code, proto_link *lk)
{
    int ok = agg_link_load(x->r, &x->conf, code, lk);
    if (ok < 0)
        cli_redis_failed(x);
    return ok;
}

/* ---------------------------------------------------------------- advocates */

/* Splits one CSV line (RFC 4180 quotes) into at most max cells, in place.
 * Returns the number of cells. */
static int csv_cells(char *line, char **cells, int max)
{
    int n = 0;
    char *p = line;
    while (n < max) {
        char *w = p;
        cells[n++] = w;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p)
                    break;
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            while (*p && *p != ',')
                p++;
        } else {
            while (*p && *p != ',')
                *w++ = *p++;
        }
        int more = *p == ',';
        if (more)
            p++;
        *w = 0;
        if (!more)
            break;
    }
    for (int i = 0; i < n; i++) {       /* trim */
        char *c = cells[i], *e = c + strlen(c);
        while (*c == ' ' || *c == '\t')
            c++;
        while (e > c && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            *--e = 0;
        cells[i] = c;
    }
    return n;
}

typedef struct {
    char id[PROTO_REF_MAX + 1], name[129], email[129];
} advocate;

/* Reads the advocates file: id, name, optional e-mail per line; a first
 * line starting "id" is a header. Returns how many, or -1 (printed). */
static int read_advocates(const char *path, advocate **out)
{
    FILE *f = fopen(path, "r");
    char line[1024], *cells[3];
    int n = 0, cap = 0, ln = 0;
    advocate *v = NULL;
    if (!f) {
        fprintf(stderr, "actiongap: links: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        ln++;
        if (!strchr(line, '\n') && !feof(f)) {
            fprintf(stderr, "actiongap: links: %s:%d: a line longer than %zu bytes\n", path, ln,
                    sizeof line - 2);
            goto fail;
        }
        line[strcspn(line, "\r\n")] = 0;
        int nc = csv_cells(line, cells, 3);
        if (nc == 1 && !cells[0][0])
            continue;
        if (ln == 1 && strcmp(cells[0], "id") == 0)
            continue;
        if (!proto_hit_valid_id(cells[0], strlen(cells[0]), PROTO_REF_MAX) || nc < 2 ||
            strlen(cells[1]) > 128 || (nc == 3 && (strlen(cells[2]) > 128 ||
                                                   (cells[2][0] && proto_conf_emails(cells[2], 1) != 1)))) {
            fprintf(stderr, "actiongap: links: %s:%d: want id,name[,e-mail] with an id of "
                    "[A-Za-z0-9._-] (1-64)\n", path, ln);
            goto fail;
        }
        for (int i = 0; i < n; i++)
            if (strcmp(v[i].id, cells[0]) == 0) {
                fprintf(stderr, "actiongap: links: %s:%d: advocate %s listed twice\n", path, ln, cells[0]);
                goto fail;
            }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            advocate *p = realloc(v, (size_t)cap * sizeof *p);
            if (!p) {
                fputs("actiongap: links: out of memory\n", stderr);
                goto fail;
            }
            v = p;
        }
        snprintf(v[n].id, sizeof v[n].id, "%s", cells[0]);
        snprintf(v[n].name, sizeof v[n].name, "%s", cells[1]);
        snprintf(v[n].email, sizeof v[n].email, "%s", nc == 3 ? cells[2] : "");
        n++;
    }
    fclose(f);
    *out = v;
    return n;
fail:
    fclose(f);
    free(v);
    return -1;
}

/* ---------------------------------------------------------------- the verbs */

/* Fills a link of campaign c from the options. Returns 0, or -1 (printed). */
static int link_of(const cli_ctx *x, const cli_args *a, const char *c, proto_link *lk)
{
    memset(lk, 0, sizeof *lk);
    snprintf(lk->campaign, sizeof lk->campaign, "%s", c);
    snprintf(lk->to, sizeof lk->to, "%s", a->to ? a->to : "");
    snprintf(lk->ref, sizeof lk->ref, "%s", a->ref ? a->ref : "");
    snprintf(lk->subject, sizeof lk->subject, "%s", a->subject ? a->subject : "");
    snprintf(lk->channel, sizeof lk->channel, "%s", a->channel ? a->channel : "");
    if (a->expires) {
        int64_t days;
        if (cli_parse_i64(a->expires, &days) < 0 || days < 1 || days > 36500) {
            fprintf(stderr, "actiongap: links: --expires wants days, 1..36500, not \"%s\"\n", a->expires);
            return -1;
        }
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        lk->expires_ms = ((int64_t)now.tv_sec + days * 86400) * 1000;
    }
    proto_reason r = proto_link_check(lk);
    if (r != PROTO_OK) {
        fprintf(stderr, "actiongap: links: the collector would reject this link (%s)\n",
                proto_reason_name(r));
        return -1;
    }
    (void)x;
    return 0;
}

/* `link C --to URL --short`: mints one short link and prints it. */
int cli_link_short(cli_ctx *x, const cli_args *a)
{
    proto_link lk;
    char url[1024];
    int created;
    if (!a->to) {
        fputs("actiongap: link: --short needs --to URL\n", stderr);
        return CLI_USAGE;
    }
    if (link_of(x, a, a->pos[0], &lk) < 0)
        return CLI_USAGE;
    if (cli_connect(x) < 0 || mint(x, &lk, &created) < 0)
        return CLI_ERR;
    cli_short_url(x, lk.code, url, sizeof url);
    if (x->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "url", url);
        cJSON_AddStringToObject(doc, "code", lk.code);
        cJSON_AddBoolToObject(doc, "created", created);
        return cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
    }
    printf("%s\n", url);
    return CLI_OK;
}

/* What list() gathers (agg_links_each's arg). */
typedef struct {
    const cli_ctx *x;
    cli_table *t;
    cJSON *arr;
    int64_t now_ms;
    int failed;
} listing;

/* Adds one link to the table or the JSON array. Returns 0, or -1 out of memory. */
static int list_one(void *arg, const proto_link *lk)
{
    listing *g = arg;
    char url[1024];
    const char *state = proto_link_state_at(lk, g->now_ms) == PROTO_LINK_ACTIVE ? "active"
                        : lk->disabled ? "disabled" : "expired";
    cli_short_url(g->x, lk->code, url, sizeof url);
    if (g->arr) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "code", lk->code);
        cJSON_AddStringToObject(o, "ref", lk->ref);
        cJSON_AddStringToObject(o, "name", lk->name);
        cJSON_AddStringToObject(o, "state", state);
        cJSON_AddStringToObject(o, "url", url);
        cJSON_AddStringToObject(o, "to", lk->to);
        cJSON_AddItemToArray(g->arr, o);
        return 0;
    }
    const char *cells[] = {lk->code, lk->ref[0] ? lk->ref : "-", state, url, lk->to};
    return (g->failed = cli_table_add(g->t, cells) < 0) ? -1 : 0;
}

/* Lists campaign c's links. Returns an exit status. */
static int list(cli_ctx *x, const char *c)
{
    static const char *const titles[] = {"CODE", "ADVOCATE", "STATE", "SHORT URL", "TARGET"};
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    listing g = {x, x->json ? NULL : cli_table_new(5, titles), x->json ? cJSON_CreateArray() : NULL,
                 (int64_t)now.tv_sec * 1000, 0};
    if (!g.t && !g.arr)
        return CLI_ERR;
    int rc = agg_links_each(x->r, &x->conf, c, list_one, &g) < 0 ? cli_redis_failed(x)
           : g.failed ? CLI_ERR : CLI_OK;
    if (g.arr)
        return rc == CLI_OK && cli_print_json(g.arr) == 0 ? CLI_OK : CLI_ERR;
    if (rc == CLI_OK)
        cli_table_print(g.t, stdout);
    cli_table_free(g.t);
    return rc;
}

/* Disables code of campaign c. Returns an exit status. */
static int disable(cli_ctx *x, const char *c, const char *code)
{
    proto_link lk;
    char key[PROTO_KEY_MAX];
    int ok = proto_link_code_valid(code, strlen(code)) ? load(x, code, &lk) : 0;
    if (ok < 0)
        return CLI_ERR;
    if (!ok || strcmp(lk.campaign, c) != 0) {
        fprintf(stderr, "actiongap: links: %s is not a link of %s\n", code, c);
        return CLI_ERR;
    }
    proto_key_link(key, sizeof key, x->conf.prefix, code);
    redisReply *r = cli_cmd(x, "HSET %s " PROTO_LINK_F_STATE " disabled", key);
    if (!r)
        return CLI_ERR;
    freeReplyObject(r);
    if (announce(x, code) < 0)
        return CLI_ERR;
    printf("disabled %s (it answers 410 from now on)\n", code);
    return CLI_OK;
}

/* Mints one link per advocate and prints them; writes QR codes when asked. */
static int bulk(cli_ctx *x, const cli_args *a, const char *c)
{
    advocate *v = NULL;
    int n = read_advocates(a->advocates, &v), rc = CLI_OK, made = 0;
    const char *fmt = a->format ? a->format : x->json ? "json" : "table";
    static const char *const titles[] = {"ADVOCATE", "NAME", "SHORT URL", "CODE"};
    char url[1024];
    if (n < 0)
        return CLI_USAGE;
    if (strcmp(fmt, "table") && strcmp(fmt, "csv") && strcmp(fmt, "json")) {
        fprintf(stderr, "actiongap: links: --format is table, csv or json, not \"%s\"\n", fmt);
        free(v);
        return CLI_USAGE;
    }
    if (a->qr && mkdir(a->qr, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "actiongap: links: cannot create %s: %s\n", a->qr, strerror(errno));
        free(v);
        return CLI_ERR;
    }
    cli_table *t = strcmp(fmt, "table") == 0 ? cli_table_new(4, titles) : NULL;
    cJSON *arr = strcmp(fmt, "json") == 0 ? cJSON_CreateArray() : NULL;
    if (strcmp(fmt, "csv") == 0)
        printf("id,name,email,code,url\n");
    for (int i = 0; i < n && rc == CLI_OK; i++) {
        proto_link lk;
        cli_args one = *a;
        one.ref = v[i].id;
        int created;
        if (link_of(x, &one, c, &lk) < 0) {
            rc = CLI_USAGE;
            break;
        }
        snprintf(lk.name, sizeof lk.name, "%s", v[i].name);
        snprintf(lk.email, sizeof lk.email, "%s", v[i].email);
        if (mint(x, &lk, &created) < 0) {
            rc = CLI_ERR;
            break;
        }
        made += created;
        cli_short_url(x, lk.code, url, sizeof url);
        if (a->qr && cli_qr_write(a->qr, v[i].id, url) < 0) {
            rc = CLI_ERR;
            break;
        }
        if (t) {
            const char *cells[] = {v[i].id, v[i].name, url, lk.code};
            if (cli_table_add(t, cells) < 0)
                rc = CLI_ERR;
        } else if (arr) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", v[i].id);
            cJSON_AddStringToObject(o, "name", v[i].name);
            cJSON_AddStringToObject(o, "email", v[i].email);
            cJSON_AddStringToObject(o, "code", lk.code);
            cJSON_AddStringToObject(o, "url", url);
            cJSON_AddBoolToObject(o, "created", created);
            cJSON_AddItemToArray(arr, o);
        } else {
            printf("%s,\"", v[i].id);
            for (const char *p = v[i].name; *p; p++)
                fputs(*p == '"' ? "\"\"" : (char[2]){*p, 0}, stdout);
            printf("\",%s,%s,%s\n", v[i].email, lk.code, url);
        }
    }
    if (t && rc == CLI_OK)
        cli_table_print(t, stdout);
    if (arr && rc == CLI_OK && cli_print_json(arr) < 0)
        rc = CLI_ERR;
    else if (arr && rc != CLI_OK)
        cJSON_Delete(arr);
    cli_table_free(t);
    if (rc == CLI_OK && !arr)
        fprintf(stderr, "%d links, %d new%s%s\n", n, made, a->qr ? "; QR codes in " : "",
                a->qr ? a->qr : "");
    free(v);
    return rc;
}

/* `links C …`: bulk minting, --list or --disable CODE. */
int cli_verb_links(cli_ctx *x, const cli_args *a)
{
    const char *c = a->pos[0];
    if (cli_check_campaign("links", c) < 0)
        return CLI_USAGE;
    int modes = !!a->list + !!a->disable + !!a->advocates;
    if (modes != 1) {
        fputs("actiongap: links: give one of --advocates FILE (with --to URL), --list, --disable CODE\n", stderr);
        return CLI_USAGE;
    }
    if (a->advocates && !a->to) {
        fputs("actiongap: links: --advocates needs --to URL\n", stderr);
        return CLI_USAGE;
    }
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (a->list)
        return list(x, c);
    if (a->disable)
        return disable(x, c, a->disable);
    return bulk(x, a, c);
}

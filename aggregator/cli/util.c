/* util.c: the helpers the verbs of `actiongap` share — the Redis handle and
 * its one failure line, checks, time and JSON output, aligned tables. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hit.h"
#include "logfmt.h"

/* ---------------------------------------------------------------- Redis */

/* Prints why the last Redis call failed; returns CLI_ERR. */
int cli_redis_failed(cli_ctx *x)
{
    const char *where = sys_redis_where(x->r), *err = sys_redis_err(x->r);
    switch (sys_redis_last(x->r)) {
    case SYS_REDIS_UNREACHABLE:
        fprintf(stderr, "actiongap: cannot reach Redis at %s: %s\n", where, err);
        break;
    case SYS_REDIS_REFUSED:
    case SYS_REDIS_REPLY:
        fprintf(stderr, "actiongap: Redis at %s answered: %s\n", where, err);
        break;
    case SYS_REDIS_LOST:
        fprintf(stderr, "actiongap: lost Redis at %s: %s\n", where, err);
        break;
    default:
        fprintf(stderr, "actiongap: %s\n", err[0] ? err : "out of memory");
        break;
    }
    return CLI_ERR;
}

/* Connects, authenticates and selects; returns 0, or -1 (printed). */
int cli_connect(cli_ctx *x)
{
    if (!x->r && !(x->r = sys_redis_new(x->conf.redis, 2000, x->conf.redis_timeout_ms + 2000))) {
        fputs("actiongap: out of memory\n", stderr);
        return -1;
    }
    if (sys_redis_connect(x->r) < 0) {
        cli_redis_failed(x);
        return -1;
    }
    return 0;
}

/* Runs a formatted command; returns the reply or NULL (printed). */
redisReply *cli_cmd(cli_ctx *x, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = sys_redis_vcmd(x->r, fmt, ap);
    va_end(ap);
    if (!r)
        cli_redis_failed(x);
    return r;
}

/* Runs an encoded command; returns the reply or NULL (printed). */
redisReply *cli_cmd_resp(cli_ctx *x, const char *resp, size_t len)
{
    redisReply *r = sys_redis_cmd_resp(x->r, resp, len);
    if (!r)
        cli_redis_failed(x);
    return r;
}

/* ---------------------------------------------------------------- checks */

/* Writes s double-quoted with bytes escaped; returns buf. */
char *cli_quoted(char *buf, size_t cap, const char *s)
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
            verb, cli_quoted(q, sizeof q, c));
    return -1;
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

/* ---------------------------------------------------------------- output */


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

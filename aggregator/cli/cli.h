/* cli.h: what the verbs of the `actiongap` command share — the context
 * (configuration, Redis handle, output mode), the parsed arguments, and
 * the helpers of util.c; each verb file declares its verbs here. */
#ifndef AG_CLI_H
#define AG_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "redis.h"

/* Exit statuses of SPEC 5. */
#define CLI_OK 0
#define CLI_ERR 1
#define CLI_USAGE 2

#define CLI_MAX_ARGS 64

/* One run of the command. */
typedef struct cli_ctx {
    proto_conf conf;
    sys_redis *r;       /* NULL until cli_connect */
    int json;           /* --json */
} cli_ctx;

/* The command line after the configuration keys are taken out. */
typedef struct {
    const char *verb;
    const char *pos[CLI_MAX_ARGS];
    int npos;
    int json, follow, no_carry, leaderboard, revoke, count_only, short_link, list, send, balance;
    const char *limit, *count, *to, *ref, *subject, *event, *channel, *since, *not_in, *format;
    const char *advocates, *qr, *disable, *expires, *day;
    long nlimit, ncount;    /* --limit (20) and --count (20), checked 0..1000000 */
} cli_args;

/* A verb: runs with the parsed arguments; returns an exit status. */
typedef int (*cli_verb_fn)(cli_ctx *x, const cli_args *a);

/* ---- Redis (util.c) ---- */

/* Connects to conf.redis (2 s timeout), AUTH and SELECT as the URL says.
 * Returns 0, or -1 after printing one line on stderr. */
int cli_connect(cli_ctx *x);

/* Prints why the last Redis call of x failed (one line); returns CLI_ERR. */
int cli_redis_failed(cli_ctx *x);

/* Runs one printf-style command. Returns the reply (free it with
 * freeReplyObject), or NULL after printing one line on stderr. */
redisReply *cli_cmd(cli_ctx *x, const char *fmt, ...);

/* Runs one command already encoded as RESP; returns as cli_cmd. */
redisReply *cli_cmd_resp(cli_ctx *x, const char *resp, size_t len);

/* ---- checks and formatting (util.c) ---- */

/* Checks a campaign id against SPEC 2 through proto_hit_set. Returns 0, or
 * -1 after printing one line naming verb on stderr. */
int cli_check_campaign(const char *verb, const char *c);

/* Writes s into buf double-quoted, control and non-ASCII bytes escaped
 * (for error lines); returns buf. */
char *cli_quoted(char *buf, size_t cap, const char *s);


/* Parses a whole decimal integer; returns 0, or -1 (and *out = 0) if text
 * is NULL or not an integer. */
int cli_parse_i64(const char *text, int64_t *out);

/* Prints a cJSON document (and frees it). Returns 0, or -1 if it could not
 * be rendered. */
int cli_print_json(void *doc);

/* ---- tables (util.c) ---- */

typedef struct cli_table cli_table;

/* Creates a table with ncols (at most 32) columns headed by the given
 * titles. Returns NULL (printed) on allocation failure. */
cli_table *cli_table_new(int ncols, const char *const *titles);

/* Appends one row of ncols cells (copied). Returns 0, or -1 (printed) on
 * allocation failure. */
int cli_table_add(cli_table *t, const char *const *cells);

/* Prints the table with aligned columns; the last column is not padded. */
void cli_table_print(const cli_table *t, FILE *out);

/* Frees the table; NULL is a no-op. */
void cli_table_free(cli_table *t);

/* ---- the verbs: report.c, alerts.c, hits.c ---- */

int cli_verb_campaigns(cli_ctx *x, const cli_args *a);
int cli_verb_stats(cli_ctx *x, const cli_args *a);
int cli_verb_top(cli_ctx *x, const cli_args *a);
int cli_verb_pending(cli_ctx *x, const cli_args *a);
int cli_verb_alerts(cli_ctx *x, const cli_args *a);
int cli_verb_followup(cli_ctx *x, const cli_args *a);
int cli_verb_link(cli_ctx *x, const cli_args *a);
int cli_verb_repair(cli_ctx *x, const cli_args *a);
int cli_verb_share(cli_ctx *x, const cli_args *a);
int cli_verb_audience(cli_ctx *x, const cli_args *a);
int cli_verb_forget(cli_ctx *x, const cli_args *a);
int cli_verb_links(cli_ctx *x, const cli_args *a);
int cli_verb_advocate(cli_ctx *x, const cli_args *a);
int cli_verb_digest(cli_ctx *x, const cli_args *a);
int cli_verb_cluster(cli_ctx *x, const cli_args *a);

/* Writes the short URL of code into out (cap bytes): short_url/CODE, or
 * base_url/s/CODE (links.c); never fails. */
void cli_short_url(const cli_ctx *x, const char *code, char *out, size_t cap);

/* `link C --to URL --short`: mints one short link (links.c). */
int cli_link_short(cli_ctx *x, const cli_args *a);

/* Writes DIR/NAME.png and DIR/NAME.svg, the QR code of text (qr.c).
 * Returns 0, or -1 after printing one line. */
int cli_qr_write(const char *dir, const char *name, const char *text);

/* `actiongap --help-man TEMPLATE` (man.c, run by the build): writes the man
 * page of TEMPLATE to out, its @VERBS@ line replaced by what verbs writes,
 * @KEYS@ by the configuration keys, @VERSION@ by the version. Returns
 * CLI_OK, or CLI_ERR (printed). */
int cli_man(const char *path, void (*verbs)(proto_buf *), FILE *out);

/* Writes one verb, its usage and help lines, as a man(7) .TP entry (man.c). */
void cli_man_verb(proto_buf *b, const char *usage, const char *help);

#endif

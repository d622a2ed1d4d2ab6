/* cli.h: what the parts of the `actiongap` command share — the context
 * (configuration, Redis connection, output mode), Redis helpers, formatting
 * helpers and the report verbs (SPEC 5). */
#ifndef AG_CLI_H
#define AG_CLI_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"

/* Exit statuses of SPEC 5. */
#define CLI_OK 0
#define CLI_ERR 1
#define CLI_USAGE 2

/* One run of the command. */
typedef struct cli_ctx {
    proto_conf conf;
    redisContext *rc;   /* NULL until cli_connect */
    char where[600];    /* "host:port" or the socket path, for messages */
    int json;           /* --json */
} cli_ctx;

/* ---- Redis (cli.c) ---- */

/* Connects to conf.redis (2 s timeout), AUTH and SELECT as the URL says.
 * Returns 0, or -1 after printing one line on stderr. */
int cli_connect(cli_ctx *x);

/* Runs one command given as printf-style hiredis format. Returns the reply
 * (free with freeReplyObject), or NULL after printing one line on stderr
 * (connection lost, or an error reply). */
redisReply *cli_cmd(cli_ctx *x, const char *fmt, ...);

/* Runs one command given as an argument vector; returns as cli_cmd. */
redisReply *cli_cmdv(cli_ctx *x, int argc, const char **argv, const size_t *lens);

/* ---- checks and formatting (cli.c) ---- */

/* Checks a campaign id against SPEC 2 through proto_hit_set. Returns 0, or
 * -1 after printing one line naming verb on stderr. */
int cli_check_campaign(const char *verb, const char *c);

/* Writes ms since the epoch as UTC ISO 8601 ("2026-01-02T03:04:05Z");
 * returns buf (empty on failure). */
char *cli_fmt_time(char *buf, size_t cap, int64_t ms);

/* Writes a duration in seconds as 45s, 4m12s, 1h03m or 2d05h (rounded to
 * whole seconds; negative as 0s); returns buf. */
char *cli_fmt_duration(char *buf, size_t cap, double secs);

/* Parses a whole decimal integer; returns 0, or -1 (and *out = 0) if text
 * is NULL or not an integer. */
int cli_parse_i64(const char *text, int64_t *out);

/* Prints a cJSON document (consumed) on stdout with a newline. Returns 0,
 * or -1 if it could not be rendered. */
int cli_print_json(void *doc);

/* ---- tables (cli.c) ---- */

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

/* ---- report verbs (cli_report.c); each returns an exit status ---- */

int cli_campaigns(cli_ctx *x);
int cli_stats(cli_ctx *x, const char *campaign);
int cli_top(cli_ctx *x, const char *campaign, long limit);
int cli_pending(cli_ctx *x, const char *campaign);

/* ---- alerts (cli_alerts.c): prints the last count alerts, oldest first,
 * then with follow waits for new ones until SIGINT/SIGTERM; returns an
 * exit status ---- */

int cli_alerts(cli_ctx *x, long count, int follow);

#endif

/* alerts.c: `actiongap alerts` — the last alerts of ag:alerts and, with
 * --follow, new ones as they arrive until SIGINT/SIGTERM. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cli.h"
#include "report_json.h"
#include "keys.h"
#include "text.h"

#define BLOCK_MS 1000
#define ROW_FMT "%-20s  %-17s  %-20s  %-24s  %-8s  %s\n"

static volatile sig_atomic_t stop_requested;

/* Asks the follow loop to stop; never fails. */
static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Returns the value of field in a stream entry's field list, or NULL when
 * it is absent. */
static const char *field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; fields && i + 1 < fields->elements; i += 2)
        if (fields->element[i]->str && strcmp(fields->element[i]->str, name) == 0)
            return fields->element[i + 1]->str;
    return NULL;
}

/* Returns 1 if e is a stream entry [id, [field, value, ...]], else 0. */
static int is_entry(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_ARRAY && e->elements == 2 &&
           e->element[0]->type == REDIS_REPLY_STRING && e->element[1]->type == REDIS_REPLY_ARRAY;
}

/* Returns the alert's time in ms: its ts field, else the entry id's time. */
static int64_t alert_ms(const redisReply *e)
{
    int64_t v;

    if (cli_parse_i64(field(e->element[1], "ts"), &v) == 0)
        return v;
    return strtoll(e->element[0]->str, NULL, 10);
}

/* Builds the JSON object of an alert entry (numbers for the numeric
 * fields); returns NULL on allocation failure. */
static cJSON *alert_json(const redisReply *e)
{
    static const char *const nums[] = {"signup_ts", "waited_s", "sla_s", "ts", "followup_ts"};
    const redisReply *f = e->element[1];
    cJSON *o = cJSON_CreateObject();
    char iso[32];

    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", e->element[0]->str);
    cJSON_AddStringToObject(o, "time", agg_json_time(iso, sizeof iso, alert_ms(e)));
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const char *k = f->element[i]->str, *v = f->element[i + 1]->str;
        int64_t x;
        int numeric = 0;
        if (!k || !v || cJSON_HasObjectItem(o, k))
            continue;
        for (size_t j = 0; j < sizeof nums / sizeof nums[0]; j++)
            numeric |= strcmp(k, nums[j]) == 0;
        if (numeric && cli_parse_i64(v, &x) == 0)
            cJSON_AddNumberToObject(o, k, (double)x);
        else
            cJSON_AddStringToObject(o, k, v);
    }
    return o;
}

/* Prints an alert as one table row; never fails. */
static void alert_row(const redisReply *e)
{
    const redisReply *f = e->element[1];
    const char *kind = field(f, "kind"), *c = field(f, "campaign"), *s = field(f, "subject");
    char iso[32], waited[32] = "-", sla[32] = "-";
    int64_t v;

    if (cli_parse_i64(field(f, "waited_s"), &v) == 0)
        proto_fmt_duration(waited, sizeof waited, (double)v, PROTO_DUR_COMPACT);
    if (cli_parse_i64(field(f, "sla_s"), &v) == 0)
        proto_fmt_duration(sla, sizeof sla, (double)v, PROTO_DUR_COMPACT);
    printf(ROW_FMT, agg_json_time(iso, sizeof iso, alert_ms(e)), kind ? kind : "-", c ? c : "-",
           s ? s : "-", waited, sla);
}

/* Prints one alert as a JSON line (follow mode) or a table row; returns 0,
 * or -1 if the JSON could not be built. */
static int alert_emit(cli_ctx *x, const redisReply *e)
{
    if (!x->json) {
        alert_row(e);
        return 0;
    }
    cJSON *o = alert_json(e);
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        return -1;
    puts(s);
    free(s);
    return 0;
}

/* Waits for alerts after id last (a buffer of cap bytes, updated) and
 * prints each; returns an exit status (0 once a signal asked to stop). */
static int follow(cli_ctx *x, const char *key, char *last, size_t cap)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sys_redis_set_timeout(x->r, (x->conf.redis_timeout_ms / 1000 + 2 + BLOCK_MS / 1000) * 1000);
    while (!stop_requested) {
        redisReply *r = cli_cmd(x, "XREAD COUNT 100 BLOCK %d STREAMS %s %s", BLOCK_MS, key, last);
        if (!r)
            return CLI_ERR;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            const redisReply *st = r->element[i];
            if (st->type != REDIS_REPLY_ARRAY || st->elements != 2)
                continue;
            for (size_t j = 0; j < st->element[1]->elements; j++) {
                const redisReply *e = st->element[1]->element[j];
                if (!is_entry(e))
                    continue;
                snprintf(last, cap, "%s", e->element[0]->str);
                if (alert_emit(x, e) < 0) {
                    freeReplyObject(r);
                    fputs("actiongap: alerts: out of memory\n", stderr);
                    return CLI_ERR;
                }
            }
        }
        freeReplyObject(r);
        fflush(stdout);
    }
    return CLI_OK;
}

/* Prints the last --count alerts oldest first, then with --follow waits
 * for new ones; returns an exit status. */
int cli_verb_alerts(cli_ctx *x, const cli_args *a)
{
    long count = a->ncount;
    int follow_new = a->follow;
    char key[PROTO_KEY_MAX], last[64] = "0-0";
    redisReply *r;
    int rc = CLI_OK;

    if (proto_key_alerts(key, sizeof key, x->conf.prefix) < 0) {
        fputs("actiongap: key name too long (check --prefix)\n", stderr);
        return CLI_ERR;
    }
    if (cli_connect(x) < 0 ||
        !(r = cli_cmd(x, "XREVRANGE %s + - COUNT %ld", key, count > 0 ? count : 1L)))
        return CLI_ERR;
    if (r->elements > 0 && is_entry(r->element[0]))
        snprintf(last, sizeof last, "%s", r->element[0]->element[0]->str);
    size_t n = count > 0 ? r->elements : 0;
    if (x->json && !follow_new) {
        cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "alerts");
        for (size_t i = n; i-- > 0;)
            if (is_entry(r->element[i]))
                cJSON_AddItemToArray(arr, alert_json(r->element[i]));
        freeReplyObject(r);
        return cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
    }
    if (!x->json)
        printf(ROW_FMT, "TIME", "KIND", "CAMPAIGN", "SUBJECT", "WAITED", "SLA");
    for (size_t i = n; i-- > 0 && rc == CLI_OK;)
        if (is_entry(r->element[i]) && alert_emit(x, r->element[i]) < 0)
            rc = CLI_ERR;
    freeReplyObject(r);
    fflush(stdout);
    if (rc == CLI_OK && follow_new)
        rc = follow(x, key, last, sizeof last);
    return rc;
}

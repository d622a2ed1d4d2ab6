/* audience.c: `actiongap audience C SEGMENT` and `actiongap forget SUBJECT`
 * (SPEC 5; aggregator/audience.c reads and deletes). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audience.h"
#include "cli.h"
#include "report_json.h"

/* How subjects are printed. */
typedef enum { FMT_LINES, FMT_CSV, FMT_JSON } fmt;

/* The printing state (the arg of print_one). */
typedef struct {
    fmt f;
    long n;
} printer;

/* Prints one subject of the segment; never stops the walk. */
static int print_one(void *arg, const char *subject, const proto_aud *rec)
{
    printer *p = arg;
    if (p->f == FMT_LINES) {
        printf("%s\n", subject);
    } else if (p->f == FMT_CSV) {
        char row[AGG_AUDIENCE_CSV_MAX];
        if (agg_audience_csv_row(row, sizeof row, subject, rec) > 0)
            puts(row);
    } else {
        char first[32], last[32], ev[80];
        agg_json_time(first, sizeof first, rec->first_s * 1000);
        agg_json_time(last, sizeof last, rec->last_s * 1000);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "subject", subject);
        cJSON_AddStringToObject(o, "first_seen", first);
        cJSON_AddStringToObject(o, "last_seen", last);
        cJSON_AddStringToObject(o, "events", agg_audience_events(ev, sizeof ev, rec->mask));
        cJSON_AddStringToObject(o, "ref", rec->ref);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        printf("%s%s", p->n ? ",\n  " : "\n  ", s ? s : "null");
        free(s);
    }
    p->n++;
    return 0;
}

/* Reads --since: seconds since 1970, or "N d" / "N h" ago. Returns 0 or -1. */
static int since_of(const char *text, long long now_s, long long *out)
{
    char *end;
    long long v = strtoll(text, &end, 10);
    *out = 0;
    if (!text[0] || end == text || v < 0)
        return -1;
    if (!*end)
        *out = v;
    else if (!strcmp(end, "d") || !strcmp(end, "h"))
        *out = now_s - v * (*end == 'd' ? 86400 : 3600);
    else
        return -1;
    return 0;
}

/* Streams a segment's subjects; returns an exit status. */
int cli_verb_audience(cli_ctx *x, const cli_args *a)
{
    const char *c = a->pos[0];
    int seg = agg_segment_of(a->pos[1]);
    long long now_s = (long long)time(NULL);
    agg_seg_filter f = {a->ref, 0, a->not_in};
    printer p = {FMT_LINES, 0};
    if (cli_check_campaign("audience", c) < 0 || (a->not_in && cli_check_campaign("audience", a->not_in) < 0))
        return CLI_USAGE;
    if (seg < 0) {
        fprintf(stderr, "actiongap: audience: unknown segment \"%s\" (gap, clicked-not-acted, "
                        "opened-not-clicked, acted, waiting, reached)\n", a->pos[1]);
        return CLI_USAGE;
    }
    if (a->since && since_of(a->since, now_s, &f.since_s) < 0) {
        fprintf(stderr, "actiongap: audience: --since wants seconds since 1970, or Nd / Nh, not \"%s\"\n",
                a->since);
        return CLI_USAGE;
    }
    const char *fmt_name = a->format ? a->format : x->json ? "json" : "lines";
    if (!strcmp(fmt_name, "csv"))
        p.f = FMT_CSV;
    else if (!strcmp(fmt_name, "json"))
        p.f = FMT_JSON;
    else if (strcmp(fmt_name, "lines") != 0) {
        fprintf(stderr, "actiongap: audience: --format is csv, json or lines, not \"%s\"\n", fmt_name);
        return CLI_USAGE;
    }
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (a->count_only) {
        long n = agg_audience_each(x->r, &x->conf, c, (agg_segment)seg, &f, now_s, NULL, NULL);
        if (n < 0)
            return cli_redis_failed(x);
        if (x->json)
            printf("{\"campaign\":\"%s\",\"segment\":\"%s\",\"count\":%ld}\n", c, a->pos[1], n);
        else
            printf("%ld\n", n);
        return CLI_OK;
    }
    if (p.f == FMT_CSV)
        puts(AGG_AUDIENCE_CSV_HEADER);
    if (p.f == FMT_JSON)
        fputs("[", stdout);
    long n = agg_audience_each(x->r, &x->conf, c, (agg_segment)seg, &f, now_s, print_one, &p);
    if (p.f == FMT_JSON)
        puts(p.n ? "\n]" : "]");
    if (n < 0)
        return cli_redis_failed(x);
    return CLI_OK;
}

/* Removes a subject from every campaign; returns an exit status (1 when
 * hits of it are not counted yet and were left). */
int cli_verb_forget(cli_ctx *x, const cli_args *a)
{
    agg_forgotten out;
    const char *s = a->pos[0];
    if (!s[0] || strlen(s) > 128) {
        fputs("actiongap: forget: a subject is 1 to 128 bytes\n", stderr);
        return CLI_USAGE;
    }
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (agg_audience_forget(x->r, &x->conf, s, &out) < 0)
        return cli_redis_failed(x);
    if (x->json)
        printf("{\"campaigns\":%ld,\"entries\":%ld,\"unapplied\":%ld}\n", out.campaigns, out.entries,
               out.unapplied);
    else
        printf("forgotten in %ld campaign%s; %ld stream entr%s deleted%s\n", out.campaigns,
               out.campaigns == 1 ? "" : "s", out.entries, out.entries == 1 ? "y" : "ies",
               out.unapplied ? "; some hits are not counted yet: run forget again in a minute" : "");
    return out.unapplied ? CLI_ERR : CLI_OK;
}

/* report.c: the read-only report verbs of `actiongap` — campaigns, stats,
 * top and pending — printing what aggregator/report.c computes. In JSON,
 * rates are fractions (0..1; null when the reach is 0) and durations
 * seconds; tables show percentages with one decimal and 4m12s durations. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cli.h"
#include "report.h"
#include "report_json.h"
#include "text.h"

#define STATS_TOP AGG_JSON_TOP

/* Writes a rate as a percentage with one decimal, or "-" for NAN; returns
 * buf. */
static char *pct(char *buf, size_t cap, double rate)
{
    if (isnan(rate))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.1f%%", 100.0 * rate);
    return buf;
}

/* Writes a duration in seconds compactly, or "-" for NAN; returns buf. */
static char *secs_text(char *buf, size_t cap, double s)
{
    if (isnan(s)) {
        snprintf(buf, cap, "-");
        return buf;
    }
    return proto_fmt_duration(buf, cap, s, PROTO_DUR_COMPACT);
}

/* ---------------------------------------------------------------- campaigns */

/* Lists campaigns by last activity; returns an exit status. */
int cli_verb_campaigns(cli_ctx *x, const cli_args *a)
{
    static const char *const titles[] = {"CAMPAIGN", "LAST ACTIVITY", "AGO", "DEAD-LETTER"};
    char iso[32], ago[40], dur[32], nd[24];
    long long *dead = NULL;
    int64_t now = sys_now_ms();
    agg_member *v = NULL;
    size_t n = 0;
    cli_table *t = NULL;
    int rc = CLI_ERR;

    (void)a;
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (agg_report_campaigns(x->r, &x->conf, &v, &n) < 0)
        return cli_redis_failed(x);
    /* entries a poisoned key refused: repair the key, then `actiongap repair C` */
    if (!(dead = calloc(n ? n : 1, sizeof *dead)))
        goto out;
    for (size_t i = 0; i < n; i++)
        if (agg_report_dead(x->r, &x->conf, v[i].name, &dead[i]) < 0) {
            rc = cli_redis_failed(x);
            goto out;
        }
    if (x->json) {
        cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "campaigns");
        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "campaign", v[i].name);
            cJSON_AddNumberToObject(o, "last_activity_ms", (double)v[i].score);
            cJSON_AddStringToObject(o, "last_activity", agg_json_time(iso, sizeof iso, v[i].score));
            cJSON_AddNumberToObject(o, "ago_s", (double)(now - v[i].score) / 1000.0);
            cJSON_AddNumberToObject(o, "dead_letter", (double)dead[i]);
            cJSON_AddItemToArray(arr, o);
        }
        rc = cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
        goto out;
    }
    if (n == 0) {
        puts("no campaigns yet");
        rc = CLI_OK;
        goto out;
    }
    if (!(t = cli_table_new(4, titles)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        snprintf(nd, sizeof nd, dead[i] ? "%lld" : "-", dead[i]);
        snprintf(ago, sizeof ago, "%s ago",
                 proto_fmt_duration(dur, sizeof dur, (double)(now - v[i].score) / 1000.0,
                                    PROTO_DUR_COMPACT));
        const char *cells[] = {v[i].name, agg_json_time(iso, sizeof iso, v[i].score), ago, nd};
        if (cli_table_add(t, cells) < 0)
            goto out;
    }
    cli_table_print(t, stdout);
    rc = CLI_OK;
out:
    free(dead);
    cli_table_free(t);
    agg_members_free(v, n);
    return rc;
}

/* ---------------------------------------------------------------- stats */

/* Prints stats as one JSON document (report_json.c, the dashboard's too);
 * returns 0 or -1. */
static int stats_json(const char *c, const agg_stats *s)
{
    cJSON *doc = agg_json_stats(c, s);
    if (!doc) {
        fputs("actiongap: out of memory rendering JSON\n", stderr);
        return -1;
    }
    return cli_print_json(doc);
}

/* Prints stats as aligned "label  value" lines; never fails. */
static void stats_table(const char *c, const agg_stats *s)
{
    char a[64], b[64], e[64], line[512];
    size_t n = 0;

#define ROW(label, ...)                              \
    do {                                             \
        snprintf(line, sizeof line, __VA_ARGS__);    \
        printf("%-17s %s\n", label, line);           \
    } while (0)
    ROW("campaign", "%s", c);
    ROW("reach", "%lld (unique human people who opened, viewed, clicked or acted)",
        (long long)s->reach);
    ROW("opens", "%lld", (long long)s->opens);
    ROW("machine opens", "%lld (bots and mail proxies, not counted as reach)",
        (long long)s->machine_opens);
    ROW("views", "%lld", (long long)s->views);
    ROW("clicks", "%lld", (long long)s->clicks);
    ROW("click rate", "%s (people who clicked, of reach)", pct(a, sizeof a, s->click_rate));
    ROW("signups", "%lld", (long long)s->signups);
    ROW("donations", "%lld (value %lld.%02lld)", (long long)s->donations,
        (long long)(s->value_cents / 100), (long long)(s->value_cents % 100));
    ROW("conversions", "%lld", (long long)s->conversions);
    ROW("actions", "%lld (signups + donations + conversions + %lld custom)",
        (long long)s->actions, (long long)s->custom);
    ROW("actors", "%lld (unique human people who acted)", (long long)s->actors);
    ROW("conversion rate", "%s (actors of reach)", pct(a, sizeof a, s->conversion_rate));
    ROW("action gap", "%s", pct(a, sizeof a, s->action_gap));
    ROW("anonymous", "%lld (hits without subject or address: GPC/DNT; in no rate)",
        (long long)s->anonymous);
    line[0] = '\0';
    for (int i = 0; i < PROTO_SCROLL_BUCKETS; i++) {
        const char *mark = proto_scroll_field(i);
        n += (size_t)snprintf(line + n, sizeof line - n, "%s%s%%: %s", i ? "  " : "", mark,
                              pct(a, sizeof a, s->scroll_rate[i]));
    }
    printf("%-17s %s (of %lld viewers)\n", "scroll depth", line, (long long)s->viewers);
    ROW("follow-ups", "%lld, p50 %s, p90 %s, max %s (estimated from buckets)",
        (long long)s->followups, secs_text(a, sizeof a, s->fl_p50_s),
        secs_text(b, sizeof b, s->fl_p90_s), secs_text(e, sizeof e, s->fl_max_s));
    ROW("unmatched", "%lld (follow-ups with no pending signup)", (long long)s->unmatched);
    ROW("pending", "%lld", (long long)s->pending);
    ROW("overdue", "%lld (waiting more than the SLA, %s)", (long long)s->overdue,
        proto_fmt_duration(a, sizeof a, (double)s->sla_s, PROTO_DUR_COMPACT));
    ROW("duplicates", "%lld", (long long)s->dup);
#undef ROW
    for (int t = 0; t < 2; t++) {
        const agg_member *m = t ? s->referrers : s->pages;
        size_t nm = t ? s->nreferrers : s->npages;
        line[0] = '\0';
        n = 0;
        for (size_t i = 0; i < nm && n < sizeof line; i++)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %lld", i ? ", " : "",
                                  m[i].name, (long long)m[i].score);
        printf("%-17s %s\n", t ? "top referrers" : "top pages", nm ? line : "-");
    }
    if (s->nadv == 0) {
        printf("%-17s %s\n", "top advocates", "-");
        return;
    }
    printf("top advocates\n");
    for (size_t i = 0; i < s->nadv && i < STATS_TOP; i++)
        printf("  %zu. %-24s %lld actions, reach %lld\n", i + 1, s->adv[i].ref,
               (long long)s->adv[i].actions, (long long)s->adv[i].reach);
}

/* Shows a campaign's counters; returns an exit status. */
int cli_verb_stats(cli_ctx *x, const cli_args *a)
{
    const char *campaign = a->pos[0];
    agg_stats s;
    int rc = CLI_OK;

    if (cli_check_campaign("stats", campaign) < 0)
        return CLI_USAGE;
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (agg_report_stats(x->r, &x->conf, campaign, sys_now_ms(), &s) < 0)
        return cli_redis_failed(x);
    if (x->json)
        rc = stats_json(campaign, &s) < 0 ? CLI_ERR : CLI_OK;
    else
        stats_table(campaign, &s);
    agg_stats_free(&s);
    return rc;
}

/* ---------------------------------------------------------------- top */

/* Prints the advocate leaderboard (--limit, 20; 0: all); returns an exit
 * status. */
int cli_verb_top(cli_ctx *x, const cli_args *a)
{
    static const char *const titles[] = {"RANK", "ADVOCATE", "ACTIONS", "REACH", "RATE", "CLICKS"};
    const char *campaign = a->pos[0];
    agg_advocate *v = NULL;
    size_t n = 0, shown;
    long limit = a->nlimit;
    cli_table *t = NULL;
    int rc = CLI_ERR;

    if (cli_check_campaign("top", campaign) < 0)
        return CLI_USAGE;
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (agg_report_advocates(x->r, &x->conf, campaign, &v, &n) < 0)
        return cli_redis_failed(x);
    shown = (limit > 0 && (size_t)limit < n) ? (size_t)limit : n;
    if (x->json) {
        rc = cli_print_json(agg_json_top(campaign, v, n, shown)) < 0 ? CLI_ERR : CLI_OK;
        goto out;
    }
    if (n == 0) {
        printf("no advocates for %s yet\n", campaign);
        rc = CLI_OK;
        goto out;
    }
    if (!(t = cli_table_new(6, titles)))
        goto out;
    for (size_t i = 0; i < shown; i++) {
        char rank[24], act[24], reach[24], rate[24], clicks[24];
        snprintf(rank, sizeof rank, "%zu", i + 1);
        snprintf(act, sizeof act, "%lld", (long long)v[i].actions);
        snprintf(reach, sizeof reach, "%lld", (long long)v[i].reach);
        snprintf(clicks, sizeof clicks, "%lld", (long long)v[i].clicks);
        const char *cells[] = {rank, v[i].ref, act, reach,
                               pct(rate, sizeof rate, agg_report_adv_rate(&v[i])), clicks};
        if (cli_table_add(t, cells) < 0)
            goto out;
    }
    cli_table_print(t, stdout);
    if (shown < n)
        printf("(%zu more; --limit 0 shows all)\n", n - shown);
    rc = CLI_OK;
out:
    cli_table_free(t);
    agg_advocates_free(v, n);
    return rc;
}

/* ---------------------------------------------------------------- pending */

/* Lists the signups awaiting follow-up, oldest first; returns an exit status. */
int cli_verb_pending(cli_ctx *x, const cli_args *a)
{
    static const char *const titles[] = {"SUBJECT", "SIGNED UP", "WAITING", "STATUS"};
    const char *campaign = a->pos[0];
    char iso[32], wait[32], sla[32];
    int64_t now = sys_now_ms(), sla_s, overdue = 0;
    agg_member *v = NULL;
    size_t n = 0;
    cli_table *t = NULL;
    int rc = CLI_ERR;

    if (cli_check_campaign("pending", campaign) < 0)
        return CLI_USAGE;
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (agg_report_sla(x->r, &x->conf, campaign, &sla_s) < 0 ||
        agg_report_pending(x->r, &x->conf, campaign, &v, &n) < 0)
        return cli_redis_failed(x);
    for (size_t i = 0; i < n; i++)
        overdue += now - v[i].score > sla_s * 1000;
    if (x->json) {
        rc = cli_print_json(agg_json_pending(campaign, v, n, sla_s, now)) < 0 ? CLI_ERR : CLI_OK;
        goto out;
    }
    printf("%zu pending in %s, %lld overdue (SLA %s)\n", n, campaign, (long long)overdue,
           proto_fmt_duration(sla, sizeof sla, (double)sla_s, PROTO_DUR_COMPACT));
    if (n == 0) {
        rc = CLI_OK;
        goto out;
    }
    if (!(t = cli_table_new(4, titles)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = v[i].score;
        const char *cells[] = {v[i].name, agg_json_time(iso, sizeof iso, ts),
                               proto_fmt_duration(wait, sizeof wait, (double)(now - ts) / 1000.0,
                                                  PROTO_DUR_COMPACT),
                               now - ts > sla_s * 1000 ? "OVERDUE" : ""};
        if (cli_table_add(t, cells) < 0)
            goto out;
    }
    cli_table_print(t, stdout);
    rc = CLI_OK;
out:
    cli_table_free(t);
    agg_members_free(v, n);
    return rc;
}

/* advocate.c: what one advocate achieved, `advocate [C] ID`, and the daily
 * digest of every advocate with links in a campaign, `digest C [--day D]`
 * (SPEC 5). */
#include "cli.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "advocate.h"
#include "alert_format.h"
#include "xfer.h"
#include "hit.h"
#include "report.h"

/* Returns now in seconds; never fails. */
static long long now_s(void)
{
    return (long long)time(NULL);
}

/* Writes a rate as "12.5%", or "-" without a base; returns buf. */
static char *rate(char *buf, size_t cap, long long part, long long whole)
{
    if (whole <= 0)
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, "%.1f%%", 100.0 * (double)part / (double)whole);
    return buf;
}

/* Reports whether an advocate has any figure in a campaign. */
static int any(const agg_adv_figures *f)
{
    return f->clicks || f->reach_hits || f->actions || f->unverified || f->people;
}

/* Adds one campaign's figures to a JSON array. */
static void json_add(cJSON *arr, const char *c, const agg_adv_figures *f)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "campaign", c);
    cJSON_AddNumberToObject(o, "clicks", (double)f->clicks);
    cJSON_AddNumberToObject(o, "reach_hits", (double)f->reach_hits);
    cJSON_AddNumberToObject(o, "actions", (double)f->actions);
    cJSON_AddNumberToObject(o, "people_reached", (double)f->people);
    cJSON_AddNumberToObject(o, "actors", (double)f->actors);
    if (f->people)
        cJSON_AddNumberToObject(o, "conversion_rate", (double)f->actors / (double)f->people);
    else
        cJSON_AddNullToObject(o, "conversion_rate");
    cJSON_AddNumberToObject(o, "signups", (double)f->signups);
    cJSON_AddNumberToObject(o, "followed_up", (double)f->followed);
    cJSON_AddNumberToObject(o, "unverified", (double)f->unverified);
    cJSON_AddItemToArray(arr, o);
}

/* `advocate [C] ID`: an advocate's figures in C, or in every campaign
 * where they have any. Returns an exit status. */
int cli_verb_advocate(cli_ctx *x, const cli_args *a)
{
    static const char *const titles[] = {"CAMPAIGN", "CLICKS", "REACHED", "ACTED", "RATE",
                                         "SIGNUPS", "FOLLOWED UP", "UNVERIFIED"};
    const char *ref = a->pos[a->npos - 1], *only = a->npos == 2 ? a->pos[0] : NULL;
    agg_member *camps = NULL;
    size_t nc = 0;
    int rc = CLI_ERR, shown = 0;
    if (!proto_hit_valid_id(ref, strlen(ref), PROTO_REF_MAX)) {
        fprintf(stderr, "actiongap: advocate: \"%s\" is not an advocate id ([A-Za-z0-9._-], 1-64)\n", ref);
        return CLI_USAGE;
    }
    if (only && cli_check_campaign("advocate", only) < 0)
        return CLI_USAGE;
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (!only && agg_report_campaigns(x->r, &x->conf, &camps, &nc) < 0)
        return cli_redis_failed(x);
    cli_table *t = x->json ? NULL : cli_table_new(8, titles);
    cJSON *arr = x->json ? cJSON_CreateArray() : NULL;
    if (!t && !arr)
        goto out;
    for (size_t i = 0; i < (only ? 1 : nc); i++) {
        const char *c = only ? only : camps[i].name;
        agg_adv_figures f;
        if (agg_advocate_figures(x->r, &x->conf, c, ref, now_s(), 0, &f) < 0) {
            rc = cli_redis_failed(x);
            goto out;
        }
        if (!only && !any(&f))
            continue;
        shown++;
        if (arr) {
            json_add(arr, c, &f);
            continue;
        }
        char cl[24], pe[24], ac[24], rt[24], su[24], fo[24], un[24];
        snprintf(cl, sizeof cl, "%lld", (long long)f.clicks);
        snprintf(pe, sizeof pe, "%lld", f.people);
        snprintf(ac, sizeof ac, "%lld", f.actors);
        snprintf(su, sizeof su, "%lld", f.signups);
        snprintf(fo, sizeof fo, "%lld", f.followed);
        snprintf(un, sizeof un, "%lld", (long long)f.unverified);
        const char *cells[] = {c, cl, pe, ac, rate(rt, sizeof rt, f.actors, f.people), su, fo, un};
        if (cli_table_add(t, cells) < 0)
            goto out;
    }
    if (arr) {
        rc = cli_print_json(arr) < 0 ? CLI_ERR : CLI_OK;
        arr = NULL;
    } else if (!shown) {
        printf("no figures for advocate %s%s%s yet\n", ref, only ? " in " : "", only ? only : "");
        rc = CLI_OK;
    } else {
        printf("advocate %s (reached and acted: people whose first advocate they were)\n", ref);
        cli_table_print(t, stdout);
        rc = CLI_OK;
    }
out:
    cJSON_Delete(arr);
    cli_table_free(t);
    agg_members_free(camps, nc);
    return rc;
}

/* ---------------------------------------------------------------- digest */

/* The links of one advocate, gathered for the digest. */
typedef struct {
    char ref[PROTO_REF_MAX + 1], name[129], email[129];
    char (*lines)[PROTO_TO_MAX + 1024 + 8];  /* "<short url> -> <target>" */
    int nlines;
} adv_links;

typedef struct {
    adv_links *v;
    int n, cap, oom;
    const cli_ctx *x;
} gather;

/* Files one link under its advocate (agg_links_each's fn). Returns 0, or -1 out of memory. */
static int gather_link(void *arg, const proto_link *l)
{
    gather *g = arg;
    int i = 0;
    if (!l->ref[0] || proto_link_state_at(l, (int64_t)time(NULL) * 1000) != PROTO_LINK_ACTIVE)
        return 0;
    while (i < g->n && strcmp(g->v[i].ref, l->ref) != 0)
        i++;
    if (i == g->n) {
        if (g->n == g->cap) {
            int cap = g->cap ? g->cap * 2 : 16;
            adv_links *p = realloc(g->v, (size_t)cap * sizeof *p);
            if (!p)
                return g->oom = 1, -1;
            g->v = p;
            g->cap = cap;
        }
        memset(&g->v[g->n], 0, sizeof g->v[0]);
        snprintf(g->v[g->n].ref, sizeof g->v[0].ref, "%s", l->ref);
        g->n++;
    }
    adv_links *a = &g->v[i];
    if (l->name[0])
        snprintf(a->name, sizeof a->name, "%s", l->name);
    if (l->email[0])
        snprintf(a->email, sizeof a->email, "%s", l->email);
    void *p = realloc(a->lines, (size_t)(a->nlines + 1) * sizeof *a->lines);
    if (!p)
        return g->oom = 1, -1;
    a->lines = p;
    char url[1024];
    cli_short_url(g->x, l->code, url, sizeof url);
    snprintf(a->lines[a->nlines++], sizeof a->lines[0], "%s -> %s", url, l->to);
    return 0;
}

/* Orders advocates by id (qsort). */
static int by_ref(const void *a, const void *b)
{
    return strcmp(((const adv_links *)a)->ref, ((const adv_links *)b)->ref);
}

/* Writes one advocate's digest subject into subj and its text into b; cannot fail (see oom). */
static void digest_text(proto_buf *subj, proto_buf *b, const char *c, const char *day,
                        const adv_links *a, const agg_adv_figures *f)
{
    char rt[24];
    const char *who = a->name[0] ? a->name : a->ref;
    proto_buf_printf(subj, "%s: your links on %s, %lld click%s and %lld action%s", c, day,
                     (long long)f->day_clicks, f->day_clicks == 1 ? "" : "s",
                     (long long)f->day_actions, f->day_actions == 1 ? "" : "s");
    proto_buf_printf(b, "Hello %s,\n\nwhat your sharing achieved for %s on %s (UTC):\n", who, c, day);
    proto_buf_printf(b, "  %lld click%s on your links, %lld action%s by the people they brought.\n\n",
                     (long long)f->day_clicks, f->day_clicks == 1 ? "" : "s",
                     (long long)f->day_actions, f->day_actions == 1 ? "" : "s");
    proto_buf_printf(b, "So far: %lld click%s, %lld %s reached, %lld acted (%s), %lld signup%s, "
                     "%lld of them followed up.\n\n", (long long)f->clicks, f->clicks == 1 ? "" : "s",
                     f->people, f->people == 1 ? "person" : "people", f->actors,
                     rate(rt, sizeof rt, f->actors, f->people), f->signups,
                     f->signups == 1 ? "" : "s", f->followed);
    proto_buf_printf(b, "Your link%s:\n", a->nlines == 1 ? "" : "s");
    for (int i = 0; i < a->nlines; i++)
        proto_buf_printf(b, "  %s\n", a->lines[i]);
}

/* Mails one digest through smtp_url. Returns 0, or -1 (printed). */
static int send_digest(cli_ctx *x, agg_curl *curl, const char *c, const char *day, const adv_links *a,
                       const char *subj, const char *text)
{
    char to[300], msgid[256], err[256], from[320];
    size_t len = 0;
    const char *who = a->name[0] ? a->name : a->ref;
    int quote = strpbrk(who, ",;:<>@\"()[]\\") != NULL;
    snprintf(to, sizeof to, "%s%s%s <%s>", quote ? "\"" : "", who, quote ? "\"" : "", a->email);
    for (char *p = to; *p; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    snprintf(msgid, sizeof msgid, "actiongap.digest.%s.%s.%s", c, a->ref, day);
    agg_mail_from(from, sizeof from, &x->conf);
    char *m = agg_mail_message(from, to, subj, text, msgid, (int64_t)time(NULL), &len);
    agg_xfer *xf = m ? agg_xfer_mail(curl, x->conf.smtp_url, from, a->email, m, len,
                                     10000, NULL, err, sizeof err) : NULL;
    int st = xf ? agg_xfer_run(curl, xf, err, sizeof err) : -1;
    agg_xfer_free(curl, xf);
    free(m);
    if (st < 0) {
        fprintf(stderr, "actiongap: digest: not sent to %s: %s\n", a->email, m ? err : "out of memory");
        return -1;
    }
    printf("sent %s's digest to %s\n", a->ref, a->email);
    return 0;
}

/* `digest C [--day YYYY-MM-DD] [--send]`: each advocate's text for the day
 * (yesterday, UTC, by default), printed, or mailed to each advocate with
 * an address through smtp_url. Returns an exit status. */
int cli_verb_digest(cli_ctx *x, const cli_args *a)
{
    const char *c = a->pos[0];
    gather g = {NULL, 0, 0, 0, x};
    char day[16];
    int64_t day_ms;
    int rc = CLI_ERR;
    if (cli_check_campaign("digest", c) < 0)
        return CLI_USAGE;
    if (a->day) {
        struct tm tm = {0};
        const char *end = strptime(a->day, "%Y-%m-%d", &tm);
        if (!end || *end) {
            fprintf(stderr, "actiongap: digest: --day wants YYYY-MM-DD, not \"%s\"\n", a->day);
            return CLI_USAGE;
        }
        day_ms = (int64_t)timegm(&tm) * 1000;
    } else {
        day_ms = ((int64_t)time(NULL) / 86400 - 1) * 86400 * 1000;
    }
    time_t dt = (time_t)(day_ms / 1000);
    struct tm tm;
    gmtime_r(&dt, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (agg_links_each(x->r, &x->conf, c, gather_link, &g) < 0) {
        rc = g.oom ? (fputs("actiongap: digest: out of memory\n", stderr), CLI_ERR) : cli_redis_failed(x);
        goto out;
    }
    if (g.n == 0) {
        printf("no advocate has a link in %s (actiongap links %s --to URL --advocates FILE)\n", c, c);
        rc = CLI_OK;
        goto out;
    }
    qsort(g.v, (size_t)g.n, sizeof *g.v, by_ref);
    cJSON *arr = x->json && !a->send ? cJSON_CreateArray() : NULL;
    agg_curl *curl = a->send && curl_global_init(CURL_GLOBAL_DEFAULT) == 0 ? agg_curl_new(NULL) : NULL;
    int sent = 0, failed = 0, nomail = 0;
    if (a->send && !curl) {
        fputs("actiongap: digest: out of memory\n", stderr);
        goto out;
    }
    for (int i = 0; i < g.n; i++) {
        agg_adv_figures f;
        if (agg_advocate_figures(x->r, &x->conf, c, g.v[i].ref, now_s(), day_ms, &f) < 0) {
            cJSON_Delete(arr);
            agg_curl_free(curl);
            rc = cli_redis_failed(x);
            goto out;
        }
        if (arr) {
            json_add(arr, c, &f);
            cJSON *o = cJSON_GetArrayItem(arr, i);
            cJSON_AddStringToObject(o, "ref", g.v[i].ref);
            cJSON_AddStringToObject(o, "name", g.v[i].name);
            cJSON_AddStringToObject(o, "email", g.v[i].email);
            cJSON_AddStringToObject(o, "day", day);
            cJSON_AddNumberToObject(o, "day_clicks", (double)f.day_clicks);
            cJSON_AddNumberToObject(o, "day_actions", (double)f.day_actions);
            continue;
        }
        proto_buf subj, text;
        proto_buf_init(&subj);
        proto_buf_init(&text);
        digest_text(&subj, &text, c, day, &g.v[i], &f);
        if (subj.oom || text.oom || !subj.data || !text.data) {
            failed++;
        } else if (a->send && !g.v[i].email[0]) {
            nomail++;
        } else if (a->send) {
            if (send_digest(x, curl, c, day, &g.v[i], subj.data, text.data) == 0)
                sent++;
            else
                failed++;
        } else {
            const char *who = g.v[i].name[0] ? g.v[i].name : g.v[i].ref;
            if (i)
                printf("\n----\n\n");
            if (g.v[i].email[0])
                printf("To: %s <%s>\n", who, g.v[i].email);
            else
                printf("To: %s (no e-mail address)\n", who);
            printf("Subject: %s\n\n%s", subj.data, text.data);
        }
        proto_buf_free(&subj);
        proto_buf_free(&text);
    }
    agg_curl_free(curl);
    if (a->send)
        printf("%d digest%s sent, %d without an e-mail address, %d failed\n", sent,
               sent == 1 ? "" : "s", nomail, failed);
    rc = arr ? (cli_print_json(arr) < 0 ? CLI_ERR : CLI_OK) : failed ? CLI_ERR : CLI_OK;
out:
    for (int i = 0; i < g.n; i++)
        free(g.v[i].lines);
    free(g.v);
    return rc;
}

/* dash.c: the dashboard's HTTP server — pages, assets, /api/v1, tokens (see dash.h). */
#include "dash.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_css.h"
#include "audience.h"
#include "app_js.h"
#include "clock.h"
#include "hit.h"
#include "index_html.h"
#include "keys.h"
#include "log.h"
#include "record.h"
#include "redis.h"
#include "report.h"
#include "report_json.h"
#include "share.h"

#define CSP                                                                                         \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "                \
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
#define LIST_MAX 500            /* campaigns in one list document, most recent first */
#define BOARD_MAX 100           /* advocates in one leaderboard document */
#define SERIES_HOURS 48
#define SERIES_DAYS 90

struct agg_dash {
    const proto_conf *conf;
    struct event_base *base;
    struct evhttp *http;
    struct event *sig[2];
    sys_redis *r;
};

/* What one request asks for, once its path is read. */
typedef struct {
    struct evhttp_request *req;
    agg_dash *d;
    int scope;                  /* agg_share_scope of its token, or -1: Redis failed */
    int has_token;
    char token_campaign[PROTO_CAMPAIGN_MAX + 1];
    char campaign[PROTO_CAMPAIGN_MAX + 1];
    struct evkeyvalq query;
} dreq;

/* ---------------------------------------------------------------- replies */

/* Adds the headers every answer carries; never fails. */
static void headers(struct evhttp_request *req, const char *type, const char *cache)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Content-Security-Policy", CSP);
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");     /* the token rides in the URL */
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    evhttp_add_header(h, "Cache-Control", cache);
}

/* Sends len bytes of body with status code; never fails. */
static void send_body(struct evhttp_request *req, int code, const char *type, const char *cache,
                      const void *body, size_t len)
{
    struct evbuffer *out = evbuffer_new();
    headers(req, type, cache);
    if (!out) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(out, body, len);
    evhttp_send_reply(req, code, NULL, out);
    evbuffer_free(out);
}

/* Sends {"error": msg} with status code; never fails. */
static void send_error(struct evhttp_request *req, int code, const char *msg)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "error", msg);
    char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (s)
        send_body(req, code, "application/json", "no-store", s, strlen(s));
    else
        evhttp_send_error(req, 500, NULL);
    free(s);
}

/* Sends doc (deleted here) with 200, adding now_ms; NULL is out of memory. */
static void send_doc(struct evhttp_request *req, cJSON *doc, int64_t now_ms)
{
    if (doc)
        cJSON_AddNumberToObject(doc, "now_ms", (double)now_ms);
    char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    if (!s) {
        send_error(req, 500, "out of memory");
        return;
    }
    send_body(req, 200, "application/json", "no-store", s, strlen(s));
    free(s);
}

/* Sends a page that says why it cannot be shown and what to do; never fails. */
static void send_refusal(struct evhttp_request *req, int code, const char *title, const char *what)
{
    char page[2048];
    int n = snprintf(page, sizeof page,
                     "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<title>actiongap: %s</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head>"
                     "<body><main class=\"refusal\"><h1>%s</h1><p>%s</p></main></body></html>\n",
                     title, title, what);
    send_body(req, code, "text/html; charset=utf-8", "no-store", page, (size_t)n);
}

/* Sends the 401 of a page or a document; never fails. */
static void unauthorized(const dreq *q, int page)
{
    static const char why[] =
        "Open the address <code>./deploy/run.sh</code> printed (it ends in <code>?t=</code> and the "
        "dashboard token), add <code>?t=</code> and the <code>dashboard_token</code> of the "
        "configuration, or ask the campaign's owner for a share link (<code>actiongap share "
        "CAMPAIGN</code>). A revoked link opens nothing.";
    evhttp_add_header(evhttp_request_get_output_headers(q->req), "WWW-Authenticate", "Bearer");
    if (page)
        send_refusal(q->req, 401, "This dashboard needs a token", why);
    else
        send_error(q->req, 401, q->has_token ? "this token opens nothing (revoked?)"
                                             : "a token is needed: Authorization: Bearer TOKEN, or ?t=TOKEN");
}

/* Sends the 403 of a token that opens something else; never fails. */
static void forbidden(const dreq *q, int page)
{
    if (page)
        send_refusal(q->req, 403, "This link does not open this page",
                     "A share link opens one campaign, or only its leaderboard. Ask the campaign's owner "
                     "for the link you need.");
    else
        send_error(q->req, 403, "this token does not open this document");
}

/* Sends the 503 of a Redis failure; never fails. */
static void redis_failed(const dreq *q)
{
    char msg[300];
    snprintf(msg, sizeof msg, "redis: %s", sys_redis_err(q->d->r));
    sys_warn("redis request failed", "err=\"%s\"", sys_redis_err(q->d->r));
    sys_redis_close(q->d->r);
    send_error(q->req, 503, msg);
}

/* ---------------------------------------------------------------- access */

/* Reads the request's token (Authorization: Bearer, else ?t=) and what it
 * opens into q. Returns 0, or -1 when Redis failed (answered). */
static int resolve(dreq *q)
{
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(q->req), "Authorization");
    const char *tok = NULL;
    if (auth && strncmp(auth, "Bearer ", 7) == 0)
        tok = auth + 7;
    else
        tok = evhttp_find_header(&q->query, "t");
    q->has_token = tok && *tok;
    q->scope = AGG_SHARE_NONE;
    if (!q->has_token)
        return 0;
    if (!sys_redis_connected(q->d->r) && sys_redis_connect(q->d->r) < 0) {
        redis_failed(q);
        return -1;
    }
    q->scope = agg_share_scope_of(q->d->r, q->d->conf, tok, strlen(tok), q->token_campaign,
                                  sizeof q->token_campaign);
    if (q->scope < 0) {
        redis_failed(q);
        return -1;
    }
    return 0;
}

/* Returns 1 if q's token opens campaign c's page or documents (board: its
 * leaderboard; c NULL: the list of every campaign). */
static int opens(const dreq *q, const char *c, int board)
{
    if (q->scope == AGG_SHARE_ALL)
        return 1;
    if (!c || strcmp(c, q->token_campaign) != 0)
        return 0;
    return q->scope == AGG_SHARE_CAMPAIGN || (board && q->scope == AGG_SHARE_BOARD);
}

/* Checks q may see c (board: its leaderboard); answers 401/403 when not.
 * Returns 1 if allowed. */
static int admit(const dreq *q, const char *c, int board, int page)
{
    if (q->scope == AGG_SHARE_NONE) {
        unauthorized(q, page);
        return 0;
    }
    if (!opens(q, c, board)) {
        forbidden(q, page);
        return 0;
    }
    return 1;
}

/* Decodes path segment seg (len bytes) as a campaign id into q->campaign.
 * Returns 0, or -1 if it is not one (SPEC 2: [A-Za-z0-9._-]{1,64}). */
static int campaign_of(dreq *q, const char *seg, size_t len)
{
    char raw[3 * PROTO_CAMPAIGN_MAX + 1];
    if (len == 0 || len >= sizeof raw)
        return -1;
    memcpy(raw, seg, len);
    raw[len] = '\0';
    size_t n = 0;
    char *dec = evhttp_uridecode(raw, 0, &n);
    proto_hit hit;
    unsigned seen = 0;
    proto_hit_init(&hit);
    int ok = dec && proto_hit_set(&hit, &seen, "c", 1, dec, n) == PROTO_OK && hit.campaign[0];
    if (ok)
        snprintf(q->campaign, sizeof q->campaign, "%s", hit.campaign);
    free(dec);
    return ok ? 0 : -1;
}

/* ---------------------------------------------------------------- documents */

/* Reads a whole decimal query parameter; returns 0 (absent: *v = dflt) or -1. */
static int query_i64(const dreq *q, const char *name, int64_t dflt, int64_t *v)
{
    const char *s = evhttp_find_header(&q->query, name);
    char *end;
    *v = dflt;
    if (!s)
        return 0;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (!*s || *end || errno)
        return -1;
    *v = x;
    return 0;
}

/* Answers /api/v1/campaigns: every campaign (the LIST_MAX most recent) with
 * its headline figures, read in two pipelined rounds. */
static void doc_campaigns(dreq *q, int64_t now)
{
    agg_member *v = NULL;
    size_t n = 0;
    if (agg_report_campaigns(q->d->r, q->d->conf, &v, &n) < 0) {
        redis_failed(q);
        return;
    }
    size_t shown = n < LIST_MAX ? n : LIST_MAX;
    agg_stats *st = calloc(shown + 1, sizeof *st);
    long long *dead = calloc(shown + 1, sizeof *dead);
    cJSON *doc = NULL;
    if (!st || !dead) {
        send_error(q->req, 500, "out of memory");
        goto out;
    }
    if (agg_report_summaries(q->d->r, q->d->conf, v, shown, now, st, dead) < 0) {
        redis_failed(q);
        goto out;
    }
    doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "campaigns");
    cJSON_AddNumberToObject(doc, "total", (double)n);
    int ok = arr != NULL;
    for (size_t i = 0; i < shown; i++) {
        cJSON *o = agg_json_summary(v[i].name, v[i].score, &st[i], dead[i]);
        ok &= o != NULL;
        cJSON_AddItemToArray(arr, o);
        agg_stats_free(&st[i]);
    }
    if (!ok) {
        cJSON_Delete(doc);
        doc = NULL;
    }
    send_doc(q->req, doc, now);
out:
    free(st);
    free(dead);
    agg_members_free(v, n);
}

/* Appends one subject of a segment as a CSV row to the evbuffer arg. */
static int csv_row(void *arg, const char *subject, const proto_aud *rec)
{
    char row[AGG_AUDIENCE_CSV_MAX];
    int n = agg_audience_csv_row(row, sizeof row, subject, rec);
    if (n > 0) {
        evbuffer_add(arg, row, (size_t)n);
        evbuffer_add(arg, "\r\n", 2);
    }
    return 0;
}

/* Answers /api/v1/campaigns/C/audience/SEGMENT.csv: the segment's people
 * as the command's CSV (subject, first_seen, last_seen, events, ref). */
static void audience_csv(dreq *q, const char *file, int64_t now)
{
    char seg[40];
    size_t n = strlen(file);
    if (n < 5 || n - 4 >= sizeof seg || strcmp(file + n - 4, ".csv") != 0) {
        send_error(q->req, 404, "no such document: /audience/SEGMENT.csv");
        return;
    }
    memcpy(seg, file, n - 4);
    seg[n - 4] = '\0';
    int s = agg_segment_of(seg);
    if (s < 0) {
        send_error(q->req, 404, "no such segment (gap, clicked-not-acted, opened-not-clicked, acted, waiting, reached)");
        return;
    }
    struct evbuffer *b = evbuffer_new();
    const agg_seg_filter f = {NULL, 0, NULL};
    if (!b) {
        send_error(q->req, 500, "out of memory");
        return;
    }
    evbuffer_add_printf(b, "%s\r\n", AGG_AUDIENCE_CSV_HEADER);
    if (agg_audience_each(q->d->r, q->d->conf, q->campaign, (agg_segment)s, &f, now / 1000, csv_row, b) < 0) {
        evbuffer_free(b);
        redis_failed(q);
        return;
    }
    char disp[200];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s-%s.csv\"", q->campaign, seg);
    headers(q->req, "text/csv; charset=utf-8", "no-store");
    evhttp_add_header(evhttp_request_get_output_headers(q->req), "Content-Disposition", disp);
    evhttp_send_reply(q->req, 200, NULL, b);
    evbuffer_free(b);
}

/* Answers /api/v1/campaigns/C[/what] for q->campaign. */
static void doc_campaign(dreq *q, const char *what, int64_t now)
{
    sys_redis *r = q->d->r;
    const proto_conf *conf = q->d->conf;
    const char *c = q->campaign;
    int known = 0;
    if (agg_report_known(r, conf, c, &known) < 0) {
        redis_failed(q);
        return;
    }
    if (!known) {
        send_error(q->req, 404, "no such campaign (no hit of it was counted yet)");
        return;
    }
    if (!*what) {
        agg_stats st;
        if (agg_report_stats(r, conf, c, now, &st) < 0) {
            redis_failed(q);
            return;
        }
        send_doc(q->req, agg_json_stats(c, &st), now);
        agg_stats_free(&st);
    } else if (strcmp(what, "/leaderboard") == 0) {
        agg_advocate *v = NULL;
        size_t n = 0;
        if (agg_report_advocates(r, conf, c, &v, &n) < 0) {
            redis_failed(q);
            return;
        }
        send_doc(q->req, agg_json_top(c, v, n, n < BOARD_MAX ? n : BOARD_MAX), now);
        agg_advocates_free(v, n);
    } else if (strcmp(what, "/pending") == 0) {
        agg_member *v = NULL;
        size_t n = 0;
        int64_t sla_s;
        if (agg_report_sla(r, conf, c, &sla_s) < 0 || agg_report_pending(r, conf, c, &v, &n) < 0) {
            redis_failed(q);
            return;
        }
        send_doc(q->req, agg_json_pending(c, v, n, sla_s, now), now);
        agg_members_free(v, n);
    } else if (strcmp(what, "/audience") == 0) {
        long long counts[AGG_SEG_COUNT];
        if (agg_audience_counts(r, conf, c, now / 1000, counts) < 0) {
            redis_failed(q);
            return;
        }
        cJSON *doc = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(doc, "segments");
        cJSON_AddStringToObject(doc, "campaign", c);
        cJSON_AddNumberToObject(doc, "audience_days", conf->audience_days);
        cJSON_AddBoolToObject(doc, "lists", q->scope == AGG_SHARE_ALL);   /* the CSVs open to this token */
        for (int i = 0; i < AGG_SEG_COUNT; i++)
            cJSON_AddNumberToObject(o, agg_segment_name((agg_segment)i), (double)counts[i]);
        if (!o) {
            cJSON_Delete(doc);
            doc = NULL;
        }
        send_doc(q->req, doc, now);
    } else if (strncmp(what, "/audience/", 10) == 0) {
        audience_csv(q, what + 10, now);
    } else if (strcmp(what, "/series") == 0) {
        const char *unit = evhttp_find_header(&q->query, "unit");
        int hour = !unit || strcmp(unit, "hour") == 0;
        int64_t from, to;
        if ((unit && !hour && strcmp(unit, "day") != 0) ||
            query_i64(q, "from", now - (hour ? (SERIES_HOURS - 1) * PROTO_HOUR_MS
                                             : (SERIES_DAYS - 1) * PROTO_DAY_MS), &from) < 0 ||
            query_i64(q, "to", now, &to) < 0 || from < 0 || to < from ||
            (to - from) / (hour ? PROTO_HOUR_MS : PROTO_DAY_MS) >= AGG_SERIES_MAX - 1) {
            send_error(q->req, 400, "series: unit=hour|day, from and to in ms since 1970, from <= to, "
                                    "at most " AGG_SERIES_MAX_TEXT " buckets");
            return;
        }
        agg_bucket *v = NULL;
        size_t n = 0;
        if (agg_report_series(r, conf, c, hour, from, to, &v, &n) < 0) {
            redis_failed(q);
            return;
        }
        send_doc(q->req, agg_json_series(hour, from, to, v, n), now);
        agg_series_free(v, n);
    } else {
        send_error(q->req, 404, "no such document");
    }
}

/* ---------------------------------------------------------------- routing */

/* Serves an embedded asset: gzip when accepted, 304 on a matching ETag. */
static void asset(struct evhttp_request *req, const char *type, const char *text, size_t len,
                  const unsigned char *gz, size_t gzlen, const char *etag)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    const char *inm = evhttp_find_header(in, "If-None-Match");
    const char *ae = evhttp_find_header(in, "Accept-Encoding");
    evhttp_add_header(h, "ETag", etag);
    evhttp_add_header(h, "Vary", "Accept-Encoding");
    if (inm && strstr(inm, etag)) {
        headers(req, type, "no-cache");
        evhttp_send_reply(req, 304, NULL, NULL);
        return;
    }
    if (ae && strstr(ae, "gzip")) {
        evhttp_add_header(h, "Content-Encoding", "gzip");
        send_body(req, 200, type, "no-cache", gz, gzlen);
    } else {
        send_body(req, 200, type, "no-cache", text, len);
    }
}

/* Returns 1 if path starts with prefix, setting *rest to what follows. */
static int under(const char *path, const char *prefix, const char **rest)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0)
        return 0;
    *rest = path + n;
    return 1;
}

/* Answers a page route (/, /c/C, /l/C) with the shell, once admitted. */
static void page(dreq *q, const char *c, int board)
{
    if (resolve(q) < 0 || !admit(q, c, board, 1))
        return;
    asset(q->req, "text/html; charset=utf-8", index_html, sizeof index_html - 1, index_html_gz,
          sizeof index_html_gz, index_html_etag);
}

/* Answers /api/v1/...; rest follows "/api/v1". */
static void api(dreq *q, const char *rest)
{
    const char *seg;
    int64_t now = sys_now_ms();
    if (strcmp(rest, "/campaigns") == 0) {
        if (resolve(q) == 0 && admit(q, NULL, 0, 0))
            doc_campaigns(q, now);
        return;
    }
    if (!under(rest, "/campaigns/", &seg)) {
        send_error(q->req, 404, "no such document");
        return;
    }
    const char *slash = strchr(seg, '/');
    size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
    if (campaign_of(q, seg, len) < 0) {
        send_error(q->req, 400, "not a campaign id ([A-Za-z0-9._-]{1,64})");
        return;
    }
    const char *what = slash ? slash : "";
    if (resolve(q) < 0 || !admit(q, q->campaign, strcmp(what, "/leaderboard") == 0, 0))
        return;
    if (strncmp(what, "/audience/", 10) == 0 && q->scope != AGG_SHARE_ALL) {
        forbidden(q, 0);    /* who the people are: the dashboard token only, never a share link */
        return;
    }
    doc_campaign(q, what, now);
}

/* Answers POST /api/v1/campaigns/C/followup, the "followed up" button: an
 * operator (the api_token, never the read-only tokens) records the
 * follow-up the command records. Body: {"subject": S} or subject=S. */
static void record_followup(dreq *q)
{
    const proto_conf *conf = q->d->conf;
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(q->req), "Authorization");
    size_t tl = strlen(conf->api_token);
    if (!tl) {
        send_error(q->req, 403, "no operator token is configured (api_token): the dashboard is read-only");
        return;
    }
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != tl ||
        CRYPTO_memcmp(auth + 7, conf->api_token, tl) != 0) {
        evhttp_add_header(evhttp_request_get_output_headers(q->req), "WWW-Authenticate", "Bearer");
        send_error(q->req, 401, "recording a follow-up needs the operator token (api_token)");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(q->req);
    char body[1025], subject[PROTO_SUBJECT_MAX + 1] = "";
    ev_ssize_t got = evbuffer_copyout(in, body, sizeof body - 1);
    body[got > 0 ? got : 0] = '\0';
    cJSON *doc = body[0] == '{' ? cJSON_Parse(body) : NULL;
    const cJSON *s = doc ? cJSON_GetObjectItemCaseSensitive(doc, "subject") : NULL;
    if (cJSON_IsString(s))
        snprintf(subject, sizeof subject, "%s", s->valuestring);
    cJSON_Delete(doc);
    if (!doc && strncmp(body, "subject=", 8) == 0) {
        char *dec = evhttp_uridecode(body + 8, 1, NULL);
        if (dec)
            snprintf(subject, sizeof subject, "%s", dec);
        free(dec);
    }
    agg_recorded out;
    proto_reason why;
    int rc = agg_record_followup(q->d->r, conf, q->campaign, subject, "dash", &out, &why);
    if (rc == -2) {
        char msg[120];
        snprintf(msg, sizeof msg, "not a follow-up: %s (want {\"subject\": \"...\"})", proto_reason_name(why));
        send_error(q->req, 400, msg);
        return;
    }
    if (rc < 0) {
        redis_failed(q);
        return;
    }
    cJSON *ok = cJSON_CreateObject();
    cJSON_AddStringToObject(ok, "campaign", q->campaign);
    cJSON_AddStringToObject(ok, "subject", subject);
    cJSON_AddStringToObject(ok, "entry", out.entry);
    cJSON_AddStringToObject(ok, "hid", out.hid);
    char *txt = cJSON_PrintUnformatted(ok);
    cJSON_Delete(ok);
    if (txt)
        send_body(q->req, 202, "application/json", "no-store", txt, strlen(txt));
    else
        send_error(q->req, 500, "out of memory");
    free(txt);
    sys_info("follow-up recorded from the dashboard", "campaign=%s entry=%s", q->campaign, out.entry);
}

/* Answers every request. */
static void on_request(struct evhttp_request *req, void *arg)
{
    dreq q;
    memset(&q, 0, sizeof q);
    q.req = req;
    q.d = arg;
    TAILQ_INIT(&q.query);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *qs = uri ? evhttp_uri_get_query(uri) : NULL;
    const char *rest;
    if (!path || (qs && evhttp_parse_query_str(qs, &q.query) < 0)) {
        send_error(req, 400, "malformed request target");
        goto out;
    }
    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST && under(path, "/api/v1/campaigns/", &rest)) {
        const char *slash = strchr(rest, '/');
        if (slash && strcmp(slash, "/followup") == 0 && campaign_of(&q, rest, (size_t)(slash - rest)) == 0)
            record_followup(&q);
        else
            send_error(req, 405, "the dashboard is read-only: GET (POST only to /api/v1/campaigns/C/followup)");
        goto out;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
        send_error(req, 405, "the dashboard is read-only: GET");
        goto out;
    }
    if (strcmp(path, "/healthz") == 0) {
        int up = sys_redis_connected(q.d->r) || sys_redis_connect(q.d->r) == 0;
        const char *body = up ? "{\"status\":\"ok\",\"redis\":\"up\"}\n" : "{\"status\":\"ok\",\"redis\":\"down\"}\n";
        send_body(req, 200, "application/json", "no-store", body, strlen(body));
    } else if (strcmp(path, "/assets/app.js") == 0) {
        asset(req, "text/javascript; charset=utf-8", app_js, sizeof app_js - 1, app_js_gz, sizeof app_js_gz,
              app_js_etag);
    } else if (strcmp(path, "/assets/app.css") == 0) {
        asset(req, "text/css; charset=utf-8", app_css, sizeof app_css - 1, app_css_gz, sizeof app_css_gz,
              app_css_etag);
    } else if (strcmp(path, "/") == 0) {
        page(&q, NULL, 0);
    } else if (under(path, "/c/", &rest) || under(path, "/l/", &rest)) {
        if (campaign_of(&q, rest, strlen(rest)) < 0)
            send_refusal(req, 404, "No such page", "A campaign id is [A-Za-z0-9._-], 1 to 64 characters.");
        else
            page(&q, q.campaign, path[1] == 'l');
    } else if (under(path, "/api/v1", &rest)) {
        api(&q, rest);
    } else {
        send_refusal(req, 404, "No such page", "The dashboard has /, /c/CAMPAIGN and /l/CAMPAIGN.");
    }
out:
    evhttp_clear_headers(&q.query);
}

/* ---------------------------------------------------------------- lifecycle */

/* Stops the loop on SIGTERM or SIGINT. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    agg_dash *d = arg;
    (void)what;
    sys_info("stopping", "signal=%d", (int)sig);
    event_base_loopbreak(d->base);
}

agg_dash *agg_dash_new(const proto_conf *conf)
{
    char host[128];
    int port;
    agg_dash *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->conf = conf;
    if (proto_conf_hostport(conf->dashboard_listen, host, sizeof host, &port) < 0 ||
        !(d->base = event_base_new()) || !(d->http = evhttp_new(d->base)) ||
        evhttp_bind_socket(d->http, host[0] ? host : "0.0.0.0", (ev_uint16_t)port) < 0) {
        sys_error("cannot listen", "dashboard_listen=%s", conf->dashboard_listen);
        agg_dash_free(d);
        return NULL;
    }
    if (!(d->r = sys_redis_new(conf->redis, 1000, 2000))) {
        agg_dash_free(d);
        return NULL;
    }
    evhttp_set_allowed_methods(d->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                            EVHTTP_REQ_DELETE);
    evhttp_set_max_headers_size(d->http, (ev_ssize_t)conf->max_header_bytes);
    evhttp_set_max_body_size(d->http, 1024);
    evhttp_set_timeout(d->http, conf->idle_timeout_s);
    evhttp_set_gencb(d->http, on_request, d);
    d->sig[0] = evsignal_new(d->base, SIGTERM, on_signal, d);
    d->sig[1] = evsignal_new(d->base, SIGINT, on_signal, d);
    if (!d->sig[0] || !d->sig[1] || evsignal_add(d->sig[0], NULL) < 0 || evsignal_add(d->sig[1], NULL) < 0) {
        agg_dash_free(d);
        return NULL;
    }
    return d;
}

int agg_dash_run(agg_dash *d)
{
    event_base_dispatch(d->base);
    return 0;
}

void agg_dash_free(agg_dash *d)
{
    if (!d)
        return;
    for (int i = 0; i < 2; i++)
        if (d->sig[i])
            event_free(d->sig[i]);
    if (d->http)
        evhttp_free(d->http);
    if (d->base)
        event_base_free(d->base);
    sys_redis_free(d->r);
    free(d);
}

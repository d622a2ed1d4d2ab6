/* alert_format.c: the webhook bodies of an alert (slack, discord, teams, ntfy, json) built with cJSON, the format chosen from a URL, and the dashboard link; no I/O. */
#include "alert_format.h"
#include "text.h"
#include "url.h"
#include "webhook.h"
#include "webhook_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DISCORD_MAX 2000        /* characters of a Discord message's content */

/* Returns the value of field name, or NULL if absent. */
const char *agg_webhook_field(int n, const char *const names[], const char *const values[],
                              const char *name)
{
    for (int i = 0; i < n; i++)
        if (names[i] && values[i] && strcmp(names[i], name) == 0)
            return values[i];
    return NULL;
}

/* Returns field name of a, or NULL. */
static const char *fld(const agg_alert *a, const char *name)
{
    return agg_webhook_field(a->n, a->names, a->values, name);
}

/* Parses a whole decimal integer. Returns 0, or -1 if s is not one. */
static int parse_ll(const char *s, long long *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno || *end ? -1 : 0;
}

/* Writes seconds as a person reads them ("17 min"), or "?" if secs is not a number; cannot fail. */
static void human(char *out, size_t cap, const char *secs)
{
    long long s;
    if (parse_ll(secs, &s) < 0)
        snprintf(out, cap, "?");
    else
        proto_fmt_duration(out, cap, (double)s, PROTO_DUR_WORDS);
}

/* Returns the campaign's display name (name, else campaign, else "?"). */
static const char *label_of(const agg_alert *a)
{
    const char *l = fld(a, "name");
    if (!l || !*l)
        l = fld(a, "campaign");
    return l ? l : "?";
}

/* Returns 1 for an overdue alert, 2 for a resolved one, 0 otherwise. */
static int kind_of(const agg_alert *a)
{
    const char *k = fld(a, "kind");
    return !k ? 0 : !strcmp(k, "followup_overdue") ? 1 : !strcmp(k, "followup_resolved") ? 2 : 0;
}

/* Appends the line a person reads, raw; cannot fail (see b->oom). */
void agg_alert_text(proto_buf *b, const agg_alert *a)
{
    char waited[48], sla[48];
    const char *subject = fld(a, "subject"), *kind = fld(a, "kind");
    int k = kind_of(a);
    human(waited, sizeof waited, fld(a, "waited_s"));
    human(sla, sizeof sla, fld(a, "sla_s"));
    if (k)
        proto_buf_printf(b, "Signup %s (%s) %s %s%s; SLA %s", subject ? subject : "?",
                         label_of(a), k == 1 ? "has waited" : "was followed up after", waited,
                         k == 1 ? " for follow-up" : "", sla);
    else
        proto_buf_printf(b, "Alert %s for %s%s%s", kind ? kind : "?", label_of(a),
                         subject ? ", subject " : "", subject ? subject : "");
}

/* Appends the title of an alert, raw; cannot fail (see b->oom). */
void agg_alert_title(proto_buf *b, const agg_alert *a)
{
    int k = kind_of(a);
    const char *kind = fld(a, "kind");
    proto_buf_printf(b, "%s%s: %s", k == 1 ? "Follow-up overdue" : k == 2 ? "Followed up late" : "Alert ",
                     k ? "" : kind ? kind : "?", label_of(a));
}

/* Appends s as valid UTF-8, control characters as spaces if asked; cannot fail (see b->oom). */
void agg_alert_utf8(proto_buf *b, const char *s, int ctl_to_space)
{
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = proto_utf8_seq(p, strlen((const char *)p));
        if (n == 0)
            proto_buf_printf(b, "\xef\xbf\xbd");
        else if (ctl_to_space && n == 1 && (*p < 0x20 || *p == 0x7f))
            proto_buf_printf(b, " ");
        else
            proto_buf_printf(b, "%.*s", (int)n, (const char *)p);
        p += n ? n : 1;
    }
}

/* Appends s as RFC 2047 B encoded-words (42 bytes of text each, cut between
 * characters) joined by sep; cannot fail (see b->oom). */
void agg_alert_encoded_words(proto_buf *b, const char *s, const char *sep)
{
    size_t len = strlen(s), at = 0;
    while (at < len || at == 0) {
        size_t take = 0;
        while (at + take < len) {
            size_t n = proto_utf8_seq((const unsigned char *)s + at + take, len - at - take);
            n = n ? n : 1;
            if (take + n > 42)
                break;
            take += n;
        }
        unsigned char enc[64];
        EVP_EncodeBlock(enc, (const unsigned char *)s + at, (int)take);
        proto_buf_printf(b, "%s=?UTF-8?B?%s?=", at ? sep : "", (const char *)enc);
        at += take;
        if (take == 0)
            break;
    }
}

/* Appends a header value: as it is when plain ASCII shorter than plain_max,
 * else as encoded-words split by sep. Returns 0, or -1 out of memory. */
int agg_alert_header_value(proto_buf *b, const char *value, const char *sep, size_t plain_max)
{
    proto_buf v;
    int plain = 1;
    proto_buf_init(&v);
    agg_alert_utf8(&v, value, 1);
    for (size_t i = 0; v.data && i < v.len; i++)
        plain &= (unsigned char)v.data[i] < 0x80;
    if (plain && v.len < plain_max)
        proto_buf_printf(b, "%s", v.data ? v.data : "");
    else
        agg_alert_encoded_words(b, v.data ? v.data : "", sep);
    int oom = v.oom;
    proto_buf_free(&v);
    return oom ? -1 : 0;
}

/* Prints j without spaces, each invalid UTF-8 byte as \ufffd (cJSON copies
 * bytes as they are). Returns the text (malloc'd, *len bytes), or NULL out
 * of memory. */
static char *print_json(const cJSON *j, size_t *len)
{
    char *raw = cJSON_PrintUnformatted(j);
    proto_buf b;
    proto_buf_init(&b);
    if (!raw)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)raw; *p;) {
        size_t n = *p < 0x80 ? 1 : proto_utf8_seq(p, strlen((const char *)p));
        proto_buf_printf(&b, "%.*s", (int)(n ? n : 6), n ? (const char *)p : "\\ufffd");
        p += n ? n : 1;
    }
    free(raw);
    if (b.oom || !b.data) {
        proto_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

/* Adds every field of a to o (numbers bare, a field named text skipped),
 * the link if any, and text. Returns 0, or -1 out of memory. */
static int json_fields(cJSON *o, const agg_alert *a, const char *text)
{
    static const char *const numeric[] = {"signup_ts", "waited_s", "sla_s", "ts", "followup_ts"};
    for (int i = 0; i < a->n; i++) {
        long long v;
        int num = 0;
        char d[24];
        if (!a->names[i] || !a->values[i] || strcmp(a->names[i], "text") == 0)
            continue;
        for (size_t k = 0; k < sizeof numeric / sizeof numeric[0]; k++)
            num |= strcmp(a->names[i], numeric[k]) == 0;
        if (num && parse_ll(a->values[i], &v) == 0)
            snprintf(d, sizeof d, "%lld", v);
        cJSON *item = num && parse_ll(a->values[i], &v) == 0 ? cJSON_CreateRaw(d)
                                                               : cJSON_CreateString(a->values[i]);
        if (!item)
            return -1;
        cJSON_AddItemToObject(o, a->names[i], item);
    }
    if (a->link && *a->link && !cJSON_AddStringToObject(o, "link", a->link))
        return -1;
    return cJSON_AddStringToObject(o, "text", text) ? 0 : -1;
}

/* Cuts the text of b (UTF-8, an invalid byte counting as one character) to
 * at most max characters, the last one "…" when cut; cannot fail (see b->oom). */
static void cut_chars(proto_buf *b, size_t max)
{
    size_t chars = 0, at = 0, last = 0;
    while (at < b->len) {
        size_t n = proto_utf8_seq((const unsigned char *)b->data + at, b->len - at);
        if (++chars == max)
            last = at;
        at += n ? n : 1;
    }
    if (chars > max) {
        b->len = last;
        proto_buf_printf(b, "\xe2\x80\xa6");
    }
}

/* Adds a TextBlock to the array body. Returns it, or NULL out of memory. */
static cJSON *text_block(cJSON *body, const char *text, int title)
{
    cJSON *t = cJSON_CreateObject();
    if (!t || !cJSON_AddStringToObject(t, "type", "TextBlock") ||
        !cJSON_AddStringToObject(t, "text", text) ||
        (title && (!cJSON_AddStringToObject(t, "weight", "Bolder") ||
                   !cJSON_AddStringToObject(t, "size", "Medium"))) ||
        !cJSON_AddBoolToObject(t, "wrap", 1)) {
        cJSON_Delete(t);
        return NULL;
    }
    cJSON_AddItemToArray(body, t);
    return t;
}

/* Adds a {title, value} fact to the array facts. Returns 0, or -1 out of memory. */
static int fact(cJSON *facts, const char *title, const char *value)
{
    cJSON *f = cJSON_CreateObject();
    if (!f || !cJSON_AddStringToObject(f, "title", title) ||
        !cJSON_AddStringToObject(f, "value", value ? value : "?")) {
        cJSON_Delete(f);
        return -1;
    }
    cJSON_AddItemToArray(facts, f);
    return 0;
}

/* Builds the Teams Workflows envelope: one Adaptive Card 1.4 (title, text,
 * facts, an Open URL action when there is a link). Returns it, or NULL out
 * of memory. */
static cJSON *teams_card(const agg_alert *a, const char *title, const char *text)
{
    char waited[48], sla[48];
    cJSON *msg = cJSON_CreateObject(), *atts, *att, *card, *body, *fs, *facts;
    human(waited, sizeof waited, fld(a, "waited_s"));
    human(sla, sizeof sla, fld(a, "sla_s"));
    if (!msg || !cJSON_AddStringToObject(msg, "type", "message") ||
        !(atts = cJSON_AddArrayToObject(msg, "attachments")) || !(att = cJSON_CreateObject()))
        goto fail;
    cJSON_AddItemToArray(atts, att);
    if (!cJSON_AddStringToObject(att, "contentType", "application/vnd.microsoft.card.adaptive") ||
        !cJSON_AddNullToObject(att, "contentUrl") || !(card = cJSON_AddObjectToObject(att, "content")) ||
        !cJSON_AddStringToObject(card, "$schema", "http://adaptivecards.io/schemas/adaptive-card.json") ||
        !cJSON_AddStringToObject(card, "type", "AdaptiveCard") ||
        !cJSON_AddStringToObject(card, "version", "1.4") ||
        !(body = cJSON_AddArrayToObject(card, "body")) || !text_block(body, title, 1) ||
        !text_block(body, text, 0) || !(fs = cJSON_CreateObject()))
        goto fail;
    cJSON_AddItemToArray(body, fs);
    if (!cJSON_AddStringToObject(fs, "type", "FactSet") || !(facts = cJSON_AddArrayToObject(fs, "facts")) ||
        fact(facts, "Campaign", label_of(a)) < 0 || fact(facts, "Subject", fld(a, "subject")) < 0 ||
        fact(facts, "Waited", waited) < 0 || fact(facts, "SLA", sla) < 0)
        goto fail;
    if (a->link && *a->link) {
        cJSON *acts = cJSON_AddArrayToObject(card, "actions"), *open = acts ? cJSON_CreateObject() : NULL;
        if (!open)
            goto fail;
        cJSON_AddItemToArray(acts, open);
        if (!cJSON_AddStringToObject(open, "type", "Action.OpenUrl") ||
            !cJSON_AddStringToObject(open, "title", "Open the pending follow-ups") ||
            !cJSON_AddStringToObject(open, "url", a->link))
            goto fail;
    }
    return msg;
fail:
    cJSON_Delete(msg);
    return NULL;
}

/* Adds header line "name: value" to m, value encoded when it is not plain
 * ASCII. Returns 0, or -1 out of memory. */
static int add_hdr(agg_alert_msg *m, const char *name, const char *value)
{
    proto_buf b;
    proto_buf_init(&b);
    proto_buf_printf(&b, "%s: ", name);
    int bad = agg_alert_header_value(&b, value, " ", SIZE_MAX) < 0;
    if (bad || b.oom || m->nhdr == AGG_ALERT_HDRS) {
        proto_buf_free(&b);
        return -1;
    }
    m->hdr[m->nhdr++] = b.data;
    return 0;
}

/* Builds the ntfy request: the text as a plain body, Title, Priority, Tags
 * and Click headers. Returns 0, or -1 out of memory. */
static int ntfy(const agg_alert *a, const char *title, const char *text, agg_alert_msg *m)
{
    proto_buf b;
    int k = kind_of(a);
    proto_buf_init(&b);
    agg_alert_utf8(&b, text, 0);
    if (b.oom || !b.data) {
        proto_buf_free(&b);
        return -1;
    }
    m->body = b.data;
    m->len = b.len;
    m->ctype = "text/plain; charset=utf-8";
    if (add_hdr(m, "Title", title) < 0 || add_hdr(m, "Priority", k == 1 ? "high" : "default") < 0 ||
        add_hdr(m, "Tags", k == 1 ? "warning" : k == 2 ? "white_check_mark" : "bell") < 0 ||
        (a->link && *a->link && add_hdr(m, "Click", a->link) < 0))
        return -1;
    return 0;
}

/* Builds the webhook request of a in format f. Returns 0, or -1 out of memory. */
int agg_alert_build(proto_webhook_format f, const agg_alert *a, agg_alert_msg *m)
{
    proto_buf title, text;
    cJSON *j = NULL;
    int rc = -1;
    memset(m, 0, sizeof *m);
    proto_buf_init(&title);
    proto_buf_init(&text);
    agg_alert_title(&title, a);
    agg_alert_text(&text, a);
    if (f != PROTO_WH_JSON && f != PROTO_WH_AUTO && f != PROTO_WH_TEAMS && a->link && *a->link)
        proto_buf_printf(&text, "\n%s", a->link);
    if (title.oom || text.oom)
        goto done;
    if (f == PROTO_WH_DISCORD)
        cut_chars(&text, DISCORD_MAX);
    m->ctype = "application/json";
    switch (f) {
    case PROTO_WH_NTFY:
        rc = ntfy(a, title.data, text.data, m);
        goto done;
    case PROTO_WH_TEAMS:
        j = teams_card(a, title.data, text.data);
        break;
    case PROTO_WH_SLACK:
    case PROTO_WH_DISCORD:
        if ((j = cJSON_CreateObject()) &&
            !cJSON_AddStringToObject(j, f == PROTO_WH_SLACK ? "text" : "content", text.data)) {
            cJSON_Delete(j);
            j = NULL;
        }
        break;
    default:
        if ((j = cJSON_CreateObject()) && json_fields(j, a, text.data) < 0) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    if (j && (m->body = print_json(j, &m->len)) != NULL)
        rc = 0;
done:
    cJSON_Delete(j);
    proto_buf_free(&title);
    proto_buf_free(&text);
    if (rc < 0)
        agg_alert_msg_free(m);
    return rc;
}

/* Frees a built request; cannot fail. */
void agg_alert_msg_free(agg_alert_msg *m)
{
    free(m->body);
    for (int i = 0; i < m->nhdr; i++)
        free(m->hdr[i]);
    memset(m, 0, sizeof *m);
}

/* Writes the JSON body of an alert into out. Returns its length, or -1 if it does not fit. */
long agg_webhook_body(int n, const char *const names[], const char *const values[], char *out,
                      size_t cap)
{
    agg_alert a = {n, names, values, NULL};
    agg_alert_msg m;
    if (agg_alert_build(PROTO_WH_JSON, &a, &m) < 0)
        return -1;
    long len = m.len < cap ? (long)m.len : -1;
    if (len >= 0)
        memcpy(out, m.body, m.len + 1);
    agg_alert_msg_free(&m);
    return len;
}

/* Reports whether host is domain or one of its subdomains; cannot fail. */
static int host_is(const char *host, size_t hl, const char *domain)
{
    size_t dl = strlen(domain);
    return (hl == dl && !strncasecmp(host, domain, dl)) ||
           (hl > dl && host[hl - dl - 1] == '.' && !strncasecmp(host + hl - dl, domain, dl));
}

/* Picks the format of a webhook URL; never fails (json by default). */
proto_webhook_format agg_alert_detect(const char *url)
{
    const char *h = strstr(url, "://");
    if (!h)
        return PROTO_WH_JSON;
    h += 3;
    size_t alen = strcspn(h, "/?#");
    const char *at = memchr(h, '@', alen);
    if (at) {
        alen -= (size_t)(at + 1 - h);
        h = at + 1;
    }
    size_t hl = strcspn(h, ":/?#");
    hl = hl < alen ? hl : alen;
    const char *path = h + alen;
    size_t pl = strcspn(path, "?#");
    if (hl == 15 && !strncasecmp(h, "hooks.slack.com", 15))
        return PROTO_WH_SLACK;
    if ((host_is(h, hl, "discord.com") || host_is(h, hl, "discordapp.com")) &&
        !strncmp(path, "/api/webhooks/", 14))
        return pl >= 6 && !strncmp(path + pl - 6, "/slack", 6) ? PROTO_WH_SLACK : PROTO_WH_DISCORD;
    if ((hl > 16 && host_is(h, hl, "logic.azure.com")) || host_is(h, hl, "powerplatform.com") ||
        host_is(h, hl, "webhook.office.com"))
        return PROTO_WH_TEAMS;
    if (hl == 7 && !strncasecmp(h, "ntfy.sh", 7))
        return PROTO_WH_NTFY;
    return PROTO_WH_JSON;
}

/* Returns the index of a format name, or -1. */
int agg_alert_format_parse(const char *name)
{
    for (int i = 0; proto_webhook_format_names[i]; i++)
        if (!strcmp(name, proto_webhook_format_names[i]))
            return i;
    return -1;
}

/* Writes the dashboard URL of a campaign's pending list. Returns 0, or -1. */
int agg_alert_link(char *out, size_t cap, const char *dashboard_url, const char *campaign)
{
    char enc[600];
    size_t bl = dashboard_url ? strlen(dashboard_url) : 0;
    while (bl && dashboard_url[bl - 1] == '/')
        bl--;
    if (!bl || !campaign || proto_url_encode(enc, sizeof enc, campaign, strlen(campaign)) < 0)
        return -1;
    int n = snprintf(out, cap, "%.*s/c/%s#pending", (int)bl, dashboard_url, enc);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

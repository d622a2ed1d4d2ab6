/* hits.c: the verbs that write or sign hits — `followup` appends a
 * followup hit to the stream as the API would, `link` prints a signed pixel
 * or tracked-link URL (SPEC 5). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "record.h"
#include "clock.h"
#include "hit.h"
#include "keys.h"
#include "schema.h"
#include "sign.h"
#include "url.h"

/* ---------------------------------------------------------------- followup */

/* Sets one hit parameter for verb, naming the option on failure; returns 0
 * or -1 (printed). */
static int set_param(proto_hit *hit, unsigned *seen, const char *verb, const char *name,
                     const char *opt, const char *value)
{
    char q[310];
    proto_reason r;

    if (!value)
        return 0;
    r = proto_hit_set(hit, seen, name, strlen(name), value, strlen(value));
    if (r == PROTO_OK && *value)
        return 0;
    fprintf(stderr, "actiongap: %s: invalid %s %s (%s)\n", verb, opt,
            cli_quoted(q, sizeof q, value),
            r == PROTO_OK ? "empty" : proto_reason_name(r));
    return -1;
}

/* Appends a followup hit for SUBJECT of campaign C (record.c, as the
 * dashboard's button does); returns an exit status. */
int cli_verb_followup(cli_ctx *x, const cli_args *a)
{
    const char *campaign = a->pos[0], *subject = a->pos[1];
    agg_recorded out;
    proto_reason why;
    char q[310];

    if (cli_check_campaign("followup", campaign) < 0)
        return CLI_USAGE;
    if (cli_connect(x) < 0)
        return CLI_ERR;
    int rc = agg_record_followup(x->r, &x->conf, campaign, subject, "cli", &out, &why);
    if (rc == -2) {
        fprintf(stderr, "actiongap: followup: invalid subject %s (%s)\n", cli_quoted(q, sizeof q, subject),
                proto_reason_name(why));
        return CLI_USAGE;
    }
    if (rc < 0)
        return cli_redis_failed(x);
    if (x->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "campaign", campaign);
        cJSON_AddStringToObject(doc, "subject", subject);
        cJSON_AddStringToObject(doc, "entry", out.entry);
        cJSON_AddStringToObject(doc, "stream", out.stream);
        cJSON_AddStringToObject(doc, "hid", out.hid);
        return cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
    }
    printf("followup recorded for %s in %s (entry %s)\n", subject, campaign, out.entry);
    return CLI_OK;
}

/* ---------------------------------------------------------------- link */

/* Appends "&name=<encoded value>" (no '&' first) to q; returns 0 or -1 if
 * q (cap bytes) is full. */
static int query_add(char *q, size_t cap, const char *name, const char *value)
{
    size_t n = strlen(q);
    long e;

    if (!value || !*value)
        return 0;
    int w = snprintf(q + n, cap - n, "%s%s=", n ? "&" : "", name);
    if (w < 0 || (size_t)w >= cap - n)
        return -1;
    n += (size_t)w;
    e = proto_url_encode(q + n, cap - n, value, strlen(value));
    return e < 0 ? -1 : 0;
}

/* Prints a signed pixel or tracked-link URL; returns an exit status. */
int cli_verb_link(cli_ctx *x, const cli_args *a)
{
    proto_hit hit;
    unsigned seen = 0;
    proto_reason why;
    char q[8192] = "", sig[23], base[sizeof x->conf.base_url];
    size_t bl;

    if (cli_check_campaign("link", a->pos[0]) < 0)
        return CLI_USAGE;
    if (a->short_link)
        return cli_link_short(x, a);
    if (!x->conf.signing_key[0]) {
        fputs("actiongap: link: signing_key is not set (config key signing_key)\n", stderr);
        return CLI_USAGE;
    }
    proto_hit_init(&hit);
    if (set_param(&hit, &seen, "link", "c", "campaign", a->pos[0]) < 0 ||
        set_param(&hit, &seen, "link", "e", "--event", a->event) < 0 ||
        set_param(&hit, &seen, "link", "s", "--subject", a->subject) < 0 ||
        set_param(&hit, &seen, "link", "ref", "--ref", a->ref) < 0 ||
        set_param(&hit, &seen, "link", "ch", "--channel", a->channel) < 0 ||
        set_param(&hit, &seen, "link", "to", "--to", a->to) < 0)
        return CLI_USAGE;
    why = proto_hit_finish(&hit, a->to ? PROTO_VIA_CLICK : PROTO_VIA_PIXEL);
    if (why != PROTO_OK) {
        fprintf(stderr, "actiongap: link: the collector would reject this hit (%s)\n",
                proto_reason_name(why));
        return CLI_USAGE;
    }
    if (query_add(q, sizeof q, "c", a->pos[0]) < 0 || query_add(q, sizeof q, "e", a->event) < 0 ||
        query_add(q, sizeof q, "s", a->subject) < 0 || query_add(q, sizeof q, "ref", a->ref) < 0 ||
        query_add(q, sizeof q, "ch", a->channel) < 0 || query_add(q, sizeof q, "to", a->to) < 0 ||
        (a->no_carry && a->to && query_add(q, sizeof q, "nc", "1") < 0)) {
        fputs("actiongap: link: the query is too long\n", stderr);
        return CLI_USAGE;
    }
    if (proto_sign_query(x->conf.signing_key, strlen(x->conf.signing_key), q, strlen(q), sig) < 0) {
        fputs("actiongap: link: cannot sign the query\n", stderr);
        return CLI_ERR;
    }
    snprintf(base, sizeof base, "%s", x->conf.base_url);
    bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        base[--bl] = '\0';
    if (x->json) {
        size_t ul = strlen(base) + strlen(q) + 64;
        char *url = malloc(ul);
        if (!url) {
            fputs("actiongap: link: out of memory\n", stderr);
            return CLI_ERR;
        }
        snprintf(url, ul, "%s/%s?%s&sig=%s", base, a->to ? "r" : "p.gif", q, sig);
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "url", url);
        cJSON_AddStringToObject(doc, "query", q);
        cJSON_AddStringToObject(doc, "sig", sig);
        free(url);
        return cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
    }
    printf("%s/%s?%s&sig=%s\n", base, a->to ? "r" : "p.gif", q, sig);
    return CLI_OK;
}

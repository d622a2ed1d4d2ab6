/* hits.c: the verbs that write or sign hits — `followup` appends a
 * followup hit to the stream as the API would, `link` prints a signed pixel
 * or tracked-link URL (SPEC 5). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "hit.h"
#include "keys.h"
#include "schema.h"
#include "sign.h"
#include "url.h"

/* ---------------------------------------------------------------- followup */

/* Fills buf with 8 random hex digits; never fails (falls back to time/pid). */
static void random_hex(char buf[9])
{
    unsigned char b[4];
    FILE *f = fopen("/dev/urandom", "rb");

    if (!f || fread(b, 1, sizeof b, f) != sizeof b) {
        uint32_t v = (uint32_t)sys_now_ms() ^ ((uint32_t)clock() << 16);
        memcpy(b, &v, sizeof b);
    }
    if (f)
        fclose(f);
    snprintf(buf, 9, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

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

/* Appends a followup hit for SUBJECT of campaign C; returns an exit status. */
int cli_verb_followup(cli_ctx *x, const cli_args *a)
{
    const char *campaign = a->pos[0], *subject = a->pos[1];
    proto_hit hit;
    unsigned seen = 0;
    proto_reason why;
    char key[PROTO_KEY_MAX], rnd[9];
    proto_resp cmd = {0}, args = {0};
    redisReply *r;
    int rc;

    if (cli_check_campaign("followup", campaign) < 0)
        return CLI_USAGE;
    proto_hit_init(&hit);
    if (set_param(&hit, &seen, "followup", "c", "campaign", campaign) < 0 ||
        set_param(&hit, &seen, "followup", "e", "event", proto_event_name(PROTO_EV_FOLLOWUP)) < 0 ||
        set_param(&hit, &seen, "followup", "s", "subject", subject) < 0)
        return CLI_USAGE;
    if ((why = proto_hit_finish(&hit, PROTO_VIA_API)) != PROTO_OK) {
        fprintf(stderr, "actiongap: followup: invalid hit (%s)\n", proto_reason_name(why));
        return CLI_USAGE;
    }
    hit.agent = PROTO_AGENT_HUMAN;
    hit.ts = sys_now_ms();
    random_hex(rnd);
    snprintf(hit.hid, sizeof hit.hid, "cli.%s-1", rnd);
    int kl = proto_key_hits(key, sizeof key, x->conf.prefix,
                            proto_partition(campaign, (unsigned)x->conf.partitions));
    if (kl < 0) {
        fputs("actiongap: followup: key name too long\n", stderr);
        return CLI_ERR;
    }
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (proto_hit_xadd(&cmd, &args, key, (size_t)kl, &hit, NULL, NULL, 0, NULL, 0) < 0) {
        fputs("actiongap: out of memory\n", stderr);
        r = NULL;
    } else {
        r = cli_cmd_resp(x, cmd.data, cmd.len);
    }
    proto_resp_free(&cmd);
    proto_resp_free(&args);
    if (!r)
        return CLI_ERR;
    rc = CLI_OK;
    if (r->type != REDIS_REPLY_STRING) {
        fputs("actiongap: followup: unexpected reply to XADD\n", stderr);
        rc = CLI_ERR;
    } else if (x->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "campaign", campaign);
        cJSON_AddStringToObject(doc, "subject", subject);
        cJSON_AddStringToObject(doc, "entry", r->str);
        cJSON_AddStringToObject(doc, "stream", key);
        cJSON_AddStringToObject(doc, "hid", hit.hid);
        rc = cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
    } else {
        printf("followup recorded for %s in %s (entry %s)\n", subject, campaign, r->str);
    }
    freeReplyObject(r);
    return rc;
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

/* share.c: `actiongap share C [--leaderboard] [--revoke]`, the dashboard's
 * share links (SPEC 5; aggregator/share.c keeps them). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "share.h"

/* Writes the dashboard's base URL (dashboard_url, else http:// and
 * dashboard_listen) into buf without a trailing slash; returns buf. */
static char *base_url(const proto_conf *conf, char *buf, size_t cap)
{
    if (conf->dashboard_url[0])
        snprintf(buf, cap, "%s", conf->dashboard_url);
    else
        snprintf(buf, cap, "http://%s", conf->dashboard_listen);
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '/')
        buf[n - 1] = '\0';
    return buf;
}

/* Makes (or with --revoke deletes) C's share links; prints the URL (or how
 * many were revoked). Returns an exit status. */
int cli_verb_share(cli_ctx *x, const cli_args *a)
{
    const char *c = a->pos[0];
    char token[AGG_SHARE_TOKEN_LEN + 1], base[600], url[1400];
    if (cli_check_campaign("share", c) < 0)
        return CLI_USAGE;
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (a->revoke) {
        long n;
        if (agg_share_revoke(x->r, &x->conf, c, a->leaderboard, &n) < 0)
            return cli_redis_failed(x);
        if (x->json) {
            cJSON *doc = cJSON_CreateObject();
            cJSON_AddStringToObject(doc, "campaign", c);
            cJSON_AddNumberToObject(doc, "revoked", (double)n);
            return cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
        }
        printf("%ld %slink%s of %s revoked\n", n, a->leaderboard ? "leaderboard " : "", n == 1 ? "" : "s", c);
        return CLI_OK;
    }
    if (agg_share_new(x->r, &x->conf, c, a->leaderboard, token) < 0)
        return cli_redis_failed(x);
    snprintf(url, sizeof url, "%s/%c/%s?t=%s", base_url(&x->conf, base, sizeof base), a->leaderboard ? 'l' : 'c',
             c, token);
    if (x->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "campaign", c);
        cJSON_AddStringToObject(doc, "opens", a->leaderboard ? "leaderboard" : "campaign");
        cJSON_AddStringToObject(doc, "token", token);
        cJSON_AddStringToObject(doc, "url", url);
        return cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
    }
    printf("%s\n", url);
    return CLI_OK;
}

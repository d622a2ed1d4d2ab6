/* repair.c: `actiongap repair C`, which re-queues the entries a poisoned
 * key sent to a campaign's dead-letter stream (SPEC 4). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "keys.h"
#include "resp.h"

#define CHUNK 100   /* dead-letter entries read at a time */

/* Returns 1 if field name f (n bytes) is one the dead-letter script added. */
static int dead_field(const char *f, size_t n)
{
    return n > 5 && memcmp(f, "dead_", 5) == 0;
}

/* Moves one dead-letter entry back to the hit stream: XADD and XDEL in one
 * MULTI/EXEC, so that it is in exactly one of the two. Returns 0, or -1
 * after printing one line. */
static int requeue(cli_ctx *x, const char *hits, const char *dead, const redisReply *e)
{
    const redisReply *id = e->element[0], *f = e->element[1];
    proto_resp args = {0}, cmd = {0};
    proto_resp_str(&args, "XADD");
    proto_resp_str(&args, hits);
    proto_resp_str(&args, "*");
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        if (dead_field(f->element[i]->str, f->element[i]->len))
            continue;
        proto_resp_arg(&args, f->element[i]->str, f->element[i]->len);
        proto_resp_arg(&args, f->element[i + 1]->str, f->element[i + 1]->len);
    }
    proto_resp_command(&cmd, &args);
    int rc = -1;
    redisReply *r = NULL;
    if (args.oom || cmd.oom) {
        fputs("actiongap: out of memory\n", stderr);
        goto out;
    }
    if (!(r = cli_cmd(x, "MULTI")))
        goto out;
    freeReplyObject(r);
    if (!(r = cli_cmd_resp(x, cmd.data, cmd.len)))
        goto out;
    freeReplyObject(r);
    if (!(r = cli_cmd(x, "XDEL %s %s", dead, id->str)))
        goto out;
    freeReplyObject(r);
    if (!(r = cli_cmd(x, "EXEC")))
        goto out;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_INTEGER)
        rc = 0;
    else
        fprintf(stderr, "actiongap: repair: entry %s not moved (%s)\n", id->str,
                r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply to EXEC");
    freeReplyObject(r);
out:
    proto_resp_free(&args);
    proto_resp_free(&cmd);
    return rc;
}

/* Re-queues every dead-letter entry of campaign C on its hit stream, where
 * the aggregator applies it like a new hit (exactly once: it was never
 * applied, and it leaves the dead-letter stream in the same transaction).
 * Returns an exit status. */
int cli_verb_repair(cli_ctx *x, const cli_args *a)
{
    const char *campaign = a->pos[0];
    char dead[PROTO_KEY_MAX], hits[PROTO_KEY_MAX];
    long long moved = 0;

    if (cli_check_campaign("repair", campaign) < 0)
        return CLI_USAGE;
    if (proto_key_of(dead, sizeof dead, x->conf.prefix, campaign, PROTO_CK_DEAD) < 0 ||
        proto_key_hits(hits, sizeof hits, x->conf.prefix,
                       proto_partition(campaign, (unsigned)x->conf.partitions)) < 0) {
        fputs("actiongap: repair: key name too long\n", stderr);
        return CLI_ERR;
    }
    if (cli_connect(x) < 0)
        return CLI_ERR;
    for (;;) {
        redisReply *r = cli_cmd(x, "XRANGE %s - + COUNT %d", dead, CHUNK);
        if (!r)
            return CLI_ERR;
        size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        int bad = 0;
        for (size_t i = 0; i < n && !bad; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                e->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            bad = requeue(x, hits, dead, e) < 0;
            moved += !bad;
        }
        freeReplyObject(r);
        if (bad) {
            fprintf(stderr, "actiongap: repair: %lld entries re-queued before the error\n", moved);
            return CLI_ERR;
        }
        if (n < CHUNK)
            break;
    }
    if (x->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "campaign", campaign);
        cJSON_AddNumberToObject(doc, "requeued", (double)moved);
        cJSON_AddStringToObject(doc, "stream", hits);
        return cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
    }
    printf("%lld entries of %s re-queued on %s: the aggregator applies them now "
           "(if a key is still bad they return to %s)\n", moved, campaign, hits, dead);
    return CLI_OK;
}

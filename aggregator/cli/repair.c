/* repair.c: `actiongap repair C`, which re-queues the entries a poisoned
 * key sent to a campaign's dead-letter stream (SPEC 4). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "cli.h"
#include "htab.h"
#include "keys.h"

#define CHUNK 100   /* dead-letter entries read at a time */

/* The nonces moved by this run: a second copy of a hit (a retry that was
 * dead-lettered too) is dropped, not re-queued. */
typedef struct {
    char **v;
    size_t n, cap;
    proto_htab tab;
} nonces;

/* Returns 1 if item idx of the nonces arg equals the probe (nonces.v[n]). */
static int nonce_eq(const void *arg, uint32_t idx)
{
    const nonces *s = arg;
    return strcmp(s->v[idx], s->v[s->n]) == 0;
}

/* Records nonce s (len bytes). Returns 1 if it was seen before, 0 if new,
 * -1 when out of memory. */
static int nonce_seen(nonces *s, const char *str, size_t len)
{
    if (s->n + 1 >= s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 64;
        char **nv = realloc(s->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        s->v = nv;
        s->cap = nc;
    }
    if (!(s->v[s->n] = strndup(str, len)))
        return -1;
    long found = proto_htab_find_or_add(&s->tab, proto_hash64(str, len), nonce_eq, s,
                                        (uint32_t)s->n);
    if (found == -2 || found >= 0) {
        free(s->v[s->n]);
        return found == -2 ? -1 : 1;
    }
    s->n++;
    return 0;
}

/* Frees the set; never fails. */
static void nonces_free(nonces *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    proto_htab_free(&s->tab);
}

/* Returns the value of field name in entry fields f, or NULL. */
static const redisReply *field(const redisReply *f, const char *name)
{
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, name) == 0)
            return f->element[i + 1];
    return NULL;
}

/* Moves (or, a nonce already moved, drops) one entry: the repair script
 * re-queues it in the partition's slot (once: ag:repaired:{P} remembers
 * it), then XDEL takes it from the dead-letter stream in the campaign's
 * slot. Returns 1 moved, 2 dropped, 0 moved before (a repair killed before
 * its XDEL), or -1 after printing a line. */
static int requeue(cli_ctx *x, const char *campaign, const char *hits, const char *repaired,
                   const char *dead, const redisReply *e, nonces *seen)
{
    const redisReply *f = e->element[1];
    const redisReply *n = field(f, "n");
    int dup = n && n->type == REDIS_REPLY_STRING ? nonce_seen(seen, n->str, n->len) : 0;
    size_t argc = 0, nf = f->elements & ~(size_t)1;
    const char **argv = calloc(nf + 8, sizeof *argv);
    size_t *lens = calloc(nf + 8, sizeof *lens);
    if (dup < 0 || !argv || !lens) {
        fputs("actiongap: out of memory\n", stderr);
        free(argv);
        free(lens);
        return -1;
    }
    const char *head[] = {"EVALSHA", agg_scripts_sha(AGG_SCRIPT_REPAIR), "2", hits, repaired,
                          campaign, e->element[0]->str, dup ? "1" : "0"};
    for (size_t i = 0; i < 8; i++, argc++) {
        argv[argc] = head[i];
        lens[argc] = strlen(head[i]);
    }
    for (size_t i = 0; i < nf; i++, argc++) {
        argv[argc] = f->element[i]->str ? f->element[i]->str : "";
        lens[argc] = f->element[i]->str ? f->element[i]->len : 0;
    }
    redisReply *r = sys_redis_cmdv(x->r, (int)argc, argv, lens);
    free(argv);
    free(lens);
    if (!r)
        return cli_redis_failed(x), -1;
    int rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
    if (rc < 0)
        fprintf(stderr, "actiongap: repair: entry %s not moved (%s)\n", e->element[0]->str,
                r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    if (rc < 0 || !(r = cli_cmd(x, "XDEL %s %s", dead, e->element[0]->str)))
        return -1;
    freeReplyObject(r);
    return rc;
}

/* Re-queues every dead-letter entry of campaign C (those present when it
 * starts) on its hit stream, where the aggregator applies it like a new
 * hit: exactly once, as it was never applied and leaves the dead-letter
 * stream in the same script. Returns an exit status. */
int cli_verb_repair(cli_ctx *x, const cli_args *a)
{
    const char *campaign = a->pos[0];
    char dead[PROTO_KEY_MAX], hits[PROTO_KEY_MAX], repaired[PROTO_KEY_MAX], end[64], from[70] = "-";
    unsigned part;
    long long moved = 0, dropped = 0;
    nonces seen = {0};
    int rc = CLI_ERR;

    if (cli_check_campaign("repair", campaign) < 0)
        return CLI_USAGE;
    part = proto_partition(campaign, (unsigned)x->conf.partitions);
    if (proto_key_of(dead, sizeof dead, x->conf.prefix, campaign, PROTO_CK_DEAD) < 0 ||
        proto_key_hits(hits, sizeof hits, x->conf.prefix, part) < 0 ||
        proto_key_repaired(repaired, sizeof repaired, x->conf.prefix, part) < 0) {
        fputs("actiongap: repair: key name too long\n", stderr);
        return CLI_ERR;
    }
    if (cli_connect(x) < 0)
        return CLI_ERR;
    if (agg_scripts_load(x->r) < 0)
        return cli_redis_failed(x);
    /* up to the last entry now: entries a still-bad key sends back are left */
    redisReply *r = cli_cmd(x, "XREVRANGE %s + - COUNT 1", dead);
    if (!r)
        return CLI_ERR;
    end[0] = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY)
        snprintf(end, sizeof end, "%s", r->element[0]->element[0]->str);
    freeReplyObject(r);
    while (end[0]) {
        if (!(r = cli_cmd(x, "XRANGE %s %s %s COUNT %d", dead, from, end, CHUNK)))
            goto out;
        size_t n = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        int k = 0;
        for (size_t i = 0; i < n && k >= 0; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
                e->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            k = requeue(x, campaign, hits, repaired, dead, e, &seen);
            moved += k == 1;
            dropped += k == 2;
            snprintf(from, sizeof from, "(%s", e->element[0]->str);
        }
        freeReplyObject(r);
        if (k < 0) {
            fprintf(stderr, "actiongap: repair: %lld entries re-queued before the error\n", moved);
            goto out;
        }
        if (n < CHUNK)
            break;
    }
    if (x->json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddStringToObject(doc, "campaign", campaign);
        cJSON_AddNumberToObject(doc, "requeued", (double)moved);
        cJSON_AddNumberToObject(doc, "dropped_copies", (double)dropped);
        cJSON_AddStringToObject(doc, "stream", hits);
        rc = cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
        goto out;
    }
    printf("%lld entries of %s re-queued on %s (%lld copies of a hit dropped): the aggregator "
           "applies them now (if a key is still bad they return to %s)\n",
           moved, campaign, hits, dropped, dead);
    rc = CLI_OK;
out:
    nonces_free(&seen);
    return rc;
}

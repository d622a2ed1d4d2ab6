/* cluster.c: `actiongap cluster [--balance]` — where each hit stream
 * partition lives on a Redis Cluster, and spreading them evenly over the
 * masters by moving their slots (SPEC 5). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "keys.h"
#include "slot.h"

#define MASTERS_MAX 64
#define MIGRATE_MS 5000

/* One partition: its stream, slot, master, length and lease holder. */
typedef struct {
    char key[PROTO_KEY_MAX];
    unsigned slot;
    int node;
    long long len;
    char lease[128];
} part;

/* Reads every partition's place. Returns 0, or -1 (a Redis failure). */
static int read_parts(cli_ctx *x, part *ps, int n)
{
    for (int p = 0; p < n; p++) {
        char lk[PROTO_KEY_MAX];
        part *q = &ps[p];
        int kl = proto_key_hits(q->key, sizeof q->key, x->conf.prefix, (unsigned)p);
        if (kl < 0 || proto_key_lease(lk, sizeof lk, x->conf.prefix, (unsigned)p) < 0)
            return -1;
        q->slot = proto_slot(q->key, (size_t)kl);
        if ((q->node = sys_redis_node_of(x->r, q->key, (size_t)kl)) < 0)
            return -1;
        redisReply *r = sys_redis_cmd(x->r, "XLEN %s", q->key);
        if (!r)
            return -1;
        q->len = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        freeReplyObject(r);
        if (!(r = sys_redis_cmd(x->r, "GET %s", lk)))
            return -1;
        snprintf(q->lease, sizeof q->lease, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
        freeReplyObject(r);
    }
    return 0;
}

/* Reads master m's node id into id (41 bytes). Returns 0 or -1. */
static int node_id(cli_ctx *x, int m, char *id)
{
    redisReply *r = sys_redis_cmd_node(x->r, m, "CLUSTER MYID");
    int ok = r && r->type == REDIS_REPLY_STRING && r->len == 40;
    if (ok)
        memcpy(id, r->str, 41);
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* Runs a command on master m expecting no error. Returns 0 or -1. */
static int on_node(cli_ctx *x, int m, const char *fmt, unsigned slot, const char *arg)
{
    redisReply *r = sys_redis_cmd_node(x->r, m, fmt, slot, arg);
    freeReplyObject(r);
    return r ? 0 : -1;
}

/* Moves slot from master `from` to master `to` as redis-cli --cluster
 * reshard does: IMPORTING / MIGRATING, MIGRATE of its keys (a client
 * meanwhile gets ASK), then the new owner told to every master. Returns 0,
 * or -1 (the slot may be left migrating: run it again). */
static int move_slot(cli_ctx *x, unsigned slot, int from, int to, int masters)
{
    char from_id[41], to_id[41], host[256];
    int port;
    proto_redis_addr ad;
    if (node_id(x, from, from_id) < 0 || node_id(x, to, to_id) < 0 ||
        proto_conf_hostport(sys_redis_node_name(x->r, to), host, sizeof host, &port) < 0 ||
        proto_conf_redis_addr(x->conf.redis, &ad) < 0)
        return -1;
    if (on_node(x, to, "CLUSTER SETSLOT %u IMPORTING %s", slot, from_id) < 0 ||
        on_node(x, from, "CLUSTER SETSLOT %u MIGRATING %s", slot, to_id) < 0)
        return -1;
    for (;;) {
        redisReply *keys = sys_redis_cmd_node(x->r, from, "CLUSTER GETKEYSINSLOT %u 100", slot);
        if (!keys)
            return -1;
        size_t n = keys->type == REDIS_REPLY_ARRAY ? keys->elements : 0;
        for (size_t i = 0; i < n; i++) {
            const char *k = keys->element[i]->str;
            redisReply *r = ad.pass[0] && ad.user[0]
                ? sys_redis_cmd_node(x->r, from, "MIGRATE %s %d %s 0 %d AUTH2 %s %s", host, port, k,
                                     MIGRATE_MS, ad.user, ad.pass)
                : ad.pass[0]
                ? sys_redis_cmd_node(x->r, from, "MIGRATE %s %d %s 0 %d AUTH %s", host, port, k,
                                     MIGRATE_MS, ad.pass)
                : sys_redis_cmd_node(x->r, from, "MIGRATE %s %d %s 0 %d", host, port, k, MIGRATE_MS);
            if (!r) {
                freeReplyObject(keys);
                return -1;
            }
            freeReplyObject(r);
        }
        freeReplyObject(keys);
        if (n == 0)
            break;
    }
    /* the new owner first, then the old, then the rest (as redis-cli does) */
    if (on_node(x, to, "CLUSTER SETSLOT %u NODE %s", slot, to_id) < 0 ||
        on_node(x, from, "CLUSTER SETSLOT %u NODE %s", slot, to_id) < 0)
        return -1;
    for (int m = 0; m < masters; m++)
        if (m != to && m != from)
            on_node(x, m, "CLUSTER SETSLOT %u NODE %s", slot, to_id);   /* gossip tells the rest anyway */
    return 0;
}

/* Moves partitions from the masters holding more than their share to those
 * holding less, until each holds n/m or n/m + 1. Returns how many moved,
 * or -1 (printed). */
static int balance(cli_ctx *x, part *ps, int n, int masters)
{
    int count[MASTERS_MAX] = {0}, want[MASTERS_MAX], order[MASTERS_MAX], moved = 0;
    for (int p = 0; p < n; p++)
        count[ps[p].node]++;
    for (int m = 0; m < masters; m++)
        order[m] = m;
    for (int i = 1; i < masters; i++)       /* fullest first: they keep the extra ones */
        for (int j = i; j > 0 && count[order[j]] > count[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int i = 0; i < masters; i++)
        want[order[i]] = n / masters + (i < n % masters);
    for (int p = 0; p < n; p++) {
        int from = ps[p].node, to = -1;
        if (count[from] <= want[from])
            continue;
        for (int m = 0; m < masters && to < 0; m++)
            if (count[m] < want[m])
                to = m;
        if (to < 0)
            break;
        if (move_slot(x, ps[p].slot, from, to, masters) < 0) {
            fprintf(stderr, "actiongap: cluster: moving slot %u (partition %d) failed: %s\n", ps[p].slot, p,
                    sys_redis_err(x->r));
            return -1;
        }
        if (!x->json)
            printf("moved partition %d (slot %u) from %s", p, ps[p].slot, sys_redis_node_name(x->r, from));
        if (!x->json)
            printf(" to %s\n", sys_redis_node_name(x->r, to));
        count[from]--;
        count[to]++;
        ps[p].node = to;
        moved++;
    }
    return moved;
}

/* Prints the partitions' places (and with --balance spreads them first).
 * Returns an exit status. */
int cli_verb_cluster(cli_ctx *x, const cli_args *a)
{
    int n = x->conf.partitions, masters, moved = 0, rc = CLI_ERR;
    part *ps = calloc((size_t)n, sizeof *ps);
    if (!ps || cli_connect(x) < 0)
        goto out;
    if ((masters = sys_redis_nodes(x->r)) < 1 || masters > MASTERS_MAX || read_parts(x, ps, n) < 0) {
        rc = cli_redis_failed(x);
        goto out;
    }
    if (a->balance && sys_redis_is_cluster(x->r) && (moved = balance(x, ps, n, masters)) < 0)
        goto out;
    if (x->json) {
        cJSON *doc = cJSON_CreateObject(), *ms = cJSON_AddArrayToObject(doc, "masters"),
              *arr = cJSON_AddArrayToObject(doc, "partitions");
        cJSON_AddBoolToObject(doc, "cluster", sys_redis_is_cluster(x->r));
        for (int m = 0; m < masters; m++) {
            int held = 0;
            for (int p = 0; p < n; p++)
                held += ps[p].node == m;
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "node", sys_redis_node_name(x->r, m));
            cJSON_AddNumberToObject(o, "partitions", held);
            cJSON_AddItemToArray(ms, o);
        }
        for (int p = 0; p < n; p++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "partition", p);
            cJSON_AddStringToObject(o, "stream", ps[p].key);
            cJSON_AddNumberToObject(o, "slot", ps[p].slot);
            cJSON_AddStringToObject(o, "node", sys_redis_node_name(x->r, ps[p].node));
            cJSON_AddNumberToObject(o, "length", (double)ps[p].len);
            cJSON_AddStringToObject(o, "lease", ps[p].lease);
            cJSON_AddItemToArray(arr, o);
        }
        cJSON_AddNumberToObject(doc, "moved", moved);
        rc = cli_print_json(doc) < 0 ? CLI_ERR : CLI_OK;
        goto out;
    }
    const char *head[] = {"PARTITION", "STREAM", "SLOT", "NODE", "LENGTH", "LEASE"};
    cli_table *t = cli_table_new(6, head);
    if (!t)
        goto out;
    for (int p = 0; p < n; p++) {
        char pn[16], slot[16], len[24];
        snprintf(pn, sizeof pn, "%d", p);
        snprintf(slot, sizeof slot, "%u", ps[p].slot);
        snprintf(len, sizeof len, "%lld", ps[p].len);
        const char *row[] = {pn, ps[p].key, slot, sys_redis_node_name(x->r, ps[p].node), len,
                             ps[p].lease[0] ? ps[p].lease : "-"};
        if (cli_table_add(t, row) < 0) {
            cli_table_free(t);
            goto out;
        }
    }
    cli_table_print(t, stdout);
    cli_table_free(t);
    for (int m = 0; m < masters; m++) {
        int held = 0;
        for (int p = 0; p < n; p++)
            held += ps[p].node == m;
        printf("%s%s: %d partition%s", m ? ", " : "", sys_redis_node_name(x->r, m), held, held == 1 ? "" : "s");
    }
    printf("\n");
    rc = CLI_OK;
out:
    free(ps);
    return rc;
}

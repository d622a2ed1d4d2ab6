/* arena.c: hiredis reply objects allocated from chunks of one arena. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES (1u << 20)

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) char data[];
} chunk;

struct agg_arena {
    chunk *head, *cur;
    int oom;            /* an allocation failed while building the reply */
};

/* The arena the reply functions build in, set during agg_arena_command
 * (the aggregator reads replies from one thread). */
static agg_arena *building;

/* Returns n bytes (16-aligned) from the arena, or NULL (sets oom). */
static void *arena_alloc(agg_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    while (a->cur && a->cur->used + n > a->cur->cap)
        a->cur = a->cur->next;      /* reuse chunks kept from before a reset */
    if (!a->cur) {
        size_t cap = n > CHUNK_BYTES ? n : CHUNK_BYTES;
        chunk *c = malloc(sizeof *c + cap);
        if (!c) {
            a->oom = 1;
            return NULL;
        }
        c->used = 0;
        c->cap = cap;
        c->next = a->head;          /* newest first; a reset walks them all */
        a->head = c;
        a->cur = c;
    }
    void *p = a->cur->data + a->cur->used;
    a->cur->used += n;
    return p;
}

/* Returns a zeroed reply object of type with extra bytes after it, linked
 * into its parent array; NULL when out of memory. */
static redisReply *new_reply(const redisReadTask *task, int type, size_t extra)
{
    redisReply *r = arena_alloc(building, sizeof *r + extra);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->type = type;
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    return r;
}

/* Builds a string, status or error reply; NULL when out of memory. */
static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    redisReply *r = new_reply(task, task->type, len + 1);
    if (!r)
        return NULL;
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = 0;
    r->len = len;
    return r;
}

/* Builds an array reply of n elements; NULL when out of memory. */
static void *create_array(const redisReadTask *task, int n)
{
    redisReply *r = new_reply(task, REDIS_REPLY_ARRAY, 0);
    if (!r)
        return NULL;
    if (n > 0) {
        r->element = arena_alloc(building, (size_t)n * sizeof *r->element);
        if (!r->element)
            return NULL;
        memset(r->element, 0, (size_t)n * sizeof *r->element);
    }
    r->elements = (size_t)(n > 0 ? n : 0);
    return r;
}

/* Builds an integer reply; NULL when out of memory. */
static void *create_integer(const redisReadTask *task, long long v)
{
    redisReply *r = new_reply(task, REDIS_REPLY_INTEGER, 0);
    if (r)
        r->integer = v;
    return r;
}

/* Builds a nil reply; NULL when out of memory. */
static void *create_nil(const redisReadTask *task)
{
    return new_reply(task, REDIS_REPLY_NIL, 0);
}

/* Frees nothing: the arena owns the objects. */
static void free_object(void *obj)
{
    (void)obj;
}

static redisReplyObjectFunctions arena_fns = {
    create_string, create_array, create_integer, create_nil, free_object,
};

/* Creates an arena; NULL when out of memory. */
agg_arena *agg_arena_new(void)
{
    return calloc(1, sizeof(agg_arena));
}

/* Frees the arena; never fails. */
void agg_arena_free(agg_arena *a)
{
    if (!a)
        return;
    for (chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

/* Releases the arena's replies; never fails. */
void agg_arena_reset(agg_arena *a)
{
    for (chunk *c = a->head; c; c = c->next)
        c->used = 0;
    a->cur = a->head;
    a->oom = 0;
}

/* Reads the next reply into the arena. Returns it, or NULL. */
redisReply *agg_arena_reply(agg_arena *a, redisContext *rc)
{
    redisReplyObjectFunctions *saved = rc->reader->fn;
    void *reply = NULL;
    building = a;
    a->oom = 0;
    rc->reader->fn = &arena_fns;
    int rc_get = redisGetReply(rc, &reply);
    if (rc_get != REDIS_OK) /* a reply cut short stays in the reader: it is the arena's */
        rc->reader->reply = NULL;
    rc->reader->fn = saved;
    building = NULL;
    return rc_get == REDIS_OK && !a->oom ? reply : NULL;
}

/* Runs a command with its reply in the arena. Returns it, or NULL. */
redisReply *agg_arena_command(agg_arena *a, redisContext *rc, int argc, const char **argv,
                              const size_t *argvlen)
{
    if (redisAppendCommandArgv(rc, argc, argv, argvlen) != REDIS_OK)
        return NULL;
    return agg_arena_reply(a, rc);
}

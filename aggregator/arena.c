/* arena.c: hiredis reply objects allocated from chunks of one arena.
 *
 * The reply functions installed in the context's reader follow hiredis's
 * redisReplyObjectFunctions, whose layout depends on the major version:
 * hiredis 0.x (0.14: createString, createArray(int), createInteger,
 * createNil, freeObject) and hiredis 1.x (read.h: createString,
 * createArray(size_t), createInteger, createDouble, createNil, createBool,
 * freeObject; RESP3 adds the double, bool, map, set, push, bignum,
 * verbatim and, from 1.3, attribute types). */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

#ifndef HIREDIS_MAJOR
#error "<hiredis/hiredis.h> does not define HIREDIS_MAJOR"
#endif
_Static_assert(HIREDIS_MAJOR == 0 || HIREDIS_MAJOR == 1,
               "arena.c knows the reply functions of hiredis 0.x and 1.x only");

#if HIREDIS_MAJOR == 0
#define REPLY_FN_SLOTS 5        /* read.h of hiredis 0.14 */
#else
#define REPLY_FN_SLOTS 7        /* read.h of hiredis 1.x */
#endif
_Static_assert(sizeof(redisReplyObjectFunctions) == REPLY_FN_SLOTS * sizeof(void (*)(void)),
               "redisReplyObjectFunctions has a layout arena.c does not know");

#define CHUNK_BYTES (1u << 20)
#define INTERN_LEN 15           /* bulk strings this short are shared (field names, event, agent ...) */
#define INTERN_SLOTS 1024       /* the last string seen of each hash, direct-mapped */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) char data[];
} chunk;

struct agg_arena {
    chunk *head, *cur;
    int oom;            /* an allocation failed while building the reply */
    /* short bulk strings built since the last reset: an entry's field
     * names repeat in every entry of a read, and sharing one object each
     * almost halves a read's memory */
    redisReply *intern[INTERN_SLOTS];
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

/* Links r into its parent array (if it has one); returns r. */
static redisReply *link_reply(const redisReadTask *task, redisReply *r)
{
    if (task->parent) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    return r;
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
    return link_reply(task, r);
}

/* Builds a string, status or error reply (with hiredis 1.x also a bignum
 * or verbatim string one); NULL when out of memory. */
static void *create_string(const redisReadTask *task, char *str, size_t len)
{
#if HIREDIS_MAJOR >= 1
    if (task->type == REDIS_REPLY_VERB) {
        /* "txt:..." (the reader checked the 4-byte header): the type goes
         * to vtype, the rest to str, as hiredis's own reply does */
        redisReply *r = new_reply(task, REDIS_REPLY_VERB, len - 4 + 1);
        if (!r)
            return NULL;
        memcpy(r->vtype, str, 3);
        r->vtype[3] = 0;
        r->str = (char *)(r + 1);
        memcpy(r->str, str + 4, len - 4);
        r->str[len - 4] = 0;
        r->len = len - 4;
        return r;
    }
#endif
    redisReply **slot = NULL;
    if (task->type == REDIS_REPLY_STRING && len <= INTERN_LEN) {
        /* replies are read-only to their users: one object may stand in
         * several places */
        slot = &building->intern[proto_hash64(str, len) % INTERN_SLOTS];
        if (*slot && (*slot)->len == len && memcmp((*slot)->str, str, len) == 0)
            return link_reply(task, *slot);
    }
    redisReply *r = new_reply(task, task->type, len + 1);
    if (!r)
        return NULL;
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = 0;
    r->len = len;
    if (slot)
        *slot = r;
    return r;
}

#if HIREDIS_MAJOR == 0
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
#else
/* Builds an array, map, set or push reply (from hiredis 1.3 also an
 * attribute one) of n elements, a map's n counting keys and values as the
 * reader passes it; NULL when out of memory. */
static void *create_array(const redisReadTask *task, size_t n)
{
    if (n > SIZE_MAX / sizeof(redisReply *)) {
        building->oom = 1;
        return NULL;
    }
    redisReply *r = new_reply(task, task->type, 0);
    if (!r)
        return NULL;
    if (n > 0) {
        r->element = arena_alloc(building, n * sizeof *r->element);
        if (!r->element)
            return NULL;
        memset(r->element, 0, n * sizeof *r->element);
    }
    r->elements = n;
    return r;
}
#endif

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

#if HIREDIS_MAJOR >= 1
/* Builds a double reply: v and, in str, the text it was read from;
 * NULL when out of memory. */
static void *create_double(const redisReadTask *task, double v, char *str, size_t len)
{
    redisReply *r = new_reply(task, REDIS_REPLY_DOUBLE, len + 1);
    if (!r)
        return NULL;
    r->dval = v;
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = 0;
    r->len = len;
    return r;
}

/* Builds a bool reply (integer 0 or 1); NULL when out of memory. */
static void *create_bool(const redisReadTask *task, int v)
{
    redisReply *r = new_reply(task, REDIS_REPLY_BOOL, 0);
    if (r)
        r->integer = v != 0;
    return r;
}
#endif

/* Frees nothing: the arena owns the objects. */
static void free_object(void *obj)
{
    (void)obj;
}

static redisReplyObjectFunctions arena_fns = {
    .createString = create_string,
    .createArray = create_array,
    .createInteger = create_integer,
#if HIREDIS_MAJOR >= 1
    .createDouble = create_double,
    .createBool = create_bool,
#endif
    .createNil = create_nil,
    .freeObject = free_object,
};

#if HIREDIS_MAJOR >= 1
/* The context's own push callback while a reply is read into the arena. */
static redisPushFn *user_push;

/* Returns a copy of arena reply r made as hiredis makes its replies (its
 * allocator: freeReplyObject frees it), or NULL when out of memory. */
static redisReply *heap_copy(const redisReply *r)
{
    redisReply *c = hi_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->type = r->type;
    c->integer = r->integer;
    c->dval = r->dval;
    c->len = r->len;
    memcpy(c->vtype, r->vtype, sizeof c->vtype);
    if (r->str) {
        c->str = hi_malloc(r->len + 1);
        if (!c->str)
            goto oom;
        memcpy(c->str, r->str, r->len + 1);
    }
    if (r->element) {
        c->element = hi_calloc(r->elements, sizeof *c->element);
        if (!c->element)
            goto oom;
        c->elements = r->elements;
        for (size_t i = 0; i < r->elements; i++)
            if (!(c->element[i] = heap_copy(r->element[i])))
                goto oom;
    }
    return c;
oom:
    freeReplyObject(c);
    return NULL;
}

/* Passes a RESP3 push read into the arena to the context's push callback
 * as an ordinary reply, which that callback owns (hiredis's default one
 * frees it); never fails (out of memory, the arena read returns NULL). */
static void arena_push(void *privdata, void *reply)
{
    redisReply *copy = heap_copy(reply);
    if (!copy) {
        building->oom = 1;
        return;
    }
    user_push(privdata, copy);
}
#endif

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
    memset(a->intern, 0, sizeof a->intern);
}

/* Reads the next reply into the arena. Returns it, or NULL. */
redisReply *agg_arena_reply(agg_arena *a, redisContext *rc)
{
    redisReplyObjectFunctions *saved = rc->reader->fn;
    void *reply = NULL;
    building = a;
    a->oom = 0;
    rc->reader->fn = &arena_fns;
#if HIREDIS_MAJOR >= 1
    /* hiredis hands a RESP3 push to the push callback to own (the default
     * one frees it): it gets a copy, not the arena's. Without a callback
     * the push is the reply, as with hiredis's own. */
    user_push = rc->push_cb;
    if (user_push)
        rc->push_cb = arena_push;
#endif
    int rc_get = redisGetReply(rc, &reply);
    if (rc_get != REDIS_OK) /* a reply cut short stays in the reader: it is the arena's */
        rc->reader->reply = NULL;
    rc->reader->fn = saved;
#if HIREDIS_MAJOR >= 1
    if (user_push)
        rc->push_cb = user_push;
    user_push = NULL;
#endif
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

/* arena.h: hiredis replies built in one arena instead of a malloc per
 * element: a round's XREADGROUP replies (tens of thousands of entries of
 * two dozen objects each) are laid out contiguously in read order and
 * released at once. */
#ifndef AGG_ARENA_H
#define AGG_ARENA_H

#include <hiredis/hiredis.h>
#include <stddef.h>

typedef struct agg_arena agg_arena;

/* Creates an empty arena. Returns NULL when out of memory. */
agg_arena *agg_arena_new(void);
/* Frees the arena and every reply built in it; agg_arena_free(NULL) is a
 * no-op. */
void agg_arena_free(agg_arena *a);
/* Releases every reply built in the arena (keeping its memory for the next
 * ones). */
void agg_arena_reset(agg_arena *a);

/* Reads rc's next reply (of a command appended before) into the arena;
 * as agg_arena_command otherwise. */
redisReply *agg_arena_reply(agg_arena *a, redisContext *rc);

/* Runs one command on rc (argc arguments) and builds its reply in the
 * arena. The reply is valid until the next agg_arena_reset or
 * agg_arena_free and must not be passed to freeReplyObject. Returns NULL
 * on a connection error (rc->err is set) or when out of memory. */
redisReply *agg_arena_command(agg_arena *a, redisContext *rc, int argc, const char **argv,
                              const size_t *argvlen);

#endif

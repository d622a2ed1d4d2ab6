/* links.h: the collector's table of short links, held in memory so that a
 * redirect never waits on Redis. A thread of its own loads every link at
 * start (ag:links, then each ag:link:<code>), follows the changes published
 * on the channel ag:links, fetches a code a request asked for and did not
 * find, and reloads everything every link_refresh_s. Lookups take a read
 * lock and copy the link out. */
#ifndef COLL_LINKS_H
#define COLL_LINKS_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "link.h"

typedef struct coll_links coll_links;

/* What a lookup found. */
typedef enum {
    COLL_LINK_FOUND = 0,        /* active: *out filled */
    COLL_LINK_GONE,             /* disabled or expired: *out filled */
    COLL_LINK_UNKNOWN           /* never seen: a fetch of it is queued */
} coll_link_find;

/* Starts the table and its thread; conf must outlive it. The thread
 * connects on its own (Redis may be down). Returns NULL on failure (logged). */
coll_links *coll_links_new(const proto_conf *conf);

/* Stops and joins the thread, frees the table. NULL is a no-op. */
void coll_links_free(coll_links *l);

/* Looks code (len bytes, already a valid code) up at now_ms, copying the
 * link into out. Never blocks on Redis. Returns what it found. */
coll_link_find coll_links_get(coll_links *l, const char *code, size_t len, int64_t now_ms,
                              proto_link *out);

/* Returns the links held and the bytes they take (items and index). */
size_t coll_links_count(coll_links *l, size_t *bytes);

/* Returns the full loads completed (0 until the first). */
uint64_t coll_links_loads(coll_links *l);

#endif

/* share.h: the dashboard's share links (SPEC 5, `actiongap share`): an
 * unguessable token in ag:shares that opens one campaign, or only its
 * leaderboard, and nothing else; revoked by deleting it. */
#ifndef AGG_SHARE_H
#define AGG_SHARE_H

#include <stddef.h>

#include "conf.h"
#include "redis.h"

#define AGG_SHARE_TOKEN_LEN 32      /* base64url characters: 192 random bits */

/* What a token opens. */
typedef enum {
    AGG_SHARE_NONE,         /* nothing: no token, or an unknown or revoked one */
    AGG_SHARE_ALL,          /* the dashboard_token: every page and document */
    AGG_SHARE_CAMPAIGN,     /* one campaign: its page, documents and leaderboard */
    AGG_SHARE_BOARD,        /* one campaign's leaderboard only */
} agg_share_scope;

/* Makes a share link of campaign c (its leaderboard only when board):
 * writes a new token (AGG_SHARE_TOKEN_LEN + 1 bytes) into token. Returns 0,
 * or -1 (sys_redis_err says why). */
int agg_share_new(sys_redis *r, const proto_conf *conf, const char *c, int board, char *token);

/* Deletes c's share links (only its leaderboard links when board_only);
 * *n says how many. Returns 0 or -1. */
int agg_share_revoke(sys_redis *r, const proto_conf *conf, const char *c, int board_only, long *n);

/* Says what token (len bytes, not NUL-terminated) opens: the dashboard
 * token compared in constant time, else a share token looked up in Redis
 * (only when shaped like one). For a share link, writes its campaign into
 * campaign (cap bytes). Returns the scope, or -1 when Redis failed. */
int agg_share_scope_of(sys_redis *r, const proto_conf *conf, const char *token, size_t len,
                       char *campaign, size_t cap);

#endif

/* audience.h: a campaign's audience as lists of people (SPEC 5,
 * `actiongap audience` and `forget`): segments read bucket by bucket from
 * the audience hashes the apply script keeps (schema.h, "audiences"), so
 * that no segment is held whole in memory; and a data-subject request that
 * removes one subject from every campaign. Each call reads through a
 * synchronous Redis handle and returns -1 when Redis failed (sys_redis_err
 * says why). */
#ifndef AGG_AUDIENCE_H
#define AGG_AUDIENCE_H

#include <stddef.h>

#include "conf.h"
#include "redis.h"
#include "schema.h"

/* The segments: set algebra over the events each subject was seen doing. */
typedef enum {
    AGG_SEG_GAP,            /* reached, did not act: the action gap as people */
    AGG_SEG_CLICKED,        /* clicked, did not act */
    AGG_SEG_OPENED,         /* opened, did not click */
    AGG_SEG_ACTED,          /* signed up, donated, converted or did a custom action */
    AGG_SEG_WAITING,        /* signed up, not followed up yet */
    AGG_SEG_REACHED,        /* every person reached (acted ones included) */
    AGG_SEG_COUNT
} agg_segment;

/* Returns a segment's name ("gap", "clicked-not-acted", …). */
const char *agg_segment_name(agg_segment s);

/* Returns the segment named name, or -1. */
int agg_segment_of(const char *name);

/* Narrows a segment. */
typedef struct {
    const char *ref;        /* brought by this advocate (NULL: anyone) */
    long long since_s;      /* last seen at or after (0: any time) */
    const char *not_in;     /* and not reached in this campaign (NULL: none) */
} agg_seg_filter;

/* Calls fn for each subject of segment s of campaign c (subjects last seen
 * before now_s - audience_days are gone already, or skipped), bucket by
 * bucket; fn returns 0 to go on, -1 to stop. Returns how many, or -1. */
long agg_audience_each(sys_redis *r, const proto_conf *conf, const char *c, agg_segment s,
                       const agg_seg_filter *f, long long now_s,
                       int (*fn)(void *arg, const char *subject, const proto_aud *rec), void *arg);

/* Counts every segment of c in one pass into counts. Returns 0 or -1. */
int agg_audience_counts(sys_redis *r, const proto_conf *conf, const char *c, long long now_s,
                        long long counts[AGG_SEG_COUNT]);

#define AGG_AUDIENCE_CSV_HEADER "subject,first_seen,last_seen,events,ref"
#define AGG_AUDIENCE_CSV_MAX 640        /* bytes of the longest row */

/* Writes the events of mask ("open|click|signup"…) into buf; returns buf. */
char *agg_audience_events(char *buf, size_t cap, unsigned mask);

/* Writes one subject as a CSV row (no line end) of AGG_AUDIENCE_CSV_HEADER
 * into buf: the subject quoted when it must be, ISO times, the events
 * '|'-separated. Returns its length, or -1 if cap is too small. */
int agg_audience_csv_row(char *buf, size_t cap, const char *subject, const proto_aud *rec);

/* What forgetting a subject removed. */
typedef struct {
    long campaigns;         /* campaigns it was in (audience, pending or alerted) */
    long entries;           /* stream entries deleted (hits, alerts, dead letters, rejects) */
    long unapplied;         /* hits of it not counted yet: left, forget again later */
} agg_forgotten;

/* Removes subject from every campaign's audience, pending and alerted
 * sets, and deletes the stream entries that carry it (hit entries only
 * once counted). Returns 0 or -1. */
int agg_audience_forget(sys_redis *r, const proto_conf *conf, const char *subject, agg_forgotten *out);

#endif

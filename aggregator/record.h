/* record.h: a follow-up recorded by a person (SPEC 5): `actiongap followup`
 * and the dashboard's "followed up" button append the same hit to the
 * campaign's stream, as /api/hits would (via=api, human), for the
 * aggregator to count like any other. */
#ifndef AGG_RECORD_H
#define AGG_RECORD_H

#include <stddef.h>

#include "conf.h"
#include "hit.h"
#include "redis.h"

/* What recording wrote. */
typedef struct {
    char entry[48];                 /* the stream entry id */
    char stream[128];               /* the stream's key */
    char hid[PROTO_HID_MAX + 1];    /* the hit id: <source>.<8 hex>-1 */
} agg_recorded;

/* Appends a follow-up of subject in campaign c; source names who recorded
 * it in the hit id ("cli", "dash"). Returns 0, -2 if campaign or subject is
 * not valid (*why says the reject reason), or -1 when Redis failed. */
int agg_record_followup(sys_redis *r, const proto_conf *conf, const char *c, const char *subject,
                        const char *source, agg_recorded *out, proto_reason *why);

#endif

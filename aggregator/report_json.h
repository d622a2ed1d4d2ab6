/* report_json.h: the JSON documents of a campaign's figures (SPEC 5) —
 * one builder each, used by `actiongap … --json` and by the dashboard's
 * /api/v1, so that both say the same numbers in the same words. Each
 * returns a new cJSON tree (the caller deletes it), or NULL when memory
 * ran out. Rates and durations that do not exist (NAN) are null. */
#ifndef AGG_REPORT_JSON_H
#define AGG_REPORT_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"

#define AGG_JSON_TOP 5          /* advocates, pages and referrers in the stats document */

/* `actiongap stats C --json`: every figure of st, campaign c. */
cJSON *agg_json_stats(const char *c, const agg_stats *st);

/* `actiongap top C --json`: the first shown of n ranked advocates. */
cJSON *agg_json_top(const char *c, const agg_advocate *v, size_t n, size_t shown);

/* `actiongap pending C --json`: n pending signups, oldest first, at now_ms
 * against an SLA of sla_s seconds. */
cJSON *agg_json_pending(const char *c, const agg_member *v, size_t n, int64_t sla_s, int64_t now_ms);

/* One campaign of the dashboard's list: name, last activity and st's
 * headline figures (from agg_report_summary). */
cJSON *agg_json_summary(const char *c, int64_t last_ms, const agg_stats *st, long long dead);

/* The dashboard's series: n hourly (hour) or daily buckets. */
cJSON *agg_json_series(int hour, int64_t from_ms, int64_t to_ms, const agg_bucket *v, size_t n);

/* Writes ms as 2026-11-23T17:50:35Z into buf; returns buf ("" on failure). */
char *agg_json_time(char *buf, size_t cap, int64_t ms);

#endif

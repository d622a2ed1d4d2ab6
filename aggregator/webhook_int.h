/* webhook_int.h: what webhook.c, webhook_curl.c and alert_format.c share, not part of the public API. */
#ifndef AGG_WEBHOOK_INT_H
#define AGG_WEBHOOK_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "xfer.h"

#define WH_SLICE_MS 100         /* longest wait before the stop flag is looked at */

/* Returns the value of field name of an alert, or NULL if absent. */
const char *agg_webhook_field(int n, const char *const names[], const char *const values[],
                              const char *name);

#endif

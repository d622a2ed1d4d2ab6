/* record.c: a follow-up recorded by a person, appended to its stream (see record.h). */
#include "record.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "keys.h"
#include "resp.h"
#include "schema.h"

int agg_record_followup(sys_redis *r, const proto_conf *conf, const char *c, const char *subject,
                        const char *source, agg_recorded *out, proto_reason *why)
{
    proto_hit hit;
    unsigned seen = 0;
    const char *ev = proto_event_name(PROTO_EV_FOLLOWUP);
    unsigned char b[4] = {0};
    memset(out, 0, sizeof *out);
    proto_hit_init(&hit);
    *why = proto_hit_set(&hit, &seen, "c", 1, c, strlen(c));
    if (*why == PROTO_OK)
        *why = proto_hit_set(&hit, &seen, "e", 1, ev, strlen(ev));
    if (*why == PROTO_OK)
        *why = proto_hit_set(&hit, &seen, "s", 1, subject, strlen(subject));
    if (*why == PROTO_OK)
        *why = proto_hit_finish(&hit, PROTO_VIA_API);
    if (*why == PROTO_OK && !hit.subject[0])
        *why = PROTO_ERR_NO_SUBJECT;
    if (*why == PROTO_OK && !hit.campaign[0])
        *why = PROTO_ERR_NO_CAMPAIGN;
    if (*why != PROTO_OK)
        return -2;
    hit.agent = PROTO_AGENT_HUMAN;
    hit.ts = sys_now_ms();
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {   /* never in practice: the time then */
        uint32_t v = (uint32_t)hit.ts;
        memcpy(b, &v, sizeof b);
    }
    snprintf(hit.hid, sizeof hit.hid, "%.8s.%02x%02x%02x%02x-1", source, b[0], b[1], b[2], b[3]);
    snprintf(out->hid, sizeof out->hid, "%s", hit.hid);
    int kl = proto_key_hits(out->stream, sizeof out->stream, conf->prefix,
                            proto_partition(c, (unsigned)conf->partitions));
    if (kl < 0) {
        sys_redis_set_err(r, SYS_REDIS_NOMEM, "key name too long (check --prefix)");
        return -1;
    }
    proto_resp cmd = {0}, args = {0};
    redisReply *rep = NULL;
    if (proto_hit_xadd(&cmd, &args, out->stream, (size_t)kl, &hit, NULL, NULL, 0, NULL, 0) < 0)
        sys_redis_set_err(r, SYS_REDIS_NOMEM, "out of memory");
    else
        rep = sys_redis_cmd_resp(r, cmd.data, cmd.len);
    proto_resp_free(&cmd);
    proto_resp_free(&args);
    if (!rep)
        return -1;
    int rc = rep->type == REDIS_REPLY_STRING ? 0 : -1;
    if (rc == 0)
        snprintf(out->entry, sizeof out->entry, "%s", rep->str);
    else
        sys_redis_set_err(r, SYS_REDIS_REPLY, "unexpected reply to XADD");
    freeReplyObject(rep);
    return rc;
}

/* fuzz_hook.c: libFuzzer target for inbound hook bodies — every source's
 * payload parser (proto_hook_parse) and its signature check
 * (proto_hook_verify) on the same bytes, the hits finished for the API. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "hook.h"

/* Checks one item of a body (proto_hook_cb). */
static int on_item(void *arg, int index, proto_hit *hit, proto_reason r, const char *why,
                   int64_t when_ms)
{
    int *calls = arg;
    FUZZ_CHECK(index == *calls);
    (*calls)++;
    FUZZ_CHECK(*calls <= PROTO_BATCH_MAX);
    FUZZ_CHECK(r >= PROTO_OK && r < PROTO_REASON_COUNT);
    FUZZ_CHECK(when_ms >= 0);
    if (!hit) {
        FUZZ_CHECK(r == PROTO_OK && why && strcmp(why, "ignored") == 0);
        return 0;
    }
    FUZZ_CHECK((r == PROTO_OK) == (why == NULL));
    fuzz_check_hit_strings(hit);
    if (r == PROTO_OK) {
        proto_reason f = proto_hit_finish(hit, PROTO_VIA_API);
        FUZZ_CHECK(f >= PROTO_OK && f < PROTO_REASON_COUNT);
        if (f == PROTO_OK)
            fuzz_check_finished(hit, PROTO_VIA_API);
    }
    return 0;
}

/* Answers every header with the first line of the input (a forged signature). */
static const char *forged(void *arg, const char *name, size_t *len)
{
    const char *s = arg;
    (void)name;
    *len = strcspn(s, "\n");
    return s;
}

/* Runs one input as the body of each source's hook. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static proto_hooks hs;
    static int ready;
    char err[256], text[8193];
    if (!ready) {
        static const char *const kv[] = {
            "h.source", "hubspot", "h.secret", "0123456789abcdef", "h.campaign", "c", "h.event", "followup",
            "a.source", "actionnetwork", "a.secret", "0123456789abcdef", "a.campaign", "c",
            "l.source", "listmonk", "l.secret", "0123456789abcdef", "l.campaign", "c",
            "l.map.subscriber.updated", "ignore",
            "g.source", "generic", "g.secret", "0123456789abcdef", "g.ptr.campaign", "/c|/x/0",
            "g.ptr.kind", "/k", "g.ptr.email", "/e|/p/email", "g.ptr.ts", "/t", "g.ptr.value", "/v",
            "g.ptr.key", "/id", "g.ptr.ref", "/r", "g.map.a", "signup", "g.map.b", "donate", NULL};
        for (int i = 0; kv[i]; i += 2)
            FUZZ_CHECK(proto_hook_conf_set(&hs, kv[i], kv[i + 1], err, sizeof err) == 0);
        FUZZ_CHECK(proto_hook_conf_check(&hs, err, sizeof err) == 0);
        ready = 1;
    }
    if (size > 8192)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    for (int i = 0; i < hs.n; i++) {
        int calls = 0;
        proto_reason r = proto_hook_parse(&hs.h[i], (const char *)data, size, i == 2 ? "7" : NULL,
                                          i == 1 ? "hash-key-0123456789" : "",
                                          INT64_C(1764633600000), on_item, &calls);
        FUZZ_CHECK(r == PROTO_OK || r == PROTO_ERR_JSON || r == PROTO_ERR_BATCH);
        if (r != PROTO_OK)
            FUZZ_CHECK(calls == 0);
        proto_hook_req q = {"POST", text, size, text, size, text, size, forged, text};
        proto_hook_auth a = proto_hook_verify(&hs.h[i], &q, INT64_C(1764633600000), 300);
        FUZZ_CHECK(a != PROTO_HOOK_AUTH_OK);    /* nobody forges an HMAC by chance */
    }
    return 0;
}

/* fuzz_body.c: libFuzzer target for beacon and API bodies — JSON objects
 * and batches through proto_hit_parse_json, and form bodies through
 * proto_hit_parse_query, each hit finished for the endpoints that take it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "hit.h"

/* What the JSON callback saw. */
typedef struct {
    int calls;
    int ok;
} seen_t;

/* Finishes a copy of a parsed body hit for the beacon and for the API and
 * checks the result. */
static void finish_both(const proto_hit *parsed)
{
    static const proto_via vias[] = {PROTO_VIA_BEACON, PROTO_VIA_API};
    for (size_t i = 0; i < sizeof vias / sizeof vias[0]; i++) {
        proto_hit hit;
        memcpy(&hit, parsed, sizeof hit);
        proto_reason f = proto_hit_finish(&hit, vias[i]);
        FUZZ_CHECK(f >= PROTO_OK && f < PROTO_REASON_COUNT);
        if (f == PROTO_OK)
            fuzz_check_finished(&hit, vias[i]);
        else
            fuzz_check_hit_strings(&hit);
    }
}

/* Checks one hit of a JSON body (proto_hit_cb). */
static int on_hit(void *arg, proto_hit *hit, proto_reason r)
{
    seen_t *s = arg;
    s->calls++;
    FUZZ_CHECK(s->calls <= PROTO_BATCH_MAX);
    FUZZ_CHECK(r >= PROTO_OK && r < PROTO_REASON_COUNT);
    fuzz_check_hit_strings(hit);
    if (r == PROTO_OK) {
        s->ok++;
        finish_both(hit);
    }
    return 0;
}

/* Stops after the first hit (proto_hit_cb), to exercise early exit. */
static int on_first(void *arg, proto_hit *hit, proto_reason r)
{
    (void)hit;
    (void)r;
    (*(int *)arg)++;
    return 1;
}

/* Runs one input as a beacon/API body: JSON (three callbacks), then form. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    seen_t s = {0, 0};

    if (size > 65536)
        return 0;
    proto_reason r = proto_hit_parse_json(body, size, on_hit, &s);
    FUZZ_CHECK(r == PROTO_OK || r == PROTO_ERR_JSON || r == PROTO_ERR_BATCH);
    if (r != PROTO_OK)
        FUZZ_CHECK(s.calls == 0);

    int first = 0;
    FUZZ_CHECK(proto_hit_parse_json(body, size, on_first, &first) == r);
    FUZZ_CHECK(first == (s.calls > 0 ? 1 : 0));  /* a non-zero return stops the batch */
    FUZZ_CHECK(proto_hit_parse_json(body, size, NULL, NULL) == r);

    /* the same bytes as a form body (application/x-www-form-urlencoded) */
    proto_hit hit;
    proto_hit_init(&hit);
    r = proto_hit_parse_query(&hit, body, size);
    FUZZ_CHECK(r >= PROTO_OK && r < PROTO_REASON_COUNT);
    fuzz_check_hit_strings(&hit);
    if (r == PROTO_OK)
        finish_both(&hit);
    return 0;
}

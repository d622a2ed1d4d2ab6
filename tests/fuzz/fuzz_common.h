/* fuzz_common.h: helpers shared by the libFuzzer targets — a failing-check
 * macro that reports through the sanitizer (so it survives -close_fd_mask),
 * a scratch temp directory, and hit invariants. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

#include "hit.h"

/* Reports a broken invariant through the sanitizer's report fd and aborts
 * (libFuzzer then saves the input as a crash). */
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            char msg_[512];                                                                \
            snprintf(msg_, sizeof msg_, "fuzz check failed: %s at %s:%d", #cond, __FILE__, \
                     __LINE__);                                                            \
            fprintf(stderr, "%s\n", msg_);                                                 \
            __sanitizer_report_error_summary(msg_);                                        \
            __sanitizer_print_stack_trace();                                               \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* Creates (once per process) a private temp directory — under $AG_FUZZ_TMP
 * (run.sh's work directory, removed even after a crash), else in /dev/shm
 * when usable so that per-input files stay off the disk; returns its path. */
static inline const char *fuzz_tmpdir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        struct stat st;
        const char *base = getenv("TMPDIR");
        if (getenv("AG_FUZZ_TMP") && *getenv("AG_FUZZ_TMP"))
            base = getenv("AG_FUZZ_TMP");
        else if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
            base = "/dev/shm";
        else if (!base || !*base)
            base = "/tmp";
        snprintf(dir, sizeof dir, "%s/agfuzz-XXXXXX", base);
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return dir;
}

/* Returns 1 if s (an array of cap bytes) holds a NUL, i.e. is a valid string. */
static inline int fuzz_terminated(const char *s, size_t cap)
{
    return memchr(s, 0, cap) != NULL;
}

/* Checks that every string field of hit is NUL-terminated inside its array. */
static inline void fuzz_check_hit_strings(const proto_hit *h)
{
    FUZZ_CHECK(fuzz_terminated(h->campaign, sizeof h->campaign));
    FUZZ_CHECK(fuzz_terminated(h->event, sizeof h->event));
    FUZZ_CHECK(fuzz_terminated(h->subject, sizeof h->subject));
    FUZZ_CHECK(fuzz_terminated(h->ref, sizeof h->ref));
    FUZZ_CHECK(fuzz_terminated(h->channel, sizeof h->channel));
    FUZZ_CHECK(fuzz_terminated(h->goal, sizeof h->goal));
    FUZZ_CHECK(fuzz_terminated(h->nonce, sizeof h->nonce));
    FUZZ_CHECK(fuzz_terminated(h->to, sizeof h->to));
    FUZZ_CHECK(fuzz_terminated(h->sig, sizeof h->sig));
    FUZZ_CHECK(fuzz_terminated(h->hid, sizeof h->hid));
    FUZZ_CHECK(fuzz_terminated(h->ip, sizeof h->ip));
    FUZZ_CHECK(fuzz_terminated(h->ua, sizeof h->ua));
}

/* Returns 1 if the client-supplied fields of a and b are equal. */
static inline int fuzz_hit_same(const proto_hit *a, const proto_hit *b)
{
    return !strcmp(a->campaign, b->campaign) && !strcmp(a->event, b->event) &&
           !strcmp(a->subject, b->subject) && !strcmp(a->ref, b->ref) &&
           !strcmp(a->channel, b->channel) && !strcmp(a->goal, b->goal) &&
           !strcmp(a->nonce, b->nonce) && !strcmp(a->to, b->to) && !strcmp(a->sig, b->sig) &&
           a->depth == b->depth && a->value == b->value && a->client_ts == b->client_ts;
}

/* Checks the rules proto_hit_finish promises for an accepted hit of via,
 * and that the hit survives the packed encoding and the stream fields. */
static inline void fuzz_check_finished(proto_hit *h, proto_via via)
{
    unsigned char buf[PROTO_HIT_PACKED_MAX];
    const char *names[PROTO_HIT_FIELDS], *values[PROTO_HIT_FIELDS];
    size_t vlens[PROTO_HIT_FIELDS];
    char scratch[128];
    proto_hit back;

    fuzz_check_hit_strings(h);
    FUZZ_CHECK(h->via == via);
    FUZZ_CHECK(h->campaign[0] != 0);
    FUZZ_CHECK(h->event[0] != 0);
    if (via != PROTO_VIA_API)
        FUZZ_CHECK(strcmp(h->event, "followup") != 0);
    if (!strcmp(h->event, "signup") || !strcmp(h->event, "followup"))
        FUZZ_CHECK(h->subject[0] != 0);
    if (!strcmp(h->event, "scroll"))
        FUZZ_CHECK(h->depth >= 0 && h->depth <= 100);
    else
        FUZZ_CHECK(h->depth == -1);
    if (via == PROTO_VIA_CLICK)
        FUZZ_CHECK(h->to[0] != 0);
    FUZZ_CHECK(h->value >= -1);

    /* the packed encoding round-trips (it is what the queue and spool hold) */
    size_t n = proto_hit_pack(h, buf, sizeof buf);
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK(proto_hit_unpack(&back, buf, n) == 0);
    FUZZ_CHECK(fuzz_hit_same(h, &back));

    /* the stream fields are bounded and NUL-free where names are concerned */
    int nf = proto_hit_fields(h, names, values, vlens, scratch, sizeof scratch);
    FUZZ_CHECK(nf >= 0 && nf <= PROTO_HIT_FIELDS);
    for (int i = 0; i < nf; i++)
        FUZZ_CHECK(names[i] && values[i] && strlen(names[i]) > 0);
}

#endif

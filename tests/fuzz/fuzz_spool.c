/* fuzz_spool.c: libFuzzer target for spool replay — the input is written as
 * a spool file, then opened, read record by record (rewound once), each
 * record unpacked as a hit and acknowledged, and the spool freed; corrupt,
 * truncated or hostile files must never crash or over-read. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "hit.h"
#include "log.h"
#include "spool.h"

#define MAX_RECORDS 4096

static char g_dir[PATH_MAX], g_file[PATH_MAX];

/* Removes the spool directory at exit. */
static void teardown(void)
{
    unlink(g_file);
    rmdir(g_dir);
    rmdir(fuzz_tmpdir());
}

/* Writes the whole input to the spool file; aborts on an I/O error. */
static void write_file(const uint8_t *data, size_t size)
{
    int fd = open(g_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FUZZ_CHECK(fd >= 0);
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w < 0 && errno == EINTR)
            continue;
        FUZZ_CHECK(w > 0);
        done += (size_t)w;
    }
    close(fd);
}

/* Counts header callbacks (coll_spool_each_header). */
static void on_header(void *arg, const char *hdr)
{
    FUZZ_CHECK(hdr != NULL && strlen(hdr) <= COLL_SPOOL_HDR_MAX);
    (*(int *)arg)++;
}

/* Checks one record as the sink's replay uses it: a packed hit that either
 * fails to unpack or round-trips. */
static void check_record(const unsigned char *rec, size_t len)
{
    static unsigned char again[PROTO_HIT_PACKED_MAX];
    proto_hit a, b;
    if (proto_hit_unpack(&a, rec, len) < 0)
        return;
    fuzz_check_hit_strings(&a);
    size_t n = proto_hit_pack(&a, again, sizeof again);
    FUZZ_CHECK(n > 0);
    FUZZ_CHECK(proto_hit_unpack(&b, again, n) == 0);
    FUZZ_CHECK(fuzz_hit_same(&a, &b));
}

/* Runs one input as a spool file: open, read all, rewind, read and ack, free. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char rec[COLL_SPOOL_REC_MAX], first_rec[COLL_SPOOL_REC_MAX];
    if (!g_dir[0]) {
        sys_log_set_level("error");
        snprintf(g_dir, sizeof g_dir, "%s/spool", fuzz_tmpdir());
        snprintf(g_file, sizeof g_file, "%s/spool-0-00000000000000a1.log", g_dir);
        FUZZ_CHECK(mkdir(g_dir, 0700) == 0 || errno == EEXIST);
        atexit(teardown);
    }
    write_file(data, size);

    coll_spool *sp = coll_spool_open(g_dir, 0, 1, INT64_C(1) << 30, 100000);
    FUZZ_CHECK(sp != NULL);
    int headers = 0;
    coll_spool_each_header(sp, on_header, &headers);
    FUZZ_CHECK(headers <= 1);
    coll_spool_stats st;
    coll_spool_stats_get(sp, &st);
    int64_t records = st.records;
    FUZZ_CHECK(records >= 0 && records <= (int64_t)size / 9);
    /* the bytes up to the first damage; nothing past it is counted or read */
    FUZZ_CHECK(headers ? st.disk_bytes > 0 && st.disk_bytes <= (int64_t)size : st.disk_bytes == 0);
    FUZZ_CHECK(st.held == 0 && st.mem_bytes == 0);
    FUZZ_CHECK(coll_spool_empty(sp) == (headers == 0));

    /* read everything once, then rewind to the first record and read again */
    size_t len = 0, first_len = 0;
    coll_spool_pos pos, first = {0, 0};
    const char *hdr = NULL;
    int64_t got = 0;
    while (got < MAX_RECORDS && coll_spool_read(sp, rec, sizeof rec, &len, &pos, &hdr) == 1) {
        FUZZ_CHECK(len > 0 && len <= COLL_SPOOL_REC_MAX);
        FUZZ_CHECK(hdr != NULL);
        FUZZ_CHECK(pos.off >= 16 && pos.off + 8 + (int64_t)len <= st.disk_bytes);
        if (got == 0) {
            first = pos;
            first_len = len;
            memcpy(first_rec, rec, len);
        }
        check_record(rec, len);
        got++;
    }
    FUZZ_CHECK(got == records);
    if (got > 0) {
        coll_spool_rewind(sp, &first);
        FUZZ_CHECK(coll_spool_read(sp, rec, sizeof rec, &len, &pos, NULL) == 1);
        FUZZ_CHECK(pos.off == first.off && len == first_len && !memcmp(rec, first_rec, len));
        coll_spool_ack(sp, &pos);
        while (coll_spool_read(sp, rec, sizeof rec, &len, &pos, NULL) == 1)
            coll_spool_ack(sp, &pos);
        /* every record acknowledged: the file is gone */
        FUZZ_CHECK(coll_spool_empty(sp));
        coll_spool_stats_get(sp, &st);
        FUZZ_CHECK(st.records == 0 && st.disk_bytes == 0);
        FUZZ_CHECK(access(g_file, F_OK) != 0);
    }
    coll_spool_free(sp);
    unlink(g_file);
    return 0;
}

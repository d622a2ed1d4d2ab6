/* test_coll_spool.c: unit tests of collector/spool.c — framing, replay order,
 * and every failing-write path through the io seam (short writes, ENOSPC,
 * EIO, a failed ftruncate or fdatasync, a read-only directory, a file
 * deleted underneath, damage found at start). Each counts records exactly. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "guard.h"

#define MAXB (INT64_C(1) << 30)
#define HDR "writer=test"

/* ---- fault injection ---- */

static struct {
    long write_budget;      /* bytes pwrite may still write; < 0: unlimited */
    int fail_writes;        /* the next n pwrites fail with write_err (after the budget) */
    int syncs_ok, sync_fails; /* fdatasyncs that succeeded; the next n fail with sync_err */
    int write_err;          /* errno once the budget is spent */
    int open_err;           /* open fails with this, 0: no */
    int trunc_err;          /* ftruncate fails with this, 0: no */
    int sync_err;           /* fdatasync fails with this, 0: no */
    int pwrites, truncs;
} fault;

/* Resets the faults: every call succeeds. */
static void fault_none(void)
{
    memset(&fault, 0, sizeof fault);
    fault.write_budget = -1;
}

static int f_open(const char *path, int flags, mode_t mode)
{
    if (fault.open_err) {
        errno = fault.open_err;
        return -1;
    }
    return open(path, flags, mode);
}

static ssize_t f_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    fault.pwrites++;
    if (fault.fail_writes > 0) {
        fault.fail_writes--;
        errno = fault.write_err;
        return -1;
    }
    if (fault.write_budget >= 0) {
        if (fault.write_budget == 0) {
            errno = fault.write_err;
            return -1;
        }
        if ((long)len > fault.write_budget)
            len = (size_t)fault.write_budget;
        fault.write_budget -= (long)len;
    }
    return pwrite(fd, buf, len, off);
}

static int f_ftruncate(int fd, off_t len)
{
    fault.truncs++;
    if (fault.trunc_err) {
        errno = fault.trunc_err;
        return -1;
    }
    return ftruncate(fd, len);
}

static int f_fdatasync(int fd)
{
    if (fault.sync_fails > 0) {
        fault.sync_fails--;
        errno = EIO;
        return -1;
    }
    fault.syncs_ok++;
    if (fault.sync_err) {
        errno = fault.sync_err;
        return -1;
    }
    return fdatasync(fd);
}

static const coll_spool_io faulty = {f_open, f_pwrite, f_ftruncate, f_fdatasync};

/* ---- helpers ---- */

static char g_dir[256];

/* Makes a fresh spool directory. */
static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/agspooltest-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    fault_none();
}

/* Removes the spool directory and what is in it. */
static void teardown(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *de;
    char path[512];
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", g_dir, de->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    chmod(g_dir, 0700);
    rmdir(g_dir);
}

/* Writes record i ("rec-<i>" padded to 100 bytes) into buf; returns its length. */
static size_t make_rec(unsigned char *buf, int i)
{
    memset(buf, 'x', 100);
    int n = snprintf((char *)buf, 100, "rec-%d", i);
    buf[n] = ' ';
    return 100;
}

/* Appends records from..to-1; asserts each is taken. */
static void append_range(coll_spool *sp, int from, int to, int64_t now)
{
    unsigned char buf[128];
    for (int i = from; i < to; i++)
        ck_assert_int_eq(coll_spool_append(sp, buf, make_rec(buf, i), HDR, now), COLL_SPOOL_OK);
}

/* Reads and acknowledges every record, checking they are from..to-1 in
 * order. Returns how many were read. */
static int drain_check(coll_spool *sp, int from, int to)
{
    unsigned char buf[COLL_SPOOL_REC_MAX], want[128];
    size_t len;
    coll_spool_pos pos;
    int n = 0;
    while (coll_spool_read(sp, buf, sizeof buf, &len, &pos, NULL) == 1) {
        ck_assert_int_lt(from + n, to);
        size_t wl = make_rec(want, from + n);
        ck_assert_uint_eq(len, wl);
        ck_assert_msg(memcmp(buf, want, wl) == 0, "record %d out of order", from + n);
        coll_spool_ack(sp, &pos);
        n++;
    }
    return n;
}

/* Returns the number of spool-*.log files in the directory. */
static int count_files(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)))
        n += strncmp(de->d_name, "spool-", 6) == 0;
    if (d)
        closedir(d);
    return n;
}

/* Returns the path of the only spool file (asserts there is one). */
static const char *only_file(void)
{
    static char path[512];
    DIR *d = opendir(g_dir);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)))
        if (strncmp(de->d_name, "spool-", 6) == 0) {
            snprintf(path, sizeof path, "%s/%s", g_dir, de->d_name);
            n++;
        }
    closedir(d);
    ck_assert_int_eq(n, 1);
    return path;
}

/* Returns the size of path. */
static long file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (long)st.st_size;
}

static coll_spool_stats stats(const coll_spool *sp)
{
    coll_spool_stats st;
    coll_spool_stats_get(sp, &st);
    return st;
}

/* ---- tests ---- */

/* Computes coll_crc32 of a 64 KiB buffer 20 times into *arg; never fails. */
static void *crc_worker(void *arg)
{
    static unsigned char buf[65536];
    uint32_t *out = arg;
    for (int k = 0; k < 20; k++)
        *out = coll_crc32(buf, sizeof buf);
    return NULL;
}

/* Checks the CRC32 against its published check value, also when four
 * threads make the first calls of the process together (the table used
 * to be filled lazily without a lock: records framed with wrong CRCs were
 * dropped at replay); fails on a wrong value. */
START_TEST(crc_first_calls_in_threads)
{
    pthread_t t[4];
    uint32_t out[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, crc_worker, &out[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    static const unsigned char zeros[65536];
    uint32_t want = coll_crc32(zeros, sizeof zeros);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(out[i], want);
    ck_assert_uint_eq(coll_crc32((const unsigned char *)"123456789", 9), 0xCBF43926u);
}
END_TEST

/* Records written, reopened and replayed in order; acknowledged files go. */
START_TEST(roundtrip_and_restart)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    append_range(sp, 0, 500, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 1, 0), 0);
    coll_spool_stats st = stats(sp);
    ck_assert_int_eq(st.records, 500);
    ck_assert_int_eq(st.written, 500);
    ck_assert_int_eq(st.held, 0);
    ck_assert_int_eq(st.mem_bytes, 0);
    ck_assert_int_eq(st.disk_bytes, file_size(only_file()));
    coll_spool_free(sp);

    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    ck_assert_int_eq(stats(sp).records, 500);
    ck_assert_int_eq(drain_check(sp, 0, 500), 500);
    ck_assert(coll_spool_empty(sp));
    ck_assert_int_eq(count_files(), 0);
    coll_spool_free(sp);
}
END_TEST

/* Records not yet written are read from memory, in order after the file's. */
START_TEST(read_from_memory)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    append_range(sp, 0, 10, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), 0);
    append_range(sp, 10, 20, 0);         /* in memory: not flushed */
    ck_assert_int_gt(stats(sp).mem_bytes, 0);
    ck_assert_int_eq(drain_check(sp, 0, 20), 20);
    ck_assert(coll_spool_empty(sp));
    coll_spool_free(sp);
    ck_assert_int_eq(count_files(), 0);
}
END_TEST

/* A short write then ENOSPC: the partial record is cut off, the rest held
 * in memory, retried only after the back-off, written when space returns. */
START_TEST(enospc_partial_then_space_returns)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    coll_spool_set_io(sp, &faulty);
    fault.write_budget = 16 + (long)strlen(HDR) + 5 * 108 + 50;  /* header, 5 records, half a 6th */
    fault.write_err = ENOSPC;
    append_range(sp, 0, 100, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 1000), -1);
    const char *path = only_file();
    ck_assert_int_eq(file_size(path), 16 + (long)strlen(HDR) + 5 * 108);  /* cut back */
    ck_assert_int_eq(fault.truncs, 1);
    coll_spool_stats st = stats(sp);
    ck_assert_int_eq(st.disk, COLL_SPOOL_DISK_FULL);
    ck_assert_int_eq(st.written, 5);
    ck_assert_int_eq(st.records, 100);
    ck_assert_int_eq(st.held, 95);
    ck_assert_int_eq(st.disk_bytes, file_size(path));

    /* within the back-off no write is tried */
    int calls = fault.pwrites;
    ck_assert_int_eq(coll_spool_flush(sp, 0, 1050), -1);
    ck_assert_int_eq(fault.pwrites, calls);
    /* appends still go to memory */
    append_range(sp, 100, 120, 1050);
    ck_assert_int_eq(stats(sp).held, 115);

    /* space returns: the next retry writes everything */
    fault_none();
    ck_assert_int_eq(coll_spool_flush(sp, 1, 1200), 0);
    st = stats(sp);
    ck_assert_int_eq(st.disk, COLL_SPOOL_DISK_OK);
    ck_assert_int_eq(st.held, 0);
    ck_assert_int_eq(st.written, 120);
    ck_assert_int_eq(st.mem_bytes, 0);
    ck_assert_int_eq(file_size(path), 16 + (long)strlen(HDR) + 120 * 108);
    coll_spool_free(sp);

    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    ck_assert_int_eq(stats(sp).damaged, 0);
    ck_assert_int_eq(drain_check(sp, 0, 120), 120);
    coll_spool_free(sp);
}
END_TEST

/* While the disk refuses, memory takes mem_max records, then refuses. */
START_TEST(memory_bound)
{
    unsigned char buf[128];
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 50);
    coll_spool_set_io(sp, &faulty);
    fault.open_err = EROFS;
    append_range(sp, 0, 10, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), -1);
    ck_assert_int_eq(stats(sp).disk, COLL_SPOOL_DISK_ERROR);
    ck_assert(coll_spool_room(sp, 40, 100));
    ck_assert(!coll_spool_room(sp, 41, 100));
    append_range(sp, 10, 50, 0);
    ck_assert_int_eq(coll_spool_append(sp, buf, make_rec(buf, 50), HDR, 0), COLL_SPOOL_NOROOM);
    coll_spool_stats st = stats(sp);
    ck_assert_int_eq(st.records, 50);
    ck_assert_int_eq(st.held, 50);
    ck_assert_int_eq(count_files(), 0);
    /* what is held is still read, in order */
    ck_assert_int_eq(drain_check(sp, 0, 50), 50);
    ck_assert(coll_spool_empty(sp));
    coll_spool_free(sp);
}
END_TEST

/* Held records the disk still refuses at exit are reported lost. */
START_TEST(finish_reports_lost)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    coll_spool_set_io(sp, &faulty);
    fault.open_err = EACCES;
    append_range(sp, 0, 30, 0);
    ck_assert_int_eq(coll_spool_finish(sp), 30);
    coll_spool_free(sp);
    ck_assert_int_eq(count_files(), 0);
}
END_TEST

/* EIO on write seals the file (cut back to whole records) and the rest goes
 * to a new file: both replay, in order, nothing twice. */
START_TEST(eio_seals_and_moves_on)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    coll_spool_set_io(sp, &faulty);
    fault.write_budget = 16 + (long)strlen(HDR) + 3 * 108 + 7;
    fault.write_err = EIO;
    append_range(sp, 0, 40, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), -1);
    coll_spool_stats st = stats(sp);
    ck_assert_int_eq(st.disk, COLL_SPOOL_DISK_ERROR);
    ck_assert_int_eq(st.written, 3);
    ck_assert_int_eq(st.held, 37);
    ck_assert_int_eq(st.damaged, 1);
    fault_none();
    append_range(sp, 40, 50, 1);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 10000), 0);
    ck_assert_int_eq(count_files(), 2);
    st = stats(sp);
    ck_assert_int_eq(st.written, 50);
    ck_assert_int_eq(st.held, 0);
    ck_assert_int_eq(st.disk, COLL_SPOOL_DISK_OK);
    coll_spool_free(sp);

    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    ck_assert_int_eq(stats(sp).records, 50);
    ck_assert_int_eq(stats(sp).damaged, 0);
    ck_assert_int_eq(drain_check(sp, 0, 50), 50);
    coll_spool_free(sp);
}
END_TEST

/* A partial record that cannot be cut off seals the file; at exit what is
 * left of it (in the file and in memory) is rewritten into a fresh file and
 * the torn one removed. */
START_TEST(ftruncate_fails_rewritten_at_exit)
{
    unsigned char buf[COLL_SPOOL_REC_MAX];
    size_t len;
    coll_spool_pos pos, first;
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    coll_spool_set_io(sp, &faulty);
    append_range(sp, 0, 20, 0);
    /* six records in flight, read from memory before the write */
    ck_assert_int_eq(coll_spool_read(sp, buf, sizeof buf, &len, &first, NULL), 1);
    for (int i = 1; i < 6; i++)
        ck_assert_int_eq(coll_spool_read(sp, buf, sizeof buf, &len, &pos, NULL), 1);
    fault.write_budget = 16 + (long)strlen(HDR) + 4 * 108 + 20;
    fault.write_err = ENOSPC;
    fault.trunc_err = EIO;
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), -1);
    coll_spool_stats st = stats(sp);
    ck_assert_int_eq(st.written, 4);
    ck_assert_int_eq(st.held, 16);           /* 2 in flight in the sealed file, 14 moved on */
    ck_assert_int_eq(st.damaged, 1);
    fault_none();
    append_range(sp, 20, 25, 1);
    coll_spool_rewind(sp, &first);           /* Redis went away: all six again later */
    ck_assert_int_eq(coll_spool_finish(sp), 0);
    coll_spool_free(sp);

    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    st = stats(sp);
    ck_assert_int_eq(st.damaged, 0);         /* the torn file is gone */
    ck_assert_int_eq(st.records, 25);
    ck_assert_int_eq(drain_check(sp, 0, 25), 25);
    coll_spool_free(sp);
}
END_TEST

/* fdatasync failing seals the file; nothing is lost or repeated. */
START_TEST(fdatasync_fails)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    coll_spool_set_io(sp, &faulty);
    fault.sync_err = EIO;
    append_range(sp, 0, 10, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 1, 0), -1);
    coll_spool_stats st = stats(sp);
    ck_assert_int_eq(st.disk, COLL_SPOOL_DISK_ERROR);
    ck_assert_int_eq(st.damaged, 1);
    fault_none();
    append_range(sp, 10, 15, 1);             /* a new file: the old is sealed */
    ck_assert_int_eq(coll_spool_flush(sp, 1, 10000), 0);
    ck_assert_int_eq(count_files(), 2);
    coll_spool_free(sp);
    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    ck_assert_int_eq(drain_check(sp, 0, 15), 15);
    coll_spool_free(sp);
}
END_TEST

/* A file deleted while in use: its records are still read through the open
 * file, held (at risk) meanwhile, and rewritten at exit. */
START_TEST(file_deleted_underneath)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    append_range(sp, 0, 20, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), 0);
    ck_assert_int_eq(unlink(only_file()), 0);
    append_range(sp, 20, 30, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), 0);
    coll_spool_stats st = stats(sp);
    ck_assert_int_eq(st.held, 20);
    ck_assert_int_eq(st.records, 30);
    ck_assert_int_eq(st.damaged, 1);
    ck_assert_int_eq(count_files(), 1);      /* the new one */
    ck_assert_int_eq(coll_spool_finish(sp), 0);
    ck_assert_int_eq(count_files(), 2);      /* the rewrite beside it */
    coll_spool_free(sp);
    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    ck_assert_int_eq(drain_check(sp, 0, 30), 30);
    coll_spool_free(sp);
}
END_TEST

/* Read while deleted: records come from the open file, in order. */
START_TEST(file_deleted_read_through)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    append_range(sp, 0, 20, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), 0);
    ck_assert_int_eq(unlink(only_file()), 0);
    append_range(sp, 20, 25, 0);
    coll_spool_flush(sp, 0, 0);
    ck_assert_int_eq(drain_check(sp, 0, 25), 25);
    ck_assert(coll_spool_empty(sp));
    ck_assert_int_eq(coll_spool_finish(sp), 0);
    coll_spool_free(sp);
    ck_assert_int_eq(count_files(), 0);
}
END_TEST

/* Prepended records go first, also when the disk refuses them. */
START_TEST(prepend_held)
{
    unsigned char r0[128], r1[128];
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    append_range(sp, 2, 10, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), 0);
    coll_spool_set_io(sp, &faulty);
    fault.open_err = ENOSPC;
    const unsigned char *recs[2] = {r0, r1};
    size_t lens[2] = {make_rec(r0, 0), make_rec(r1, 1)};
    ck_assert_int_eq(coll_spool_prepend(sp, HDR, recs, lens, 2, 0), 0);
    coll_spool_stats st = stats(sp);
    ck_assert_int_eq(st.held, 2);
    ck_assert_int_eq(st.disk, COLL_SPOOL_DISK_FULL);
    fault_none();
    ck_assert_int_eq(coll_spool_flush(sp, 0, 10000), 0);
    ck_assert_int_eq(stats(sp).held, 0);
    coll_spool_free(sp);
    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    ck_assert_int_eq(drain_check(sp, 0, 10), 10);
    coll_spool_free(sp);
}
END_TEST

/* Damage in the middle of a file found at start: the records before it
 * replay, the damage is counted, nothing after it is invented. */
START_TEST(corrupt_middle_at_start)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    append_range(sp, 0, 100, 0);
    coll_spool_free(sp);
    const char *path = only_file();
    int fd = open(path, O_RDWR);
    long at = 16 + (long)strlen(HDR) + 40 * 108 + 8 + 3;   /* payload of record 40 */
    ck_assert_int_eq(pwrite(fd, "#", 1, at), 1);
    close(fd);
    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    coll_spool_stats st = stats(sp);
    ck_assert_int_eq(st.records, 40);
    ck_assert_int_eq(st.damaged, 1);
    ck_assert_int_eq(drain_check(sp, 0, 40), 40);
    coll_spool_free(sp);
}
END_TEST

/* Damage appearing while a file is replayed: the rest of its file part is
 * skipped and counted lost. */
START_TEST(corrupt_during_replay)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    append_range(sp, 0, 50, 0);
    coll_spool_free(sp);
    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    int fd = open(only_file(), O_RDWR);
    ck_assert_int_eq(pwrite(fd, "#", 1, 16 + (long)strlen(HDR) + 30 * 108 + 8), 1);
    close(fd);
    ck_assert_int_eq(drain_check(sp, 0, 30), 30);
    coll_spool_stats st = stats(sp);
    ck_assert_int_eq(st.lost, 20);
    ck_assert_int_eq(st.records, 0);
    ck_assert(coll_spool_empty(sp));
    coll_spool_free(sp);
}
END_TEST

/* spool_max_bytes counts the files and memory together. */
START_TEST(max_bytes)
{
    unsigned char buf[128];
    int64_t max = 16 + (int64_t)strlen(HDR) + 10 * 108;
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, max, 1000);
    append_range(sp, 0, 10, 0);
    ck_assert_int_eq(coll_spool_append(sp, buf, make_rec(buf, 10), HDR, 0), COLL_SPOOL_FULL);
    ck_assert_int_eq(stats(sp).full, 1);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), 0);
    ck_assert_int_eq(coll_spool_append(sp, buf, make_rec(buf, 10), HDR, 0), COLL_SPOOL_FULL);
    ck_assert_int_eq(drain_check(sp, 0, 10), 10);
    ck_assert_int_eq(stats(sp).full, 0);
    coll_spool_free(sp);
}
END_TEST

/* A rewind after a disk failure re-reads the same records. */
START_TEST(rewind_across_memory)
{
    unsigned char buf[COLL_SPOOL_REC_MAX];
    size_t len;
    coll_spool_pos pos, first;
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    coll_spool_set_io(sp, &faulty);
    fault.write_budget = 16 + (long)strlen(HDR) + 2 * 108;
    fault.write_err = ENOSPC;
    append_range(sp, 0, 10, 0);
    coll_spool_flush(sp, 0, 0);
    ck_assert_int_eq(coll_spool_read(sp, buf, sizeof buf, &len, &first, NULL), 1);
    coll_spool_ack(sp, &first);
    ck_assert_int_eq(coll_spool_read(sp, buf, sizeof buf, &len, &first, NULL), 1);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(coll_spool_read(sp, buf, sizeof buf, &len, &pos, NULL), 1);
    coll_spool_rewind(sp, &first);           /* records 1.. again */
    ck_assert_int_eq(drain_check(sp, 1, 10), 9);
    coll_spool_free(sp);
}
END_TEST

/* A directory that takes no file is refused by the probe. */
START_TEST(probe_refuses)
{
    char path[512];
    snprintf(path, sizeof path, "%s/file", g_dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    close(fd);
    snprintf(path, sizeof path, "%s/file/spool", g_dir);   /* ENOTDIR, also for root */
    ck_assert_int_eq(coll_spool_probe(path), -1);
    ck_assert_int_eq(coll_spool_probe(g_dir), 0);
    snprintf(path, sizeof path, "%s/file", g_dir);
    unlink(path);
}
END_TEST

/* A prepended segment whose write fails with EIO is sealed; at exit it is
 * rewritten under its own name, before every later record. */
START_TEST(prepend_sealed_rewritten)
{
    unsigned char r0[128], r1[128];
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    append_range(sp, 2, 10, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), 0);
    coll_spool_set_io(sp, &faulty);
    fault.write_budget = 16 + (long)strlen(HDR) + 10;    /* the header, part of a record */
    fault.write_err = EIO;
    const unsigned char *recs[2] = {r0, r1};
    size_t lens[2] = {make_rec(r0, 0), make_rec(r1, 1)};
    ck_assert_int_eq(coll_spool_prepend(sp, HDR, recs, lens, 2, 0), 0);
    ck_assert_int_eq(stats(sp).held, 2);
    fault_none();
    ck_assert_int_eq(coll_spool_finish(sp), 0);
    coll_spool_free(sp);
    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    ck_assert_int_eq(stats(sp).damaged, 0);
    ck_assert_int_eq(drain_check(sp, 0, 10), 10);
    coll_spool_free(sp);
}
END_TEST

/* One fdatasync failing at exit still syncs the other files, and the file
 * whose sync failed is rewritten and synced. */
START_TEST(finish_sync_failure_keeps_syncing)
{
    unsigned char r0[128], r1[128];
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    append_range(sp, 2, 10, 0);
    const unsigned char *recs[2] = {r0, r1};
    size_t lens[2] = {make_rec(r0, 0), make_rec(r1, 1)};
    ck_assert_int_eq(coll_spool_prepend(sp, HDR, recs, lens, 2, 0), 0);
    coll_spool_set_io(sp, &faulty);
    fault.sync_fails = 1;                   /* the first file's sync */
    ck_assert_int_eq(coll_spool_finish(sp), 0);
    ck_assert_int_ge(fault.syncs_ok, 2);    /* the other file, and the rewrite */
    coll_spool_free(sp);
    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    ck_assert_int_eq(drain_check(sp, 0, 10), 10);
    coll_spool_free(sp);
}
END_TEST

/* EIO at exit seals the file; its tail moves to a new file that works. */
START_TEST(finish_eio_uses_a_new_file)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    append_range(sp, 0, 2, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), 0);
    append_range(sp, 2, 12, 0);
    coll_spool_set_io(sp, &faulty);
    fault.fail_writes = 1;
    fault.write_err = EIO;
    ck_assert_int_eq(coll_spool_finish(sp), 0);
    coll_spool_free(sp);
    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    ck_assert_int_eq(drain_check(sp, 0, 12), 12);
    coll_spool_free(sp);
}
END_TEST

/* Any open file deleted underneath is found, held and rewritten at exit,
 * not only the one being written. */
START_TEST(prepended_file_deleted)
{
    unsigned char r0[128], r1[128];
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    append_range(sp, 2, 10, 0);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), 0);
    const unsigned char *recs[2] = {r0, r1};
    size_t lens[2] = {make_rec(r0, 0), make_rec(r1, 1)};
    ck_assert_int_eq(coll_spool_prepend(sp, HDR, recs, lens, 2, 0), 0);
    ck_assert_int_eq(count_files(), 2);
    /* delete both files */
    DIR *d = opendir(g_dir);
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "spool-", 6) == 0) {
            snprintf(path, sizeof path, "%s/%s", g_dir, de->d_name);
            unlink(path);
        }
    closedir(d);
    ck_assert_int_eq(coll_spool_flush(sp, 0, 0), 0);
    ck_assert_int_eq(stats(sp).held, 10);
    ck_assert_int_eq(coll_spool_finish(sp), 0);
    coll_spool_free(sp);
    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    ck_assert_int_eq(drain_check(sp, 0, 10), 10);
    coll_spool_free(sp);
}
END_TEST

/* A disk failing on every write does not leave a file per retry behind. */
START_TEST(persistent_eio_no_file_pileup)
{
    coll_spool *sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    coll_spool_set_io(sp, &faulty);
    append_range(sp, 0, 20, 0);
    for (int i = 0; i < 50; i++) {
        fault.fail_writes = 1000;               /* headers go through the budget only */
        fault.write_budget = -1;
        fault.write_err = EIO;
        coll_spool_flush(sp, 0, (int64_t)i * 10000);
    }
    ck_assert_int_le(count_files(), 1);
    ck_assert_int_eq(stats(sp).records, 20);
    ck_assert_int_eq(stats(sp).held, 20);
    fault_none();
    ck_assert_int_eq(coll_spool_flush(sp, 0, 1000000), 0);
    ck_assert_int_eq(count_files(), 1);
    coll_spool_free(sp);
    sp = coll_spool_open(g_dir, 0, 1, MAXB, 1000);
    ck_assert_int_eq(drain_check(sp, 0, 20), 20);
    coll_spool_free(sp);
}
END_TEST

static Suite *spool_suite(void)
{
    Suite *s = suite_create("coll_spool");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, crc_first_calls_in_threads);
    tcase_add_test(tc, roundtrip_and_restart);
    tcase_add_test(tc, read_from_memory);
    tcase_add_test(tc, enospc_partial_then_space_returns);
    tcase_add_test(tc, memory_bound);
    tcase_add_test(tc, finish_reports_lost);
    tcase_add_test(tc, eio_seals_and_moves_on);
    tcase_add_test(tc, ftruncate_fails_rewritten_at_exit);
    tcase_add_test(tc, fdatasync_fails);
    tcase_add_test(tc, file_deleted_underneath);
    tcase_add_test(tc, file_deleted_read_through);
    tcase_add_test(tc, prepend_held);
    tcase_add_test(tc, corrupt_middle_at_start);
    tcase_add_test(tc, corrupt_during_replay);
    tcase_add_test(tc, max_bytes);
    tcase_add_test(tc, rewind_across_memory);
    tcase_add_test(tc, probe_refuses);
    tcase_add_test(tc, prepend_sealed_rewritten);
    tcase_add_test(tc, finish_sync_failure_keeps_syncing);
    tcase_add_test(tc, finish_eio_uses_a_new_file);
    tcase_add_test(tc, prepended_file_deleted);
    tcase_add_test(tc, persistent_eio_no_file_pileup);
    suite_add_tcase(s, tc);
    return s;
}

/* Runs the suite; returns non-zero if any test failed. */
int main(void)
{
    return unit_run(spool_suite());
}

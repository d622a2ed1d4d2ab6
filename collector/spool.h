/* spool.h: the collector's on-disk FIFO of hits not yet in Redis (SPEC 9).
 *
 * A thread owns the files named spool-<index>-<gen>.log in the spool
 * directory; gen is a creation timestamp, so files replay oldest first, also
 * after a restart with another thread count (a file of index j is replayed
 * by thread j mod threads). Each file opens with a header naming the writer
 * instance and the last stream ids Redis had acknowledged when it was
 * created, so that a replay after a crash can find which of its records had
 * already landed. Records are framed as [u32 length][u32 crc32][payload]
 * (little endian); a torn or corrupt record ends its file's replay and is
 * logged once, the records before it are kept.
 *
 * The spool is a list of segments, oldest first. A segment is one file: the
 * records written to it, then a tail of records still in memory (appended
 * since the last write, or refused by the disk). The reader reads both, so
 * a hit the disk refused is still sent when Redis returns. A failed or short
 * write loses nothing: the part of a record that did reach the file is cut
 * off again (ftruncate to the last whole record) and the rest stays in
 * memory, bounded by mem_max records, until a retry with back-off succeeds.
 * A file that cannot be cut back, fails with EIO or is deleted underneath is
 * sealed: nothing more is written to it and its unread tail moves to a new
 * file; at the end (coll_spool_finish) what is left of it is rewritten
 * under its own name (a temporary file renamed over it). Disk errors never
 * make the spool invent a record. */
#ifndef COLL_SPOOL_H
#define COLL_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define COLL_SPOOL_REC_MAX 8192     /* payload bytes at most */
#define COLL_SPOOL_HDR_MAX 16384    /* header text bytes at most */

typedef struct coll_spool coll_spool;

/* Where a record was read from; handed back by coll_spool_ack/unread/rewind. */
typedef struct {
    uint64_t file;      /* gen of the file */
    int64_t off;        /* offset of the record's frame */
} coll_spool_pos;

/* The disk as the writer last found it. */
typedef enum {
    COLL_SPOOL_DISK_OK = 0,
    COLL_SPOOL_DISK_FULL,       /* ENOSPC, EDQUOT, EFBIG: retried with back-off */
    COLL_SPOOL_DISK_ERROR,      /* EIO, EROFS, EACCES, a deleted directory …: likewise */
} coll_spool_disk;

/* coll_spool_append results. */
enum {
    COLL_SPOOL_OK = 0,
    COLL_SPOOL_FULL = -1,       /* spool_max_bytes reached: not stored */
    COLL_SPOOL_NOROOM = -2,     /* the disk refuses and memory holds mem_max records */
    COLL_SPOOL_BAD = -3,        /* empty or oversized record, or out of memory */
};

/* What the spool holds and has done, for gauges and health. */
typedef struct {
    int64_t records;        /* records not yet acknowledged */
    int64_t held;           /* of which not safely in a file: in memory while the disk
                             * refuses, or in a sealed (damaged or deleted) file */
    int64_t disk_bytes;     /* bytes of the files in place */
    int64_t mem_bytes;      /* bytes of records in memory */
    int64_t written;        /* records written to files since open (cumulative) */
    int64_t lost;           /* records found unreadable on replay (cumulative) */
    int64_t damaged;        /* damaged files or tails found (cumulative) */
    coll_spool_disk disk;
    int full;               /* the last append met spool_max_bytes */
} coll_spool_stats;

/* The system calls the writer makes; a seam for fault injection in tests. */
typedef struct {
    int (*open)(const char *path, int flags, mode_t mode);
    ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
    int (*ftruncate)(int fd, off_t len);
    int (*fdatasync)(int fd);
} coll_spool_io;

/* Checks that dir (created if missing) takes a new file. Returns 0, or -1
 * with one log line naming spool_dir and the error. */
int coll_spool_probe(const char *dir);

/* Opens the spool of thread index of nthreads in dir (created if missing)
 * and indexes the files it must replay. max_bytes bounds the bytes on disk
 * and in memory together; mem_max bounds the records held in memory while
 * the disk refuses them. Returns NULL with a log line if dir cannot be used. */
coll_spool *coll_spool_open(const char *dir, int index, int nthreads, int64_t max_bytes,
                            int64_t mem_max);

/* Replaces the system calls the writer makes (NULL: the real ones). */
void coll_spool_set_io(coll_spool *sp, const coll_spool_io *io);

/* Writes what it can (coll_spool_finish) and frees the spool. NULL is a
 * no-op. Files are kept for the next start. */
void coll_spool_free(coll_spool *sp);

/* Last writes before exit: retries every unwritten record once, rewrites
 * sealed files into fresh ones, and syncs. Returns the records that are in
 * no file and so are lost at exit (logged), 0 if none. */
int64_t coll_spool_finish(coll_spool *sp);

/* Appends one record (len bytes). hdr is the header text to use if a new
 * file must be started (the writer's current checkpoint). Kept in memory and
 * written by coll_spool_flush (at once when 64 KiB are waiting). Returns
 * COLL_SPOOL_OK or one of the refusals above (the record is not stored). */
int coll_spool_append(coll_spool *sp, const unsigned char *rec, size_t len, const char *hdr,
                      int64_t now_ms);

/* Writes the records in memory to their files (fdatasync when sync).
 * While the disk refuses, tries again only once the back-off (100 ms doubling
 * to 5 s) has passed. Returns 0, or -1 if records remain unwritten. */
int coll_spool_flush(coll_spool *sp, int sync, int64_t now_ms);

/* Reads the next record into buf (cap >= COLL_SPOOL_REC_MAX) and its
 * position, from disk or memory. Returns 1 with *len set, 0 if nothing is
 * left to read. Skips unreadable records (logged, counted as lost). hdr, if
 * not NULL, receives the header text of the file the record came from
 * (valid until the next call). */
int coll_spool_read(coll_spool *sp, unsigned char *buf, size_t cap, size_t *len,
                    coll_spool_pos *pos, const char **hdr);

/* Marks the record at pos as safely in Redis; a segment whose records are
 * all read and acknowledged is deleted with its file. Records must be
 * acknowledged in the order they were read (a rewind counts on it). */
void coll_spool_ack(coll_spool *sp, const coll_spool_pos *pos);

/* Puts back the record just read at pos (it could not be sent now): the
 * next read returns it again. */
void coll_spool_unread(coll_spool *sp, const coll_spool_pos *pos);

/* Moves the reader back to pos (the oldest record not acknowledged): it
 * and every later record will be read again. */
void coll_spool_rewind(coll_spool *sp, const coll_spool_pos *pos);

/* Places n records (recs[i], lens[i]) ahead of every other one, with header
 * hdr, and moves the reader to them: used for hits that were sent but not
 * acknowledged when Redis went away, which are older than anything spooled.
 * Tries to write them at once (not fsynced: the loop must not stall); if the
 * disk refuses they are held in memory like any other record. Returns 0, or
 * -1 when out of memory (nothing is changed). */
int coll_spool_prepend(coll_spool *sp, const char *hdr, const unsigned char *const recs[],
                       const size_t lens[], size_t n, int64_t now_ms);

/* Returns 1 if a segment takes appends (no header will be needed). */
int coll_spool_writing(const coll_spool *sp);

/* Returns 1 if no record is waiting on disk or in memory, else 0. */
int coll_spool_empty(const coll_spool *sp);

/* Returns 1 if n more records of up to len bytes would be taken now. */
int coll_spool_room(const coll_spool *sp, int64_t n, size_t len);

/* Fills st with the spool's counts; never fails. */
void coll_spool_stats_get(const coll_spool *sp, coll_spool_stats *st);

/* Returns the disk condition's name: "ok", "disk_full" or "disk_error". */
const char *coll_spool_disk_name(coll_spool_disk d);

/* Calls fn for the header text of every segment, oldest first.
 * Used to plan the reconciliation of a replay. */
void coll_spool_each_header(const coll_spool *sp, void (*fn)(void *arg, const char *hdr),
                            void *arg);

/* Returns the CRC32 (IEEE) of buf. */
uint32_t coll_crc32(const unsigned char *buf, size_t len);

#endif

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
 * logged once, the records before it are kept. */
#ifndef COLL_SPOOL_H
#define COLL_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define COLL_SPOOL_REC_MAX 8192     /* payload bytes at most */
#define COLL_SPOOL_HDR_MAX 16384    /* header text bytes at most */

typedef struct coll_spool coll_spool;

/* Where a record was read from; handed back by coll_spool_ack/rewind. */
typedef struct {
    uint64_t file;      /* gen of the file */
    int64_t off;        /* offset of the record's frame */
} coll_spool_pos;

/* Opens the spool of thread index of nthreads in dir (created if missing)
 * and indexes the files it must replay. max_bytes bounds the bytes on disk.
 * Returns NULL with a log line if dir cannot be used. */
coll_spool *coll_spool_open(const char *dir, int index, int nthreads, int64_t max_bytes);

/* Frees the spool after flushing what is buffered (fdatasync). NULL is a
 * no-op. Files are kept for the next start. */
void coll_spool_free(coll_spool *sp);

/* Appends one record (len bytes). hdr is the header text to write if a new
 * file must be started (the writer's current checkpoint). Buffered in
 * memory; written by coll_spool_flush. Returns 0, -1 when the spool is full
 * (max_bytes: the record is not stored), -2 on an I/O error (not stored). */
int coll_spool_append(coll_spool *sp, const unsigned char *rec, size_t len, const char *hdr);

/* Writes buffered records to the file (write(2); fdatasync when sync).
 * Returns 0, or -1 on an I/O error (the buffer is kept for a later try). */
int coll_spool_flush(coll_spool *sp, int sync);

/* Reads the next record into buf (cap >= COLL_SPOOL_REC_MAX) and its
 * position. Returns 1 with *len set, 0 if nothing is left to read. Skips
 * torn tails (logged). hdr, if not NULL, receives the header text of the
 * file the record came from (valid until the next call). */
int coll_spool_read(coll_spool *sp, unsigned char *buf, size_t cap, size_t *len,
                    coll_spool_pos *pos, const char **hdr);

/* Marks the record at pos as safely in Redis; a file whose records are all
 * read and acknowledged is deleted. */
void coll_spool_ack(coll_spool *sp, const coll_spool_pos *pos);

/* Puts back the record just read at pos (it could not be sent now): the
 * next read returns it again. */
void coll_spool_unread(coll_spool *sp, const coll_spool_pos *pos);

/* Moves the reader back to pos (the oldest record not acknowledged): it
 * and every later record will be read again. */
void coll_spool_rewind(coll_spool *sp, const coll_spool_pos *pos);

/* Writes n records (recs[i], lens[i]) as a new file placed before every
 * other one (written, not fsynced: the loop must not stall), with header hdr, and moves the reader to it:
 * used for hits that were sent but not acknowledged when Redis went away,
 * which are older than anything spooled. Returns 0, or -1 (logged). */
int coll_spool_prepend(coll_spool *sp, const char *hdr, const unsigned char *const recs[],
                       const size_t lens[], size_t n);

/* Returns 1 if a file is open for appending (no header will be needed). */
int coll_spool_writing(const coll_spool *sp);

/* Returns 1 if no record is waiting on disk or in the buffer, else 0. */
int coll_spool_empty(const coll_spool *sp);

/* Returns the bytes held (files plus buffer). */
int64_t coll_spool_bytes(const coll_spool *sp);

/* Returns the records not yet acknowledged (read or not). */
int64_t coll_spool_records(const coll_spool *sp);

/* Calls fn for the header text of every file present, oldest first.
 * Used to plan the reconciliation of a replay. */
void coll_spool_each_header(const coll_spool *sp, void (*fn)(void *arg, const char *hdr),
                            void *arg);

/* Returns the CRC32 (IEEE) of buf. */
uint32_t coll_crc32(const unsigned char *buf, size_t len);

#endif

/* spool_int.h: what the spool's two files share, not part of the API:
 * spool.c (the queue of segments: appending, writing and its failure rules,
 * reading, acknowledging) calls spool_file.c (a segment's file: the format,
 * scanning, creating, rewriting), never the other way round. */
#ifndef COLL_SPOOL_INT_H
#define COLL_SPOOL_INT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "spool.h"

#define SPOOL_MAGIC "AGSPOOL1"
#define SPOOL_PRE 16            /* magic, header length, header crc */
#define SPOOL_FLUSH_AT 65536    /* bytes in memory that force a write */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

typedef struct {
    uint64_t gen;
    int index;
    char path[PATH_MAX];
    char *hdr;
    int fd;             /* -1 if not open */
    int created;        /* the file exists with its header */
    int sealed;         /* nothing more is written to the file */
    int deleted;        /* the file was removed underneath: readable only through fd */
    int dirty;          /* written since the last fdatasync */
    int unsynced;       /* an fdatasync of it failed: its records may not be on disk */
    int64_t size;       /* bytes in the file: header and whole records; where mem starts */
    int64_t data_off;   /* first record */
    int64_t records;    /* records: in the file, then in memory */
    int64_t mrecs;      /* of which in memory */
    unsigned char *mem; /* framed records not in the file */
    size_t mlen, mcap;
    int64_t read;       /* records handed to the reader */
    int64_t acked;      /* records acknowledged */
} spool_seg;

struct coll_spool {
    char dir[1024];
    int index, nthreads;
    int64_t max_bytes, mem_max;
    const coll_spool_io *io;
    spool_seg **segs;       /* oldest first */
    int nsegs, capsegs;
    int rseg;               /* segment the reader is in */
    int64_t roff;           /* -1: the start of segs[rseg] */
    spool_seg *wf;          /* segment taking appends (always the last), NULL if none */
    uint64_t last_gen;
    int64_t disk_bytes, mem_bytes, mem_records;
    int64_t written, lost, damaged;
    coll_spool_disk disk;
    int full;
    int backoff_ms;
    int64_t retry_at;
    int finished;
    int late;               /* records appended after coll_spool_finish */
};

/* The real system calls. */
extern const coll_spool_io spool_sys_io;

/* Stores v little-endian at p; never fails. */
static inline void spool_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* Loads a little-endian u32 from p; never fails. */
static inline uint32_t spool_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads exactly len bytes at off. Returns 0, or -1 on a short read or error. */
int spool_pread(int fd, void *buf, size_t len, int64_t off);

/* Writes len bytes at off through sp's io table. Returns the bytes written
 * (less than len on an error, with *err set to errno; ENOSPC for a write
 * that made no progress without one). */
size_t spool_pwrite(const coll_spool *sp, int fd, const void *buf, size_t len, int64_t off,
                    int *err);

/* Returns 1 if err means "no space" (retried in place), 0 otherwise. */
int spool_err_is_space(int err);

/* Creates dir and its parents. Returns 0, or -1 with errno set. */
int spool_mkdirs(const char *dir);

/* Allocates a segment of gen with header hdr, in no file yet; NULL on
 * allocation failure or an oversized header. */
spool_seg *spool_seg_new(const coll_spool *sp, uint64_t gen, const char *hdr);

/* Frees a segment, closing its file; NULL is a no-op. */
void spool_seg_free(spool_seg *f);

/* Returns the bytes of the first k framed records of mem (at most len),
 * and in *whole (if not NULL) how many whole records that is. */
size_t spool_frames_span(const unsigned char *mem, size_t len, int64_t k, int64_t *whole);

/* Scans a file of an earlier run into a sealed segment; NULL if unusable
 * (logged). Damage is logged and counted in sp->damaged. */
spool_seg *spool_file_scan(coll_spool *sp, const char *path, uint64_t gen, int index);

/* Creates f's file with its header. Returns 0, or an errno value (nothing
 * is left on disk). */
int spool_seg_create(coll_spool *sp, spool_seg *f);

/* Returns the offset of record k of f, or -1 if the file part is unreadable. */
int64_t spool_seg_offset_of(const spool_seg *f, int64_t k);

/* Rewrites what sealed segment i still holds unacknowledged under its own
 * name (a temporary file renamed over it). Returns 0, or -1 (logged). */
int spool_seg_rewrite(coll_spool *sp, int i);

#endif

/* spool.c: the on-disk FIFO of hits that Redis has not acknowledged — the
 * queue of segments, writing and what it does when the disk refuses,
 * reading and acknowledging (see spool.h; a segment's file: spool_file.c). */
#include "spool.h"
#include "spool_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

/* Returns the wall-clock time in µs, for file gens; never fails. */
static uint64_t gen_now(coll_spool *sp)
{
    uint64_t gen = (uint64_t)sys_now_us();
    if (gen <= sp->last_gen)
        gen = sp->last_gen + 1;
    sp->last_gen = gen;
    return gen;
}

/* ---------------------------------------------------------------- segments */

/* Inserts f at position i of the list. Returns 0, or -1 on allocation failure. */
static int segs_insert(coll_spool *sp, int i, spool_seg *f)
{
    if (sp->nsegs == sp->capsegs) {
        int ncap = sp->capsegs ? sp->capsegs * 2 : 8;
        spool_seg **n = realloc(sp->segs, (size_t)ncap * sizeof *n);
        if (!n)
            return -1;
        sp->segs = n;
        sp->capsegs = ncap;
    }
    memmove(sp->segs + i + 1, sp->segs + i, (size_t)(sp->nsegs - i) * sizeof *sp->segs);
    sp->segs[i] = f;
    sp->nsegs++;
    if (sp->rseg > i || (sp->rseg == i && i < sp->nsegs - 1))
        sp->rseg++;
    return 0;
}

/* Appends a + b (framed records, n of them) to f's memory tail. Returns 0,
 * or -1 on allocation failure (nothing is added). */
static int seg_mem_add(coll_spool *sp, spool_seg *f, const unsigned char *a, size_t alen,
                       const unsigned char *b, size_t blen, int64_t n)
{
    size_t len = alen + blen;
    if (f->mlen + len > f->mcap) {
        size_t ncap = f->mcap ? f->mcap * 2 : SPOOL_FLUSH_AT * 2;
        while (ncap < f->mlen + len)
            ncap *= 2;
        unsigned char *m = realloc(f->mem, ncap);
        if (!m)
            return -1;
        f->mem = m;
        f->mcap = ncap;
    }
    memcpy(f->mem + f->mlen, a, alen);
    if (blen)
        memcpy(f->mem + f->mlen + alen, b, blen);
    f->mlen += len;
    f->mrecs += n;
    f->records += n;
    sp->mem_bytes += (int64_t)len;
    sp->mem_records += n;
    return 0;
}

/* Deletes segment i from the list and its file from disk, keeping the
 * reader consistent; never fails (an unlink error is logged). */
static void segs_remove(coll_spool *sp, int i)
{
    spool_seg *f = sp->segs[i];
    if (f->created && !f->deleted) {
        if (unlink(f->path) < 0 && errno != ENOENT)
            sys_error("spool: cannot delete file", "file=%s err=\"%s\"", f->path,
                        strerror(errno));
        sp->disk_bytes -= f->size;
    }
    sp->mem_bytes -= (int64_t)f->mlen;
    sp->mem_records -= f->mrecs;
    if (sp->wf == f)
        sp->wf = NULL;
    memmove(sp->segs + i, sp->segs + i + 1, (size_t)(sp->nsegs - i - 1) * sizeof *sp->segs);
    sp->nsegs--;
    if (sp->rseg > i)
        sp->rseg--;
    else if (sp->rseg == i)
        sp->roff = -1;
    sp->full = 0;
    spool_seg_free(f);
}

/* Finds the list index of segment gen. Returns -1 if it is gone. */
static int seg_index(const coll_spool *sp, uint64_t gen)
{
    for (int i = 0; i < sp->nsegs; i++)
        if (sp->segs[i]->gen == gen)
            return i;
    return -1;
}

/* Starts a segment at the end that takes appends. Returns it, or NULL. */
static spool_seg *seg_start_tail(coll_spool *sp, const char *hdr)
{
    spool_seg *f = spool_seg_new(sp, gen_now(sp), hdr);
    if (!f || segs_insert(sp, sp->nsegs, f) < 0) {
        spool_seg_free(f);
        return NULL;
    }
    sp->wf = f;
    return f;
}

/* Seals f: nothing more is written to its file, and the records of its
 * memory tail the reader has not reached move to a new segment after it
 * (which takes appends from now on). Never fails: on allocation failure
 * the tail stays with f, held in memory. */
static void seg_seal(coll_spool *sp, spool_seg *f)
{
    f->sealed = 1;
    if (sp->wf != f)
        return;
    sp->wf = NULL;
    int64_t in_file = f->records - f->mrecs;
    int64_t unread_mem = f->records - (f->read > in_file ? f->read : in_file);
    if (unread_mem <= 0)
        return;
    size_t from = spool_frames_span(f->mem, f->mlen, f->mrecs - unread_mem, NULL);
    spool_seg *g = seg_start_tail(sp, f->hdr);
    if (!g)
        return;
    size_t len = f->mlen - from;
    sp->mem_bytes -= (int64_t)len;
    sp->mem_records -= unread_mem;
    if (seg_mem_add(sp, g, f->mem + from, len, NULL, 0, unread_mem) < 0) {
        sp->mem_bytes += (int64_t)len;
        sp->mem_records += unread_mem;
        return;
    }
    f->mlen = from;
    f->mrecs -= unread_mem;
    f->records -= unread_mem;
}

/* Orders segments by gen for qsort. */
static int seg_cmp(const void *a, const void *b)
{
    const spool_seg *x = *(spool_seg *const *)a, *y = *(spool_seg *const *)b;
    return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* ---------------------------------------------------------------- open */

/* Opens the spool of one thread and indexes its files. Returns NULL (logged)
 * if the directory cannot be used. */
coll_spool *coll_spool_open(const char *dir, int index, int nthreads, int64_t max_bytes,
                            int64_t mem_max)
{
    coll_spool *sp = calloc(1, sizeof *sp);
    DIR *d = NULL;
    struct dirent *de;
    if (!sp)
        return NULL;
    snprintf(sp->dir, sizeof sp->dir, "%s", dir);
    sp->index = index;
    sp->nthreads = nthreads;
    sp->max_bytes = max_bytes;
    sp->mem_max = mem_max;
    sp->io = &spool_sys_io;
    sp->roff = -1;
    if (spool_mkdirs(dir) < 0 || !(d = opendir(dir))) {
        sys_error("spool: cannot use spool_dir", "spool_dir=%s err=\"%s\"", dir, strerror(errno));
        goto fail;
    }
    while ((de = readdir(d))) {
        int j, n = 0;
        uint64_t gen;
        char path[PATH_MAX];
        size_t dl = strlen(de->d_name);
        if (dl > 3 && strcmp(de->d_name + dl - 3, ".rw") == 0 &&
            strncmp(de->d_name, "spool-", 6) == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            unlink(path);   /* an interrupted rewrite: its original is still there */
            continue;
        }
        if (sscanf(de->d_name, "spool-%d-%" SCNx64 ".log%n", &j, &gen, &n) != 2 ||
            de->d_name[n] != 0 || j < 0 || j % nthreads != index)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        spool_seg *f = spool_file_scan(sp, path, gen, j);
        if (!f)
            continue;
        if (f->records == 0) {
            unlink(path);
            spool_seg_free(f);
            continue;
        }
        if (gen > sp->last_gen)
            sp->last_gen = gen;
        sp->disk_bytes += f->size;
        if (segs_insert(sp, sp->nsegs, f) < 0) {
            spool_seg_free(f);
            goto fail;
        }
    }
    closedir(d);
    d = NULL;
    if (sp->nsegs) {
        int64_t recs = 0;
        qsort(sp->segs, (size_t)sp->nsegs, sizeof *sp->segs, seg_cmp);
        for (int i = 0; i < sp->nsegs; i++)
            recs += sp->segs[i]->records;
        sys_info("spool: files to replay", "thread=%d files=%d records=%" PRId64
                   " bytes=%" PRId64, index, sp->nsegs, recs, sp->disk_bytes);
    }
    sp->rseg = 0;
    return sp;
fail:
    if (d)
        closedir(d);
    coll_spool_free(sp);
    return NULL;
}

/* Replaces the system calls the writer makes; never fails. */
void coll_spool_set_io(coll_spool *sp, const coll_spool_io *io)
{
    sp->io = io ? io : &spool_sys_io;
}

/* Writes what it can and frees the spool; NULL is a no-op. */
void coll_spool_free(coll_spool *sp)
{
    if (!sp)
        return;
    if (!sp->finished || sp->late)
        coll_spool_finish(sp);  /* also what was appended after a finish */
    for (int i = 0; i < sp->nsegs; i++)
        spool_seg_free(sp->segs[i]);
    free(sp->segs);
    free(sp);
}

/* ---------------------------------------------------------------- write */

/* Notes the outcome of a write attempt: the disk state, the back-off and
 * the log line of a change; never fails. */
static void disk_state(coll_spool *sp, int err, const char *path, int64_t now_ms)
{
    coll_spool_disk d = !err ? COLL_SPOOL_DISK_OK
                       : spool_err_is_space(err) ? COLL_SPOOL_DISK_FULL : COLL_SPOOL_DISK_ERROR;
    if (d == COLL_SPOOL_DISK_OK) {
        if (sp->disk != COLL_SPOOL_DISK_OK)
            sys_info("spool: writing again", "thread=%d records_in_memory=%" PRId64,
                       sp->index, sp->mem_records);
        sp->disk = d;
        sp->backoff_ms = 0;
        return;
    }
    if (sp->disk != d)
        sys_error("spool: write failed, holding hits in memory", "thread=%d file=%s "
                    "err=\"%s\" records_in_memory=%" PRId64 " memory_max=%" PRId64, sp->index,
                    path, strerror(err), sp->mem_records, sp->mem_max);
    sp->disk = d;
    sp->backoff_ms = sp->backoff_ms ? sp->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (sp->backoff_ms > BACKOFF_MAX_MS)
        sp->backoff_ms = BACKOFF_MAX_MS;
    sp->retry_at = now_ms + sp->backoff_ms;
}

/* Writes f's memory tail to its file. A short write keeps the records that
 * did not fully reach the file in memory and cuts the partial one off the
 * file; a file that cannot be cut back, or fails with an error other than
 * "no space", is sealed. Returns 0, or the errno value of the failure. */
static int seg_write(coll_spool *sp, spool_seg *f)
{
    int err = 0;
    if (!f->created && (err = spool_seg_create(sp, f)) != 0)
        return err;
    if (f->mlen == 0)
        return 0;
    size_t done = spool_pwrite(sp, f->fd, f->mem, f->mlen, f->size, &err);
    int64_t k;
    size_t whole = spool_frames_span(f->mem, done, INT64_MAX, &k);
    if (done > whole && sp->io->ftruncate(f->fd, (off_t)(f->size + (int64_t)whole)) < 0) {
        int terr = errno;
        sys_error("spool: cannot cut a partial record off the file, sealing it",
                    "file=%s offset=%" PRId64 " err=\"%s\"", f->path, f->size + (int64_t)whole,
                    strerror(terr));
        sp->damaged++;
        if (!err)
            err = terr;
        f->sealed = 1;
    }
    if (whole) {
        memmove(f->mem, f->mem + whole, f->mlen - whole);
        f->mlen -= whole;
        f->mrecs -= k;
        f->size += (int64_t)whole;
        f->dirty = 1;
        sp->mem_bytes -= (int64_t)whole;
        sp->mem_records -= k;
        sp->disk_bytes += (int64_t)whole;
        sp->written += k;
    }
    if (err && (!spool_err_is_space(err) || f->sealed)) {
        if (!spool_err_is_space(err))
            sp->damaged++;
        seg_seal(sp, f);
    }
    return err;
}

/* Seals every open file that was deleted underneath (its records stay
 * readable through the descriptor, held, and are rewritten at exit); never
 * fails. */
static void check_deleted(coll_spool *sp)
{
    struct stat st;
    for (int i = 0; i < sp->nsegs; i++) {
        spool_seg *f = sp->segs[i];
        if (!f->created || f->deleted || f->fd < 0 || fstat(f->fd, &st) < 0 || st.st_nlink > 0)
            continue;
        f->deleted = 1;
        sp->disk_bytes -= f->size;
        sp->damaged++;
        sys_error("spool: file deleted while in use; its hits are replayed from the open file "
                  "and rewritten at exit", "file=%s records=%" PRId64, f->path,
                  f->records - f->mrecs - f->acked > 0 ? f->records - f->mrecs - f->acked : 0);
        seg_seal(sp, f);
    }
}

/* Removes sealed segments left with nothing to read or acknowledge (a
 * file whose whole tail moved on); never fails. */
static void drop_empty(coll_spool *sp)
{
    for (int i = 0; i < sp->nsegs;) {
        spool_seg *f = sp->segs[i];
        if (f->sealed && f != sp->wf && f->records == f->acked && f->read >= f->records)
            segs_remove(sp, i);
        else
            i++;
    }
}

/* Writes every unwritten memory tail (back-off permitting). Returns 0, or
 * -1 if records remain in memory. */
int coll_spool_flush(coll_spool *sp, int sync, int64_t now_ms)
{
    int err = 0;
    const char *path = "";
    check_deleted(sp);
    if (sp->disk != COLL_SPOOL_DISK_OK && now_ms < sp->retry_at)
        return -1;
    int tried = 0;
    for (int i = 0; i < sp->nsegs && !err; i++) {
        spool_seg *f = sp->segs[i];
        if (f->sealed || (f->mlen == 0 && f->created))
            continue;
        tried = 1;
        path = f->path;
        err = seg_write(sp, f);
    }
    for (int i = 0, write_err = err; i < sp->nsegs && sync && !write_err; i++) {
        spool_seg *f = sp->segs[i];
        if (!f->dirty || f->sealed || f->fd < 0)
            continue;
        if (sp->io->fdatasync(f->fd) < 0) {
            int serr = errno;
            sys_error("spool: fdatasync failed, sealing the file", "file=%s err=\"%s\"",
                      f->path, strerror(serr));
            sp->damaged++;
            f->unsynced = 1;
            seg_seal(sp, f);
            path = f->path;
            err = serr;
            continue;   /* the other files are still synced */
        }
        f->dirty = 0;
    }
    drop_empty(sp);
    if (tried || err || sp->disk != COLL_SPOOL_DISK_OK)
        disk_state(sp, err, path, now_ms);
    for (int i = 0; i < sp->nsegs; i++)
        if (!sp->segs[i]->sealed && sp->segs[i]->mlen)
            return -1;
    return err ? -1 : 0;
}

/* Appends one framed record to the memory tail of the segment taking
 * appends. Returns COLL_SPOOL_OK or a refusal. */
int coll_spool_append(coll_spool *sp, const unsigned char *rec, size_t len, const char *hdr,
                      int64_t now_ms)
{
    unsigned char frame[8];
    if (len == 0 || len > COLL_SPOOL_REC_MAX)
        return COLL_SPOOL_BAD;
    int64_t need = 8 + (int64_t)len + (sp->wf ? 0 : SPOOL_PRE + (int64_t)strlen(hdr));
    if (sp->disk_bytes + sp->mem_bytes + need > sp->max_bytes) {
        sp->full = 1;
        return COLL_SPOOL_FULL;
    }
    if (sp->disk != COLL_SPOOL_DISK_OK && sp->mem_records >= sp->mem_max)
        return COLL_SPOOL_NOROOM;
    if (!sp->wf && !seg_start_tail(sp, hdr))
        return COLL_SPOOL_BAD;
    spool_put32(frame, (uint32_t)len);
    spool_put32(frame + 4, coll_crc32(rec, len));
    if (seg_mem_add(sp, sp->wf, frame, 8, rec, len, 1) < 0)
        return COLL_SPOOL_BAD;
    sp->full = 0;
    sp->late = sp->finished;
    if (sp->disk == COLL_SPOOL_DISK_OK && sp->wf->mlen >= SPOOL_FLUSH_AT)
        coll_spool_flush(sp, 0, now_ms);
    return COLL_SPOOL_OK;
}

/* ---------------------------------------------------------------- finish */

/* Last writes before exit. Returns the records in no file (logged). */
int64_t coll_spool_finish(coll_spool *sp)
{
    int64_t lost = 0;
    sp->finished = 1;
    sp->late = 0;
    /* a failure seals a file and moves its tail to a new one: try that too */
    for (int attempt = 0; attempt < 3; attempt++) {
        sp->retry_at = 0;
        if (coll_spool_flush(sp, 1, 0) == 0)
            break;
    }
    for (int i = 0; i < sp->nsegs; i++) {
        spool_seg *f = sp->segs[i];
        if (f->sealed && f->records > f->acked && (f->deleted || f->mlen || f->unsynced))
            spool_seg_rewrite(sp, i);
    }
    for (int i = 0; i < sp->nsegs; i++) {
        spool_seg *f = sp->segs[i];
        struct stat st;
        int64_t unacked = f->records - f->acked;
        int gone = f->created && !f->deleted && f->fd < 0 && stat(f->path, &st) < 0 &&
                   errno == ENOENT;
        if (gone)
            sys_error("spool: file deleted by someone else, its hits are lost", "file=%s "
                      "records=%" PRId64, f->path, unacked);
        lost += f->deleted || gone ? unacked : unacked < f->mrecs ? unacked : f->mrecs;
    }
    if (lost)
        sys_error("spool: hits in no file at exit, lost", "thread=%d records=%" PRId64
                  " disk=%s", sp->index, lost, coll_spool_disk_name(sp->disk));
    return lost;
}

/* ---------------------------------------------------------------- read */

/* Drops the unread records of f's file part (unreadable) and moves the
 * reader to its memory tail; they count as lost. Never fails. */
static void skip_file_part(coll_spool *sp, spool_seg *f, const char *why)
{
    int64_t n = f->records - f->mrecs - f->read;
    sys_error("spool: records unreadable on replay, skipped", "file=%s offset=%" PRId64
                " records=%" PRId64 " why=\"%s\"", f->path, sp->roff, n, why);
    sp->lost += n;
    sp->damaged++;
    f->records -= n;
    sp->roff = f->size;
}

/* Reads the next record. Returns 1 with the record, or 0 if none is left. */
int coll_spool_read(coll_spool *sp, unsigned char *buf, size_t cap, size_t *len,
                    coll_spool_pos *pos, const char **hdr)
{
    unsigned char frame[8];
    while (sp->rseg < sp->nsegs) {
        spool_seg *f = sp->segs[sp->rseg];
        if (f->read >= f->records) {
            if (f == sp->wf)
                return 0;
            if (f->acked >= f->records) {
                segs_remove(sp, sp->rseg);  /* skipped records left it empty */
                continue;
            }
            if (f->fd >= 0 && f->sealed && !f->deleted) {
                close(f->fd);
                f->fd = -1;
            }
            sp->rseg++;
            sp->roff = -1;
            continue;
        }
        if (sp->roff < 0 && f->read > 0) {
            /* part read and acknowledged (a prepend or a rewind put the
             * reader back here): its next record is past them */
            if (f->fd < 0 && f->created && !f->deleted)
                f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
            int64_t in_file = f->records - f->mrecs;
            sp->roff = f->read < in_file ? spool_seg_offset_of(f, f->read)
                     : f->size + (int64_t)spool_frames_span(f->mem, f->mlen, f->read - in_file, NULL);
            if (sp->roff < 0) {
                skip_file_part(sp, f, "cannot find the next record");
                continue;
            }
        }
        if (sp->roff < 0)
            sp->roff = f->data_off;
        uint32_t n;
        if (f->read < f->records - f->mrecs) {  /* in the file */
            if (f->fd < 0 && (f->deleted ||
                              (f->fd = open(f->path, O_RDONLY | O_CLOEXEC)) < 0)) {
                skip_file_part(sp, f, f->deleted ? "file deleted" : strerror(errno));
                continue;
            }
            if (spool_pread(f->fd, frame, 8, sp->roff) < 0 || (n = spool_get32(frame)) == 0 ||
                n > cap || n > COLL_SPOOL_REC_MAX || sp->roff + 8 + n > f->size ||
                spool_pread(f->fd, buf, n, sp->roff + 8) < 0 ||
                coll_crc32(buf, n) != spool_get32(frame + 4)) {
                skip_file_part(sp, f, "short read or crc mismatch");
                continue;
            }
        } else {                                /* in memory */
            if (sp->roff < f->size)
                sp->roff = f->size;
            const unsigned char *m = f->mem + (sp->roff - f->size);
            n = spool_get32(m);
            if (n > cap)
                return 0;   /* cap < COLL_SPOOL_REC_MAX: the caller's mistake */
            memcpy(buf, m + 8, n);
        }
        pos->file = f->gen;
        pos->off = sp->roff;
        *len = n;
        if (hdr)
            *hdr = f->hdr;
        sp->roff += 8 + n;
        f->read++;
        return 1;
    }
    return 0;
}

/* Marks a record acknowledged, deleting its segment once all of it is;
 * never fails. */
void coll_spool_ack(coll_spool *sp, const coll_spool_pos *pos)
{
    int i = seg_index(sp, pos->file);
    if (i < 0)
        return;
    spool_seg *f = sp->segs[i];
    f->acked++;
    if (f->acked >= f->records && f->read >= f->records)
        segs_remove(sp, i);
}

/* Puts back the record just read at pos; never fails (a pos that is not
 * the reader's last record is ignored). */
void coll_spool_unread(coll_spool *sp, const coll_spool_pos *pos)
{
    if (sp->rseg >= sp->nsegs || sp->segs[sp->rseg]->gen != pos->file ||
        sp->segs[sp->rseg]->read == 0)
        return;
    sp->roff = pos->off;
    sp->segs[sp->rseg]->read--;
}

/* Moves the reader back to pos; never fails (an unknown pos is ignored). */
void coll_spool_rewind(coll_spool *sp, const coll_spool_pos *pos)
{
    int i = seg_index(sp, pos->file);
    if (i < 0)
        return;
    sp->rseg = i;
    sp->roff = pos->off;
    sp->segs[i]->read = sp->segs[i]->acked;
    for (int j = i + 1; j < sp->nsegs; j++)
        sp->segs[j]->read = sp->segs[j]->acked = 0;
}

/* Places n records in a new segment ahead of all others, points the reader
 * at it and tries to write it. Returns 0, or -1 when out of memory. */
int coll_spool_prepend(coll_spool *sp, const char *hdr, const unsigned char *const recs[],
                       const size_t lens[], size_t n, int64_t now_ms)
{
    unsigned char frame[8];
    uint64_t gen = sp->nsegs ? sp->segs[0]->gen - 1 : gen_now(sp);
    spool_seg *f = spool_seg_new(sp, gen, hdr);
    if (!f)
        return -1;
    for (size_t i = 0; i < n; i++) {
        spool_put32(frame, (uint32_t)lens[i]);
        spool_put32(frame + 4, coll_crc32(recs[i], lens[i]));
        if (seg_mem_add(sp, f, frame, 8, recs[i], lens[i], 1) < 0)
            goto fail;
    }
    if (segs_insert(sp, 0, f) < 0)
        goto fail;
    for (int j = 1; j < sp->nsegs; j++)
        sp->segs[j]->read = sp->segs[j]->acked;
    sp->rseg = 0;
    sp->roff = -1;
    if (sp->disk == COLL_SPOOL_DISK_OK || now_ms >= sp->retry_at) {
        int err = seg_write(sp, f);
        disk_state(sp, err, f->path, now_ms);
    }
    return 0;
fail:
    sp->mem_bytes -= (int64_t)f->mlen;
    sp->mem_records -= f->mrecs;
    spool_seg_free(f);
    return -1;
}

/* ---------------------------------------------------------------- state */

/* Returns 1 if a segment takes appends, else 0. */
int coll_spool_writing(const coll_spool *sp)
{
    return sp->wf != NULL;
}

/* Returns 1 if nothing waits in the spool, else 0. */
int coll_spool_empty(const coll_spool *sp)
{
    return sp->nsegs == 0;
}

/* Returns 1 if n records of up to len bytes would be taken now, else 0. */
int coll_spool_room(const coll_spool *sp, int64_t n, size_t len)
{
    int64_t need = n * (8 + (int64_t)len) + (sp->wf ? 0 : SPOOL_PRE + COLL_SPOOL_HDR_MAX);
    if (sp->disk_bytes + sp->mem_bytes + need > sp->max_bytes)
        return 0;
    return sp->disk == COLL_SPOOL_DISK_OK || sp->mem_records + n <= sp->mem_max;
}

/* Fills st with the spool's counts; never fails. */
void coll_spool_stats_get(const coll_spool *sp, coll_spool_stats *st)
{
    memset(st, 0, sizeof *st);
    for (int i = 0; i < sp->nsegs; i++) {
        const spool_seg *f = sp->segs[i];
        int64_t unacked = f->records - f->acked;
        int64_t in_mem = unacked < f->mrecs ? unacked : f->mrecs;
        st->records += unacked;
        if (f->deleted)
            st->held += unacked;
        else if (f->sealed || sp->disk != COLL_SPOOL_DISK_OK)
            st->held += in_mem;
    }
    st->disk_bytes = sp->disk_bytes;
    st->mem_bytes = sp->mem_bytes;
    st->written = sp->written;
    st->lost = sp->lost;
    st->damaged = sp->damaged;
    st->disk = sp->disk;
    st->full = sp->full;
}

/* Returns the disk condition's name; never fails. */
const char *coll_spool_disk_name(coll_spool_disk d)
{
    switch (d) {
    case COLL_SPOOL_DISK_OK: return "ok";
    case COLL_SPOOL_DISK_FULL: return "disk_full";
    case COLL_SPOOL_DISK_ERROR: return "disk_error";
    }
    return "?";
}

/* Calls fn with each segment's header text, oldest first; never fails. */
void coll_spool_each_header(const coll_spool *sp, void (*fn)(void *arg, const char *hdr),
                            void *arg)
{
    for (int i = 0; i < sp->nsegs; i++)
        fn(arg, sp->segs[i]->hdr);
}

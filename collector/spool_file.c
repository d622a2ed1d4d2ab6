/* spool_file.c: a spool segment's file — the format (magic, header, CRC32
 * framed records), scanning a file left by an earlier run, creating one,
 * rewriting a damaged one — and the system calls behind them. */
#include "spool_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* Fills the CRC32 table once; never fails. */
static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* Returns the CRC32 (IEEE) of buf; never fails. */
uint32_t coll_crc32(const unsigned char *buf, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    /* once for every thread's spool: a table half filled by another
     * thread framed records with wrong CRCs, dropped at replay */
    pthread_once(&crc_once, crc_init);
    for (size_t i = 0; i < len; i++)
        c = crc_table[(c ^ buf[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* open(2) with a fixed arity, for the io table. */
static int sys_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

const coll_spool_io spool_sys_io = {sys_open, pwrite, ftruncate, fdatasync};

/* Reads exactly len bytes at off. Returns 0, or -1 on a short read or error. */
int spool_pread(int fd, void *buf, size_t len, int64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + (int64_t)got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* Writes len bytes at off through the io table. Returns the bytes written
 * (less than len on an error, with *err set to errno; ENOSPC for a write
 * that made no progress without one). */
size_t spool_pwrite(const coll_spool *sp, int fd, const void *buf, size_t len, int64_t off,
                         int *err)
{
    size_t done = 0;
    *err = 0;
    while (done < len) {
        ssize_t n = sp->io->pwrite(fd, (const char *)buf + done, len - done,
                                   (off_t)(off + (int64_t)done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *err = n < 0 ? errno : ENOSPC;
            break;
        }
        done += (size_t)n;
    }
    return done;
}

/* Returns 1 if err means "no space" (retried in place), 0 for other errors. */
int spool_err_is_space(int err)
{
    return err == ENOSPC || err == EDQUOT || err == EFBIG;
}

/* Creates dir and its parents. Returns 0, or -1 with errno set. */
int spool_mkdirs(const char *dir)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

/* Frees one segment (closing its file); NULL is a no-op. */
void spool_seg_free(spool_seg *f)
{
    if (!f)
        return;
    if (f->fd >= 0)
        close(f->fd);
    free(f->hdr);
    free(f->mem);
    free(f);
}

/* Allocates a segment of gen with header hdr, not yet in any file.
 * Returns NULL on allocation failure or an oversized header. */
spool_seg *spool_seg_new(const coll_spool *sp, uint64_t gen, const char *hdr)
{
    size_t hlen = strlen(hdr);
    spool_seg *f = calloc(1, sizeof *f);
    if (!f || hlen > COLL_SPOOL_HDR_MAX || !(f->hdr = strdup(hdr))) {
        free(f);
        return NULL;
    }
    f->gen = gen;
    f->index = sp->index;
    f->fd = -1;
    f->size = f->data_off = (int64_t)(SPOOL_PRE + hlen);
    snprintf(f->path, sizeof f->path, "%s/spool-%d-%016" PRIx64 ".log", sp->dir, sp->index, gen);
    return f;
}

/* Returns the bytes of the first k framed records of mem (at most len). */
size_t spool_frames_span(const unsigned char *mem, size_t len, int64_t k, int64_t *whole)
{
    size_t off = 0;
    int64_t n = 0;
    while (n < k && off + 8 <= len) {
        size_t l = spool_get32(mem + off);
        if (off + 8 + l > len)
            break;
        off += 8 + l;
        n++;
    }
    if (whole)
        *whole = n;
    return off;
}

/* Reads a file's header and counts its valid records, logging a torn or
 * corrupt tail. Returns the segment, or NULL if the file is unusable (logged). */
spool_seg *spool_file_scan(coll_spool *sp, const char *path, uint64_t gen, int index)
{
    unsigned char pre[SPOOL_PRE], frame[8];
    unsigned char *rec = NULL;
    struct stat st;
    spool_seg *f = calloc(1, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!f || fd < 0 || fstat(fd, &st) < 0) {
        sys_error("spool: cannot open file", "file=%s err=\"%s\"", path, strerror(errno));
        goto fail;
    }
    snprintf(f->path, sizeof f->path, "%s", path);
    f->fd = -1;
    f->gen = gen;
    f->index = index;
    f->created = 1;
    f->sealed = 1;      /* files of an earlier run are read, never written */
    f->size = st.st_size;
    if (spool_pread(fd, pre, SPOOL_PRE, 0) < 0 || memcmp(pre, SPOOL_MAGIC, 8) != 0) {
        sys_error("spool: bad file header, file ignored", "file=%s", path);
        goto fail;
    }
    uint32_t hlen = spool_get32(pre + 8);
    if (hlen > COLL_SPOOL_HDR_MAX || !(f->hdr = malloc(hlen + 1)) ||
        spool_pread(fd, f->hdr, hlen, SPOOL_PRE) < 0 ||
        coll_crc32((unsigned char *)f->hdr, hlen) != spool_get32(pre + 12)) {
        sys_error("spool: bad file header, file ignored", "file=%s", path);
        goto fail;
    }
    f->hdr[hlen] = 0;
    f->data_off = SPOOL_PRE + hlen;
    if (!(rec = malloc(COLL_SPOOL_REC_MAX)))
        goto fail;
    int64_t off = f->data_off;
    while (off < f->size) {
        const char *why = NULL;
        uint32_t len = 0;
        if (off + 8 > f->size || spool_pread(fd, frame, 8, off) < 0)
            why = "torn frame";
        else if ((len = spool_get32(frame)) == 0 || len > COLL_SPOOL_REC_MAX)
            why = "bad length";
        else if (off + 8 + len > f->size || spool_pread(fd, rec, len, off + 8) < 0)
            why = "torn record";
        else if (coll_crc32(rec, len) != spool_get32(frame + 4))
            why = "crc mismatch";
        if (why) {
            sys_warn("spool: torn or corrupt tail skipped", "file=%s offset=%" PRId64
                       " kept_records=%" PRId64 " skipped_bytes=%" PRId64 " why=\"%s\"",
                       path, off, f->records, f->size - off, why);
            sp->damaged++;
            f->size = off;  /* what is past the damage is never read */
            break;
        }
        off += 8 + len;
        f->records++;
    }
    free(rec);
    close(fd);
    return f;
fail:
    free(rec);
    if (fd >= 0)
        close(fd);
    spool_seg_free(f);
    return NULL;
}

/* Checks that dir takes a new file. Returns 0, or -1 (logged). */
int coll_spool_probe(const char *dir)
{
    char path[PATH_MAX];
    int fd = -1;
    if (spool_mkdirs(dir) == 0) {
        snprintf(path, sizeof path, "%s/.probe-%ld", dir, (long)getpid());
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    }
    if (fd < 0) {
        sys_error("spool_dir is not writable", "spool_dir=%s err=\"%s\"", dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(path);
    return 0;
}

/* Creates f's file with its header. Returns 0, or an errno value (nothing
 * is left on disk). */
int spool_seg_create(coll_spool *sp, spool_seg *f)
{
    unsigned char pre[SPOOL_PRE];
    size_t hlen = (size_t)(f->data_off - SPOOL_PRE);
    int err = 0;
    if (spool_mkdirs(sp->dir) < 0)  /* the directory may have been removed */
        return errno;
    f->fd = sp->io->open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (f->fd < 0)
        return errno;
    memcpy(pre, SPOOL_MAGIC, 8);
    spool_put32(pre + 8, (uint32_t)hlen);
    spool_put32(pre + 12, coll_crc32((const unsigned char *)f->hdr, hlen));
    if (spool_pwrite(sp, f->fd, pre, SPOOL_PRE, 0, &err) < SPOOL_PRE ||
        spool_pwrite(sp, f->fd, f->hdr, hlen, SPOOL_PRE, &err) < hlen) {
        close(f->fd);
        f->fd = -1;
        unlink(f->path);
        return err;
    }
    f->created = 1;
    f->dirty = 1;
    sp->disk_bytes += f->data_off;
    return 0;
}

/* Returns the offset of record k of f, walking its frames; -1 if the file
 * part cannot be read. */
int64_t spool_seg_offset_of(const spool_seg *f, int64_t k)
{
    unsigned char frame[8];
    int64_t off = f->data_off, n = 0, in_file = f->records - f->mrecs;
    for (; n < k && n < in_file; n++) {
        uint32_t len;
        if (f->fd < 0 || spool_pread(f->fd, frame, 8, off) < 0 || (len = spool_get32(frame)) == 0 ||
            len > COLL_SPOOL_REC_MAX || off + 8 + len > f->size)
            return -1;
        off += 8 + len;
    }
    if (n < k)
        off = f->size + (int64_t)spool_frames_span(f->mem, f->mlen, k - n, NULL);
    return off <= f->size + (int64_t)f->mlen ? off : -1;
}

/* Rewrites the unacknowledged records of sealed segment i into a fresh,
 * synced file under the same name (written beside it, then renamed over
 * it, so a crash leaves one or the other). Returns 0, or -1 (logged). */
int spool_seg_rewrite(coll_spool *sp, int i)
{
    spool_seg *f = sp->segs[i];
    unsigned char buf[65536], pre[SPOOL_PRE];
    char tmp[PATH_MAX + 8];
    int err = 0, fd = -1;
    size_t hlen = (size_t)(f->data_off - SPOOL_PRE);
    int64_t size = f->data_off;
    if (f->fd < 0 && f->created && !f->deleted)
        f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
    int64_t from = spool_seg_offset_of(f, f->acked);
    if (from < 0 || (from < f->size && f->fd < 0)) {
        err = EIO;
        goto fail;
    }
    snprintf(tmp, sizeof tmp, "%s.rw", f->path);
    if (spool_mkdirs(sp->dir) < 0 ||
        (fd = sp->io->open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640)) < 0) {
        err = errno;
        goto fail;
    }
    memcpy(pre, SPOOL_MAGIC, 8);
    spool_put32(pre + 8, (uint32_t)hlen);
    spool_put32(pre + 12, coll_crc32((const unsigned char *)f->hdr, hlen));
    if (spool_pwrite(sp, fd, pre, SPOOL_PRE, 0, &err) < SPOOL_PRE ||
        spool_pwrite(sp, fd, f->hdr, hlen, SPOOL_PRE, &err) < hlen)
        goto fail;
    for (int64_t off = from; off < f->size;) {
        size_t n = (size_t)(f->size - off) < sizeof buf ? (size_t)(f->size - off) : sizeof buf;
        if (spool_pread(f->fd, buf, n, off) < 0) {
            err = EIO;
            goto fail;
        }
        if (spool_pwrite(sp, fd, buf, n, size, &err) < n)
            goto fail;
        size += (int64_t)n;
        off += (int64_t)n;
    }
    if (f->mlen) {
        size_t skip = from > f->size ? (size_t)(from - f->size) : 0;
        if (spool_pwrite(sp, fd, f->mem + skip, f->mlen - skip, size, &err) < f->mlen - skip)
            goto fail;
        size += (int64_t)(f->mlen - skip);
    }
    if (sp->io->fdatasync(fd) < 0 || rename(tmp, f->path) < 0) {
        err = errno;
        goto fail;
    }
    sys_info("spool: damaged file rewritten", "file=%s records=%" PRId64, f->path,
             f->records - f->acked);
    if (f->created && !f->deleted)
        sp->disk_bytes -= f->size;
    sp->disk_bytes += size;
    sp->mem_bytes -= (int64_t)f->mlen;
    sp->mem_records -= f->mrecs;
    if (f->fd >= 0)
        close(f->fd);
    f->fd = fd;
    f->records -= f->acked;
    f->acked = f->read = 0;
    f->mrecs = 0;
    f->mlen = 0;
    f->size = size;
    f->created = 1;
    f->deleted = f->unsynced = f->dirty = 0;
    if (sp->rseg == i)
        sp->roff = -1;
    return 0;
fail:
    sys_error("spool: cannot rewrite a damaged file", "file=%s err=\"%s\"", f->path,
              strerror(err ? err : EIO));
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    return -1;
}

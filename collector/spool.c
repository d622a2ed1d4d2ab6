/* spool.c: the on-disk FIFO of hits that Redis has not acknowledged. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define SPOOL_MAGIC "AGSPOOL1"
#define SPOOL_PRE 16            /* magic, header length, header crc */
#define SPOOL_FLUSH_AT 65536    /* buffered bytes that force a write */

typedef struct {
    uint64_t gen;
    int index;
    char path[PATH_MAX];
    char *hdr;
    int64_t size;       /* bytes on disk */
    int64_t data_off;   /* first record */
    int64_t records;    /* valid records (on disk and buffered) */
    int64_t read;       /* records handed to the reader */
    int64_t acked;      /* records acknowledged */
} spool_file;

struct coll_spool {
    char dir[1024];
    int index, nthreads;
    int64_t max_bytes;
    spool_file **files;     /* oldest first */
    int nfiles, capfiles;
    int rfile;              /* file the reader is in */
    int rfd;                /* its descriptor, -1 if none */
    uint64_t rgen;          /* gen rfd belongs to */
    int64_t roff;           /* -1: the start of files[rfile] */
    spool_file *wf;         /* file being written, NULL if none */
    int wfd;
    unsigned char *wbuf;
    size_t wlen, wcap;
    uint64_t last_gen;
    int64_t bytes;
    int io_error_logged;
};

/* ---------------------------------------------------------------- crc32 */

static uint32_t crc_table[256];

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
    if (!crc_table[1])
        crc_init();
    for (size_t i = 0; i < len; i++)
        c = crc_table[(c ^ buf[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

/* Stores v little-endian at p; never fails. */
static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* Loads a little-endian u32 from p; never fails. */
static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads exactly len bytes at off. Returns 0, or -1 on a short read or error. */
static int pread_full(int fd, void *buf, size_t len, int64_t off)
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

/* ---------------------------------------------------------------- files */

/* Frees one file entry; NULL is a no-op. */
static void file_free(spool_file *f)
{
    if (!f)
        return;
    free(f->hdr);
    free(f);
}

/* Reads a file's header and counts its valid records, logging a torn or
 * corrupt tail. Returns the entry, or NULL if the file is unusable (logged). */
static spool_file *file_scan(const char *path, uint64_t gen, int index)
{
    unsigned char pre[SPOOL_PRE], frame[8];
    unsigned char *rec = NULL;
    struct stat st;
    spool_file *f = calloc(1, sizeof *f);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!f || fd < 0 || fstat(fd, &st) < 0) {
        proto_error("spool: cannot open file", "file=%s err=\"%s\"", path, strerror(errno));
        goto fail;
    }
    snprintf(f->path, sizeof f->path, "%s", path);
    f->gen = gen;
    f->index = index;
    f->size = st.st_size;
    if (pread_full(fd, pre, SPOOL_PRE, 0) < 0 || memcmp(pre, SPOOL_MAGIC, 8) != 0) {
        proto_error("spool: bad file header, file ignored", "file=%s", path);
        goto fail;
    }
    uint32_t hlen = get32(pre + 8);
    if (hlen > COLL_SPOOL_HDR_MAX || !(f->hdr = malloc(hlen + 1)) ||
        pread_full(fd, f->hdr, hlen, SPOOL_PRE) < 0 ||
        coll_crc32((unsigned char *)f->hdr, hlen) != get32(pre + 12)) {
        proto_error("spool: bad file header, file ignored", "file=%s", path);
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
        if (off + 8 > f->size || pread_full(fd, frame, 8, off) < 0)
            why = "torn frame";
        else if ((len = get32(frame)) == 0 || len > COLL_SPOOL_REC_MAX)
            why = "bad length";
        else if (off + 8 + len > f->size || pread_full(fd, rec, len, off + 8) < 0)
            why = "torn record";
        else if (coll_crc32(rec, len) != get32(frame + 4))
            why = "crc mismatch";
        if (why) {
            proto_warn("spool: torn or corrupt tail skipped", "file=%s offset=%" PRId64
                       " kept_records=%" PRId64 " skipped_bytes=%" PRId64 " why=\"%s\"",
                       path, off, f->records, f->size - off, why);
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
    file_free(f);
    return NULL;
}

/* Orders files by gen for qsort. */
static int file_cmp(const void *a, const void *b)
{
    const spool_file *x = *(spool_file *const *)a, *y = *(spool_file *const *)b;
    return x->gen < y->gen ? -1 : x->gen > y->gen;
}

/* Appends f to the file list. Returns 0, or -1 on allocation failure. */
static int files_push(coll_spool *sp, spool_file *f)
{
    if (sp->nfiles == sp->capfiles) {
        int ncap = sp->capfiles ? sp->capfiles * 2 : 8;
        spool_file **n = realloc(sp->files, (size_t)ncap * sizeof *n);
        if (!n)
            return -1;
        sp->files = n;
        sp->capfiles = ncap;
    }
    sp->files[sp->nfiles++] = f;
    return 0;
}

/* Deletes file i from disk and the list, keeping the reader consistent;
 * never fails (an unlink error is logged). */
static void files_remove(coll_spool *sp, int i)
{
    spool_file *f = sp->files[i];
    if (unlink(f->path) < 0 && errno != ENOENT)
        proto_error("spool: cannot delete file", "file=%s err=\"%s\"", f->path, strerror(errno));
    sp->bytes -= f->size;
    if (sp->wf == f) {
        close(sp->wfd);
        sp->wfd = -1;
        sp->wf = NULL;
    }
    if (sp->rfd >= 0 && sp->rgen == f->gen) {
        close(sp->rfd);
        sp->rfd = -1;
    }
    memmove(sp->files + i, sp->files + i + 1, (size_t)(sp->nfiles - i - 1) * sizeof *sp->files);
    sp->nfiles--;
    if (sp->rfile > i)
        sp->rfile--;
    else if (sp->rfile == i)
        sp->roff = -1;
    file_free(f);
}

/* ---------------------------------------------------------------- open */

/* Creates dir and its parents. Returns 0, or -1 with errno set. */
static int mkdirs(const char *dir)
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

/* Opens the spool of one thread and indexes its files. Returns NULL (logged)
 * if the directory cannot be used. */
coll_spool *coll_spool_open(const char *dir, int index, int nthreads, int64_t max_bytes)
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
    sp->rfd = sp->wfd = -1;
    if (mkdirs(dir) < 0 || !(d = opendir(dir))) {
        proto_error("spool: cannot use spool_dir", "spool_dir=%s err=\"%s\"", dir, strerror(errno));
        goto fail;
    }
    while ((de = readdir(d))) {
        int j, n = 0;
        uint64_t gen;
        char path[PATH_MAX];
        if (sscanf(de->d_name, "spool-%d-%" SCNx64 ".log%n", &j, &gen, &n) != 2 ||
            de->d_name[n] != 0 || j < 0 || j % nthreads != index)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        spool_file *f = file_scan(path, gen, j);
        if (!f)
            continue;
        if (f->records == 0) {
            unlink(path);
            file_free(f);
            continue;
        }
        if (gen > sp->last_gen)
            sp->last_gen = gen;
        sp->bytes += f->size;
        if (files_push(sp, f) < 0) {
            file_free(f);
            goto fail;
        }
    }
    closedir(d);
    d = NULL;
    if (sp->nfiles)
        qsort(sp->files, (size_t)sp->nfiles, sizeof *sp->files, file_cmp);
    if (sp->nfiles) {
        int64_t recs = 0;
        for (int i = 0; i < sp->nfiles; i++)
            recs += sp->files[i]->records;
        proto_info("spool: files to replay", "thread=%d files=%d records=%" PRId64
                   " bytes=%" PRId64, index, sp->nfiles, recs, sp->bytes);
    }
    sp->roff = -1;
    return sp;
fail:
    if (d)
        closedir(d);
    coll_spool_free(sp);
    return NULL;
}

/* Flushes, syncs and frees the spool; NULL is a no-op. */
void coll_spool_free(coll_spool *sp)
{
    if (!sp)
        return;
    if (sp->wf)
        coll_spool_flush(sp, 1);
    if (sp->wfd >= 0)
        close(sp->wfd);
    if (sp->rfd >= 0)
        close(sp->rfd);
    for (int i = 0; i < sp->nfiles; i++)
        file_free(sp->files[i]);
    free(sp->files);
    free(sp->wbuf);
    free(sp);
}

/* ---------------------------------------------------------------- write */

/* Starts a new file with header text hdr. Returns 0, or -1 (logged). */
static int writer_start(coll_spool *sp, const char *hdr)
{
    struct timespec ts;
    unsigned char pre[SPOOL_PRE];
    size_t hlen = strlen(hdr);
    spool_file *f = calloc(1, sizeof *f);
    if (!f || hlen > COLL_SPOOL_HDR_MAX || !(f->hdr = strdup(hdr)))
        goto fail;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t gen = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    if (gen <= sp->last_gen)
        gen = sp->last_gen + 1;
    sp->last_gen = gen;
    f->gen = gen;
    f->index = sp->index;
    snprintf(f->path, sizeof f->path, "%s/spool-%d-%016" PRIx64 ".log", sp->dir, sp->index, gen);
    sp->wfd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
    if (sp->wfd < 0) {
        proto_error("spool: cannot create file", "file=%s err=\"%s\"", f->path, strerror(errno));
        goto fail;
    }
    memcpy(pre, SPOOL_MAGIC, 8);
    put32(pre + 8, (uint32_t)hlen);
    put32(pre + 12, coll_crc32((const unsigned char *)hdr, hlen));
    if (write(sp->wfd, pre, SPOOL_PRE) != SPOOL_PRE ||
        write(sp->wfd, hdr, hlen) != (ssize_t)hlen) {
        proto_error("spool: cannot write file header", "file=%s err=\"%s\"", f->path,
                    strerror(errno));
        close(sp->wfd);
        sp->wfd = -1;
        unlink(f->path);
        goto fail;
    }
    f->size = f->data_off = (int64_t)(SPOOL_PRE + hlen);
    if (files_push(sp, f) < 0) {
        close(sp->wfd);
        sp->wfd = -1;
        unlink(f->path);
        goto fail;
    }
    sp->bytes += f->size;
    sp->wf = f;
    return 0;
fail:
    file_free(f);
    return -1;
}

/* Appends one framed record to the write buffer. Returns 0, -1 when full,
 * -2 on an I/O or allocation error. */
int coll_spool_append(coll_spool *sp, const unsigned char *rec, size_t len, const char *hdr)
{
    if (len == 0 || len > COLL_SPOOL_REC_MAX)
        return -2;
    if (sp->bytes + 8 + (int64_t)len + (sp->wf ? 0 : SPOOL_PRE + (int64_t)strlen(hdr)) >
        sp->max_bytes)
        return -1;
    if (!sp->wf && writer_start(sp, hdr) < 0)
        return -2;
    if (sp->wlen + 8 + len > sp->wcap) {
        size_t ncap = sp->wcap ? sp->wcap * 2 : SPOOL_FLUSH_AT * 2;
        while (ncap < sp->wlen + 8 + len)
            ncap *= 2;
        unsigned char *n = realloc(sp->wbuf, ncap);
        if (!n)
            return -2;
        sp->wbuf = n;
        sp->wcap = ncap;
    }
    put32(sp->wbuf + sp->wlen, (uint32_t)len);
    put32(sp->wbuf + sp->wlen + 4, coll_crc32(rec, len));
    memcpy(sp->wbuf + sp->wlen + 8, rec, len);
    sp->wlen += 8 + len;
    sp->wf->records++;
    sp->bytes += 8 + (int64_t)len;
    if (sp->wlen >= SPOOL_FLUSH_AT)
        coll_spool_flush(sp, 0);
    return 0;
}

/* Writes the buffer to the current file. Returns 0, or -1 on an I/O error
 * (logged once; the buffer is kept). */
int coll_spool_flush(coll_spool *sp, int sync)
{
    size_t done = 0;
    if (!sp->wf)
        return 0;
    while (done < sp->wlen) {
        ssize_t n = write(sp->wfd, sp->wbuf + done, sp->wlen - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!sp->io_error_logged)
                proto_error("spool: write failed", "file=%s err=\"%s\"", sp->wf->path,
                            strerror(errno));
            sp->io_error_logged = 1;
            memmove(sp->wbuf, sp->wbuf + done, sp->wlen - done);
            sp->wlen -= done;
            sp->wf->size += (int64_t)done;
            return -1;
        }
        done += (size_t)n;
    }
    sp->wf->size += (int64_t)sp->wlen;
    sp->wlen = 0;
    sp->io_error_logged = 0;
    if (sync && fdatasync(sp->wfd) < 0)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- read */

/* Reads the next record. Returns 1 with the record, or 0 if none is left. */
int coll_spool_read(coll_spool *sp, unsigned char *buf, size_t cap, size_t *len,
                    coll_spool_pos *pos, const char **hdr)
{
    unsigned char frame[8];
    while (sp->rfile < sp->nfiles) {
        spool_file *f = sp->files[sp->rfile];
        if (f->read >= f->records) {
            if (f == sp->wf)
                return 0;
            sp->rfile++;
            sp->roff = -1;
            continue;
        }
        if (sp->roff < 0)
            sp->roff = f->data_off;
        if (f == sp->wf && sp->roff >= f->size && coll_spool_flush(sp, 0) < 0)
            return 0;
        if (sp->rfd < 0 || sp->rgen != f->gen) {
            if (sp->rfd >= 0)
                close(sp->rfd);
            sp->rfd = open(f->path, O_RDONLY | O_CLOEXEC);
            sp->rgen = f->gen;
            if (sp->rfd < 0) {
                proto_error("spool: cannot read file, records lost", "file=%s records=%" PRId64
                            " err=\"%s\"", f->path, f->records - f->read, strerror(errno));
                f->records = f->read;
                continue;
            }
        }
        uint32_t n;
        if (pread_full(sp->rfd, frame, 8, sp->roff) < 0 || (n = get32(frame)) == 0 ||
            n > cap || pread_full(sp->rfd, buf, n, sp->roff + 8) < 0 ||
            coll_crc32(buf, n) != get32(frame + 4)) {
            proto_error("spool: record unreadable on replay, rest of file skipped",
                        "file=%s offset=%" PRId64 " records=%" PRId64, f->path, sp->roff,
                        f->records - f->read);
            f->records = f->read;
            continue;
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

/* Finds the list index of file gen. Returns -1 if it is gone. */
static int file_index(const coll_spool *sp, uint64_t gen)
{
    for (int i = 0; i < sp->nfiles; i++)
        if (sp->files[i]->gen == gen)
            return i;
    return -1;
}

/* Marks a record acknowledged, deleting its file once all of it is; never fails. */
void coll_spool_ack(coll_spool *sp, const coll_spool_pos *pos)
{
    int i = file_index(sp, pos->file);
    if (i < 0)
        return;
    spool_file *f = sp->files[i];
    f->acked++;
    if (f->acked >= f->records && f->read >= f->records && (f != sp->wf || sp->wlen == 0))
        files_remove(sp, i);
}

/* Puts back the record just read at pos; never fails (a pos that is not
 * the reader's last record is ignored). */
void coll_spool_unread(coll_spool *sp, const coll_spool_pos *pos)
{
    if (sp->rfile >= sp->nfiles || sp->files[sp->rfile]->gen != pos->file ||
        sp->files[sp->rfile]->read == 0)
        return;
    sp->roff = pos->off;
    sp->files[sp->rfile]->read--;
}

/* Moves the reader back to pos; never fails (an unknown pos is ignored). */
void coll_spool_rewind(coll_spool *sp, const coll_spool_pos *pos)
{
    int i = file_index(sp, pos->file);
    if (i < 0)
        return;
    sp->rfile = i;
    sp->roff = pos->off;
    sp->files[i]->read = sp->files[i]->acked;
    for (int j = i + 1; j < sp->nfiles; j++)
        sp->files[j]->read = sp->files[j]->acked = 0;
}

/* Returns 1 if nothing waits in the spool, else 0. */
int coll_spool_empty(const coll_spool *sp)
{
    return sp->nfiles == 0;
}

/* Returns the bytes held on disk and in the buffer. */
int64_t coll_spool_bytes(const coll_spool *sp)
{
    return sp->bytes;
}

/* Returns the records not yet acknowledged. */
int64_t coll_spool_records(const coll_spool *sp)
{
    int64_t n = 0;
    for (int i = 0; i < sp->nfiles; i++)
        n += sp->files[i]->records - sp->files[i]->acked;
    return n;
}

/* Calls fn with each file's header text, oldest first; never fails. */
void coll_spool_each_header(const coll_spool *sp, void (*fn)(void *arg, const char *hdr),
                            void *arg)
{
    for (int i = 0; i < sp->nfiles; i++)
        fn(arg, sp->files[i]->hdr);
}

/* Returns 1 if a file is open for appending, else 0. */
int coll_spool_writing(const coll_spool *sp)
{
    return sp->wf != NULL;
}

/* Writes records as a new, synced file ahead of all others and points the
 * reader at it. Returns 0, or -1 (logged; nothing is changed). */
int coll_spool_prepend(coll_spool *sp, const char *hdr, const unsigned char *const recs[],
                       const size_t lens[], size_t n)
{
    unsigned char pre[SPOOL_PRE], frame[8];
    size_t hlen = strlen(hdr);
    int fd = -1;
    spool_file *f = calloc(1, sizeof *f);
    if (!f || !(f->hdr = strdup(hdr)) || hlen > COLL_SPOOL_HDR_MAX)
        goto fail;
    if (sp->nfiles) {
        f->gen = sp->files[0]->gen - 1;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        f->gen = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
        if (f->gen <= sp->last_gen)
            f->gen = sp->last_gen + 1;
        sp->last_gen = f->gen;
    }
    f->index = sp->index;
    snprintf(f->path, sizeof f->path, "%s/spool-%d-%016" PRIx64 ".log", sp->dir, sp->index, f->gen);
    fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0)
        goto fail_io;
    memcpy(pre, SPOOL_MAGIC, 8);
    put32(pre + 8, (uint32_t)hlen);
    put32(pre + 12, coll_crc32((const unsigned char *)hdr, hlen));
    FILE *out = fdopen(fd, "w");
    if (!out)
        goto fail_io;
    fd = -1;
    fwrite(pre, 1, SPOOL_PRE, out);
    fwrite(hdr, 1, hlen, out);
    f->size = f->data_off = (int64_t)(SPOOL_PRE + hlen);
    for (size_t i = 0; i < n; i++) {
        put32(frame, (uint32_t)lens[i]);
        put32(frame + 4, coll_crc32(recs[i], lens[i]));
        fwrite(frame, 1, 8, out);
        fwrite(recs[i], 1, lens[i], out);
        f->size += 8 + (int64_t)lens[i];
    }
    f->records = (int64_t)n;
    if (fflush(out) != 0 || ferror(out)) { /* no fsync: the loop must not stall (SPEC 9 asks write each second) */
        fclose(out);
        unlink(f->path);
        goto fail_io;
    }
    fclose(out);
    if (files_push(sp, f) < 0) {
        unlink(f->path);
        goto fail;
    }
    memmove(sp->files + 1, sp->files, (size_t)(sp->nfiles - 1) * sizeof *sp->files);
    sp->files[0] = f;
    for (int j = 1; j < sp->nfiles; j++)
        sp->files[j]->read = sp->files[j]->acked;
    sp->rfile = 0;
    sp->roff = -1;
    sp->bytes += f->size;
    return 0;
fail_io:
    proto_error("spool: cannot write unacknowledged hits", "file=%s records=%zu err=\"%s\"",
                f ? f->path : "?", n, strerror(errno));
    if (fd >= 0)
        close(fd);
fail:
    file_free(f);
    return -1;
}

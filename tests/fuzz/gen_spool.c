/* gen_spool.c: writes seed spool files for fuzz_spool with the real spool
 * writer (coll_spool_append/flush) and real packed hits; run by
 * gen_corpus.py, not part of any build. Usage: gen_spool OUTDIR */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hit.h"
#include "log.h"
#include "spool.h"

/* Fills a hit with campaign c, event e and a few optional fields. */
static void make_hit(proto_hit *h, const char *c, const char *e, int i)
{
    proto_hit_init(h);
    snprintf(h->campaign, sizeof h->campaign, "%s", c);
    snprintf(h->event, sizeof h->event, "%s", e);
    snprintf(h->hid, sizeof h->hid, "1a2b3c4d.0-%d", i + 1);
    snprintf(h->ip, sizeof h->ip, "198.51.100.0");
    snprintf(h->ua, sizeof h->ua, "Mozilla/5.0 (X11; Linux x86_64)");
    h->ts = INT64_C(1700000000000) + i;
    h->via = i % 2 ? PROTO_VIA_BEACON : PROTO_VIA_PIXEL;
    if (!strcmp(e, "scroll"))
        h->depth = 50;
    if (!strcmp(e, "donate"))
        h->value = 2500;
    if (!strcmp(e, "signup"))
        snprintf(h->subject, sizeof h->subject, "crm-%d", 1000 + i);
    if (!strcmp(e, "click")) {
        snprintf(h->to, sizeof h->to, "https://example.org/petition?x=%d", i);
        h->via = PROTO_VIA_CLICK;
    }
}

/* Writes one spool of n hits into a fresh directory, then moves its file to
 * out/name. Returns 0 or -1. */
static int write_spool(const char *out, const char *name, int n, const char *hdr)
{
    static const char *events[] = {"open", "view", "click", "scroll", "signup", "donate"};
    char dir[] = "/tmp/agspoolgen-XXXXXX", path[4096];
    unsigned char buf[PROTO_HIT_PACKED_MAX];
    if (!mkdtemp(dir))
        return -1;
    coll_spool *sp = coll_spool_open(dir, 0, 1, INT64_C(1) << 30, 100000);
    if (!sp)
        return -1;
    for (int i = 0; i < n; i++) {
        proto_hit h;
        make_hit(&h, i % 3 ? "spring-appeal" : "gotv_2024", events[i % 6], i);
        size_t len = proto_hit_pack(&h, buf, sizeof buf);
        if (!len || coll_spool_append(sp, buf, len, hdr, 0) != COLL_SPOOL_OK)
            return -1;
    }
    coll_spool_flush(sp, 0, 0);
    coll_spool_free(sp);
    DIR *d = opendir(dir);
    struct dirent *de;
    int moved = -1;
    while (d && (de = readdir(d))) {
        if (strncmp(de->d_name, "spool-", 6) != 0)
            continue;
        char src[4096];
        snprintf(src, sizeof src, "%s/%s", dir, de->d_name);
        snprintf(path, sizeof path, "%s/%s", out, name);
        moved = rename(src, path);
    }
    if (d)
        closedir(d);
    rmdir(dir);
    return moved;
}

/* Writes the seed spool files into argv[1]. */
int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_spool OUTDIR\n");
        return 2;
    }
    sys_log_set_level("error");
    const char *hdr1 = "inst=1a2b3c4d.0 parts=1 ids=1700000000000-0";
    const char *hdr4 = "inst=deadbeef.3 parts=4 ids=1700000000000-0,1700000000001-5,0-0,"
                       "1699999999999-18446744073709551615";
    if (write_spool(argv[1], "one-record.spool", 1, hdr1) < 0 ||
        write_spool(argv[1], "six-records.spool", 6, hdr1) < 0 ||
        write_spool(argv[1], "four-partitions.spool", 12, hdr4) < 0 ||
        write_spool(argv[1], "empty-header.spool", 3, "") < 0 ||
        write_spool(argv[1], "many-records.spool", 40, hdr1) < 0) {
        fprintf(stderr, "gen_spool: failed\n");
        return 1;
    }
    return 0;
}

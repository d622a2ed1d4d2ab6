/* text.h: the text helpers every program shares — UTF-8 validation (one
 * table of lead bytes, streaming or a sequence at a time) and durations for
 * people; pure. */
#ifndef PROTO_TEXT_H
#define PROTO_TEXT_H

#include <stddef.h>

/* The state of a UTF-8 check fed one byte at a time; zero it to start. */
typedef struct {
    int need;           /* continuation bytes still expected */
    unsigned char lo;   /* allowed range of the next one (0: 0x80..0xBF) */
    unsigned char hi;
} proto_utf8;

/* Feeds byte b. Returns 0, or -1 on an invalid sequence (overlong,
 * surrogate, above U+10FFFF, stray continuation, 0xC0/0xC1/0xF5..0xFF). */
int proto_utf8_feed(proto_utf8 *st, unsigned char b);

/* Returns 1 if st ends between sequences (nothing is cut short). */
int proto_utf8_done(const proto_utf8 *st);

/* Returns the length of the valid UTF-8 sequence at p (at most n bytes
 * available; 1 for ASCII), or 0 if it is invalid or cut short. */
size_t proto_utf8_seq(const unsigned char *p, size_t n);

/* Duration styles. */
typedef enum {
    PROTO_DUR_COMPACT,  /* 45s, 4m12s, 1h03m, 2d05h (tables) */
    PROTO_DUR_WORDS,    /* 45 s, 17 min, 2 h 5 min, 3 d 4 h (messages to people) */
} proto_dur_style;

/* Writes secs (rounded to whole seconds; negative as 0) in style into buf;
 * returns buf. */
char *proto_fmt_duration(char *buf, size_t cap, double secs, proto_dur_style style);

#endif

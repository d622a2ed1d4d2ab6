/* text.c: UTF-8 validation and duration formatting; pure. */
#include "text.h"

#include <math.h>
#include <stdio.h>

/* Feeds one byte to the UTF-8 check. Returns 0, or -1 if invalid. */
int proto_utf8_feed(proto_utf8 *st, unsigned char b)
{
    unsigned char lo = st->lo ? st->lo : 0x80, hi = st->hi ? st->hi : 0xBF;
    if (st->need > 0) {
        if (b < lo || b > hi)
            return -1;
        st->need--;
        st->lo = st->hi = 0;
        return 0;
    }
    st->lo = st->hi = 0;
    if (b < 0x80)
        return 0;
    if (b >= 0xC2 && b <= 0xDF) {
        st->need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        st->need = 2;
        if (b == 0xE0)
            st->lo = 0xA0;          /* overlong */
        else if (b == 0xED)
            st->hi = 0x9F;          /* surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        st->need = 3;
        if (b == 0xF0)
            st->lo = 0x90;          /* overlong */
        else if (b == 0xF4)
            st->hi = 0x8F;          /* above U+10FFFF */
    } else {
        return -1;                  /* 0x80-0xC1, 0xF5-0xFF */
    }
    return 0;
}

/* Returns 1 if no sequence is cut short, else 0. */
int proto_utf8_done(const proto_utf8 *st)
{
    return st->need == 0;
}

/* Returns the length of the valid sequence at p, or 0; never fails. */
size_t proto_utf8_seq(const unsigned char *p, size_t n)
{
    proto_utf8 st = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        if (proto_utf8_feed(&st, p[i]) < 0)
            return 0;
        if (st.need == 0)
            return i + 1;
    }
    return 0;
}

/* Writes a duration for people; returns buf (never fails). */
char *proto_fmt_duration(char *buf, size_t cap, double secs, proto_dur_style style)
{
    long long s = secs > 0 ? llround(secs) : 0;
    if (style == PROTO_DUR_COMPACT) {
        if (s < 60)
            snprintf(buf, cap, "%llds", s);
        else if (s < 3600)
            snprintf(buf, cap, "%lldm%02llds", s / 60, s % 60);
        else if (s < 86400)
            snprintf(buf, cap, "%lldh%02lldm", s / 3600, s % 3600 / 60);
        else
            snprintf(buf, cap, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
    } else if (s < 60) {
        snprintf(buf, cap, "%lld s", s);
    } else if (s < 3600) {
        snprintf(buf, cap, "%lld min", s / 60);
    } else if (s < 86400 && s % 3600 / 60) {
        snprintf(buf, cap, "%lld h %lld min", s / 3600, s % 3600 / 60);
    } else if (s < 86400) {
        snprintf(buf, cap, "%lld h", s / 3600);
    } else if (s % 86400 / 3600) {
        snprintf(buf, cap, "%lld d %lld h", s / 86400, s % 86400 / 3600);
    } else {
        snprintf(buf, cap, "%lld d", s / 86400);
    }
    return buf;
}

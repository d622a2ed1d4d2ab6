/* schema.c: the built-in events, their classes and the fields and buckets
 * of the counters (SPEC 3); pure. */
#include "schema.h"

#include <stdio.h>
#include <string.h>

#include "keys.h"

static const char *const event_names[PROTO_EV_BUILTIN] = {
    [PROTO_EV_OPEN] = "open",       [PROTO_EV_VIEW] = "view",
    [PROTO_EV_CLICK] = "click",     [PROTO_EV_SCROLL] = "scroll",
    [PROTO_EV_SIGNUP] = "signup",   [PROTO_EV_DONATE] = "donate",
    [PROTO_EV_CONVERT] = "convert", [PROTO_EV_FOLLOWUP] = "followup",
};

static const int scroll_marks[PROTO_SCROLL_BUCKETS] = {25, 50, 75, 100};
static const char *const scroll_fields[PROTO_SCROLL_BUCKETS] = {"25", "50", "75", "100"};

static const int fl_bounds[PROTO_FL_BUCKETS] = {60, 300, 900, 3600, 14400, 86400};
static const char *const fl_fields[PROTO_FL_BUCKETS + 1] = {
    "le_60s", "le_300s", "le_900s", "le_3600s", "le_14400s", "le_86400s", "le_inf",
};

/* Returns a built-in event's name, NULL for custom; never fails. */
const char *proto_event_name(proto_event e)
{
    return e >= 0 && e < PROTO_EV_BUILTIN ? event_names[e] : NULL;
}

/* Returns the built-in event named name, or PROTO_EV_CUSTOM; never fails. */
proto_event proto_event_of(const char *name)
{
    for (int i = 0; i < PROTO_EV_BUILTIN; i++)
        if (strcmp(name, event_names[i]) == 0)
            return (proto_event)i;
    return PROTO_EV_CUSTOM;
}

/* Returns 1 for the reach events; never fails. */
int proto_event_reach(proto_event e)
{
    return e == PROTO_EV_OPEN || e == PROTO_EV_VIEW || e == PROTO_EV_CLICK;
}

/* Returns 1 for the action events; never fails. */
int proto_event_action(proto_event e)
{
    return e == PROTO_EV_SIGNUP || e == PROTO_EV_DONATE || e == PROTO_EV_CONVERT ||
           e == PROTO_EV_CUSTOM;
}

/* Writes an event's count field; returns its length, 0 if it does not fit. */
size_t proto_field_event(char *buf, size_t cap, const char *event, int human)
{
    int n = snprintf(buf, cap, "%s%s", human ? "" : PROTO_FIELD_MACHINE, event);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Returns 1 if field is a machine count; never fails. */
int proto_field_is_machine(const char *field)
{
    return strncmp(field, PROTO_FIELD_MACHINE, sizeof PROTO_FIELD_MACHINE - 1) == 0;
}

/* Writes an advocate's daily field. Returns its length, or 0. */
size_t proto_field_adv(char *buf, size_t cap, int click, const char *ref)
{
    int n = snprintf(buf, cap, "%s%s", click ? PROTO_FIELD_ADV_CLICK : PROTO_FIELD_ADV_ACTION, ref);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Returns 1 if field is one of the schema's own totals fields; never fails. */
int proto_field_builtin(const char *field)
{
    if (proto_field_is_machine(field) || strchr(field, ':'))   /* adv_click:<ref>: no event has ':' */
        return 1;
    return proto_event_of(field) != PROTO_EV_CUSTOM || !strcmp(field, PROTO_FIELD_VALUE) ||
           !strcmp(field, PROTO_FIELD_DUP) || !strcmp(field, PROTO_FIELD_ANON) ||
           !strcmp(field, PROTO_FIELD_UNVERIFIED) ||
           !strcmp(field, PROTO_FIELD_FIRST_TS) ||
           !strcmp(field, PROTO_FIELD_LAST_TS);
}

/* Writes a hit's unique element; returns its length, 0 if none or too long. */
size_t proto_uniq_elem(char *buf, size_t cap, const char *subject, const char *ip,
                       const char *ua)
{
    int n = 0;
    if (subject[0])
        n = snprintf(buf, cap, "s:%s", subject);
    else if (ip[0] || ua[0])
        n = snprintf(buf, cap, "a:%s|%s", ip, ua);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Returns scroll bucket i's depth; never fails. */
int proto_scroll_mark(int i)
{
    return scroll_marks[i];
}

/* Returns scroll bucket i's field; never fails. */
const char *proto_scroll_field(int i)
{
    return scroll_fields[i];
}

/* Returns latency bucket i's bound in seconds; never fails. */
int proto_fl_bound_s(int i)
{
    return fl_bounds[i];
}

/* Returns latency bucket i's field (le_inf past the last); never fails. */
const char *proto_fl_field(int i)
{
    return fl_fields[i];
}

/* ---------------------------------------------------------------- audiences */

int proto_aud_bit(proto_event e)
{
    switch (e) {
    case PROTO_EV_OPEN: return PROTO_AUD_OPEN;
    case PROTO_EV_VIEW: case PROTO_EV_SCROLL: return PROTO_AUD_VIEW;
    case PROTO_EV_CLICK: return PROTO_AUD_CLICK;
    case PROTO_EV_SIGNUP: return PROTO_AUD_SIGNUP;
    case PROTO_EV_DONATE: return PROTO_AUD_DONATE;
    case PROTO_EV_CONVERT: return PROTO_AUD_CONVERT;
    case PROTO_EV_FOLLOWUP: return PROTO_AUD_FOLLOWUP;
    case PROTO_EV_CUSTOM: return PROTO_AUD_CUSTOM;
    }
    return PROTO_AUD_CUSTOM;
}

unsigned proto_aud_bucket(const char *subject, size_t len)
{
    return (unsigned)(proto_hash64(subject, len) % PROTO_AUD_BUCKETS);
}

/* Parses a whole non-negative decimal of at most 12 digits at *p up to
 * stop or the end; advances *p past it. Returns 0 or -1. */
static int aud_num(const char **p, const char *end, long long *v)
{
    const char *s = *p;
    *v = 0;
    while (s < end && *s >= '0' && *s <= '9' && s - *p < 12)
        *v = *v * 10 + (*s++ - '0');
    if (s == *p)
        return -1;
    *p = s;
    return 0;
}

int proto_aud_parse(const char *text, size_t len, proto_aud *out)
{
    const char *p = text, *end = text + len;
    long long mask, delta;
    memset(out, 0, sizeof *out);
    if (aud_num(&p, end, &mask) < 0 || p == end || *p++ != '.' || aud_num(&p, end, &out->first_s) < 0 ||
        p == end || *p++ != '.' || aud_num(&p, end, &delta) < 0 || mask > 255)
        return -1;
    out->mask = (unsigned)mask;
    out->last_s = out->first_s + delta;
    if (p == end)
        return 0;
    if (*p++ != '.' || (size_t)(end - p) >= sizeof out->ref)
        return -1;
    memcpy(out->ref, p, (size_t)(end - p));
    out->ref[end - p] = '\0';
    return 0;
}

/* hook.c: inbound webhooks — the named hooks' configuration, the sources'
 * presets, and a verified payload turned into hits; no I/O (hook_auth.c
 * checks signatures). */
#include "hook.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hit_int.h"
#include "sign.h"

#define DAY_MS INT64_C(86400000)
#define HOOK_DEPTH 16           /* nesting a payload may have */

static const char *const source_names[] = {"", "hubspot", "actionnetwork", "listmonk", "generic"};
static const char *const part_names[PROTO_HP_COUNT] = {"kind", "id", "email", "ts", "value",
                                                       "key", "ref", "campaign"};

/* The fields of hook.<name>.<field>, documented (set_field parses them; a
 * unit test sets each with its example). */
const proto_hook_field_doc proto_hook_fields[] = {
    {"source", "source = generic", "hubspot | actionnetwork | listmonk | generic: where the payloads come from (required)"},
    {"secret", "secret = 0123456789abcdef", "the source's signing secret or token, 16+ characters (required)"},
    {"campaign", "campaign = spring", "the campaign every accepted item is counted in (required)"},
    {"subject", "subject = email", "id | email: what an item's subject is taken from (default: the source's)"},
    {"event", "event = signup", "the event of items that carry no kind (empty: such items are rejected)"},
    {"url", "url = https://pixel.example.org/api/hooks/crm", "the public URL HubSpot signs (default: base_url + the path)"},
    {"auth", "auth = bearer", "generic: hmac (a signature header) | bearer (Authorization: Bearer <secret>)"},
    {"header", "header = X-Signature", "generic: the HMAC's header (default X-Signature)"},
    {"ts_header", "ts_header = X-Timestamp", "generic: a timestamp header; the HMAC then signs \"<ts>.<body>\""},
    {"map.KIND", "map.call_logged = followup", "the event a source's kind KIND becomes, or ignore (at most 16 a hook)"},
    {"ptr.PART", "ptr.email = /contact/email", "generic: JSON pointers to an item's PART (kind, id, email, ts, value, key, ref, campaign; alternatives split by |)"},
    {NULL, NULL, NULL},
};

/* A source's defaults: pointers (alternatives split by '|', relative to the
 * item; for Action Network to the object inside its osdi:* member), the
 * subject it is counted by, and its event map. */
typedef struct {
    const char *ptr[PROTO_HP_COUNT];
    proto_hook_subj subject;
    const char *map[8][2];
} preset;

static const preset presets[] = {
    [PROTO_HOOK_HUBSPOT] = {
        .ptr = {[PROTO_HP_KIND] = "/subscriptionType",
                [PROTO_HP_ID] = "/objectId|/vid|/object/objectId",
                [PROTO_HP_EMAIL] = "/properties/email/value|/properties/email",
                [PROTO_HP_TS] = "/occurredAt",
                [PROTO_HP_KEY] = "/eventId"},
        .subject = PROTO_HOOK_SUBJ_ID,
        .map = {{"contact.creation", "signup"}}},
    [PROTO_HOOK_ACTIONNETWORK] = {
        .ptr = {[PROTO_HP_ID] = "/person/identifiers/0",
                [PROTO_HP_EMAIL] = "/person/email_addresses/0/address",
                [PROTO_HP_TS] = "/created_date",
                [PROTO_HP_VALUE] = "/amount|/recipients/0/amount",
                [PROTO_HP_KEY] = "/identifiers/0",
                [PROTO_HP_REF] = "/action_network:referrer_data/referrer"},
        .subject = PROTO_HOOK_SUBJ_EMAIL,
        .map = {{"osdi:submission", "signup"}, {"osdi:signature", "signup"},
                {"osdi:attendance", "signup"}, {"osdi:donation", "donate"}}},
    [PROTO_HOOK_LISTMONK] = {
        .ptr = {[PROTO_HP_KIND] = "/event",
                [PROTO_HP_ID] = "/data/subscriber/uuid|/data/uuid",
                [PROTO_HP_EMAIL] = "/data/subscriber/email|/data/email",
                [PROTO_HP_TS] = "/timestamp"},
        .subject = PROTO_HOOK_SUBJ_EMAIL,
        .map = {{"subscriber.created", "signup"}}},
};

/* Formats one line into err; always returns -1 (the failure). */
static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* Returns the name of a source; never fails. */
const char *proto_hook_source_name(proto_hook_source s)
{
    return (unsigned)s < sizeof source_names / sizeof *source_names ? source_names[s] : "";
}

/* Returns the hook called name (len bytes), or NULL. */
const proto_hook *proto_hook_find(const proto_hooks *hs, const char *name, size_t len)
{
    for (int i = 0; i < hs->n; i++)
        if (strlen(hs->h[i].name) == len && memcmp(hs->h[i].name, name, len) == 0)
            return &hs->h[i];
    return NULL;
}

/* Copies v into a field of cap bytes. Returns 0, or -1 if it does not fit. */
static int put(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n >= cap)
        return -1;
    memcpy(dst, v, n + 1);
    return 0;
}

/* Writes n bytes as 2n lower-case hex digits and a NUL at out; cannot fail. */
static void hex(char *out, const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = 0;
}

/* Checks a JSON pointer list: '/'-rooted alternatives split by '|'. Returns 0 or -1. */
static int valid_ptrs(const char *v)
{
    if (!*v)
        return 0;
    for (const char *p = v; *p;) {
        if (*p != '/')
            return -1;
        p += strcspn(p, "|");
        if (*p == '|')
            p++;
    }
    return 0;
}

/* Sets one field of hook h. Returns 0, or -1 with err. */
static int set_field(proto_hook *h, const char *key, const char *field, const char *v, char *err,
                     size_t cap)
{
    if (strcmp(field, "source") == 0) {
        for (int s = PROTO_HOOK_HUBSPOT; s <= PROTO_HOOK_GENERIC; s++)
            if (strcmp(v, source_names[s]) == 0) {
                h->source = (proto_hook_source)s;
                return 0;
            }
        return fail(err, cap, "config: hook.%s: must be hubspot, actionnetwork, listmonk or generic",
                    key);
    }
    if (strcmp(field, "secret") == 0)
        return put(h->secret, sizeof h->secret, v) ? fail(err, cap, "config: hook.%s: too long", key) : 0;
    if (strcmp(field, "campaign") == 0) {
        if (!proto_hit_valid_id(v, strlen(v), PROTO_CAMPAIGN_MAX))
            return fail(err, cap, "config: hook.%s: must be a campaign id ([A-Za-z0-9._-], 1-64)", key);
        return put(h->campaign, sizeof h->campaign, v);
    }
    if (strcmp(field, "subject") == 0) {
        if (strcmp(v, "id") && strcmp(v, "email"))
            return fail(err, cap, "config: hook.%s: must be id or email", key);
        h->subject = strcmp(v, "id") == 0 ? PROTO_HOOK_SUBJ_ID : PROTO_HOOK_SUBJ_EMAIL;
        return 0;
    }
    if (strcmp(field, "event") == 0) {
        if (!proto_hit_valid_event(v, strlen(v)))
            return fail(err, cap, "config: hook.%s: must be an event name ([a-z][a-z0-9_], 1-32)", key);
        return put(h->event, sizeof h->event, v);
    }
    if (strcmp(field, "url") == 0) {
        if (strncmp(v, "http://", 7) && strncmp(v, "https://", 8))
            return fail(err, cap, "config: hook.%s: must be an http:// or https:// URL", key);
        return put(h->url, sizeof h->url, v) ? fail(err, cap, "config: hook.%s: too long", key) : 0;
    }
    if (strcmp(field, "auth") == 0) {
        if (strcmp(v, "hmac") && strcmp(v, "bearer"))
            return fail(err, cap, "config: hook.%s: must be hmac or bearer", key);
        h->bearer = strcmp(v, "bearer") == 0;
        return 0;
    }
    if (strcmp(field, "header") == 0 || strcmp(field, "ts_header") == 0) {
        char *dst = field[0] == 'h' ? h->header : h->ts_header;
        for (const char *p = v; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
                return fail(err, cap, "config: hook.%s: must be a header name", key);
        return put(dst, sizeof h->header, v) ? fail(err, cap, "config: hook.%s: too long", key) : 0;
    }
    if (strncmp(field, "map.", 4) == 0) {
        const char *kind = field + 4;
        if (!*kind || strlen(kind) > PROTO_HOOK_KIND_MAX)
            return fail(err, cap, "config: hook.%s: the source's event kind must be 1-64 bytes", key);
        if (strcmp(v, "ignore") && !proto_hit_valid_event(v, strlen(v)))
            return fail(err, cap, "config: hook.%s: must be an event name or ignore", key);
        int i = 0;
        while (i < h->nmap && strcmp(h->map[i].kind, kind) != 0)
            i++;
        if (i == PROTO_HOOK_MAPS_MAX)
            return fail(err, cap, "config: hook.%s: more than 16 mappings in one hook", key);
        h->nmap += i == h->nmap;
        put(h->map[i].kind, sizeof h->map[i].kind, kind);
        put(h->map[i].event, sizeof h->map[i].event, v);
        return 0;
    }
    if (strncmp(field, "ptr.", 4) == 0) {
        for (int i = 0; i < PROTO_HP_COUNT; i++)
            if (strcmp(field + 4, part_names[i]) == 0) {
                if (valid_ptrs(v) < 0 || put(h->ptr[i], sizeof h->ptr[i], v) < 0)
                    return fail(err, cap, "config: hook.%s: must be JSON pointers (/a/0/b, alternatives split by |, 128 bytes)", key);
                return 0;
            }
        return fail(err, cap, "config: hook.%s: unknown pointer (kind, id, email, ts, value, key, ref, campaign)", key);
    }
    char known[256] = "";       /* the fields the documentation table lists */
    for (const proto_hook_field_doc *d = proto_hook_fields; d->field; d++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                 d == proto_hook_fields ? "" : ", ", d->field);
    return fail(err, cap, "config: hook.%s: unknown key (%s)", key, known);
}

/* Sets field "<name>.<field>" of the hook it names. Returns 0, or -1 with err. */
int proto_hook_conf_set(proto_hooks *hs, const char *key, const char *value, char *err, size_t cap)
{
    size_t nl = strcspn(key, ".");
    if (nl == 0 || nl > PROTO_HOOK_NAME_MAX || key[nl] != '.' || !key[nl + 1])
        return fail(err, cap, "config: hook.%s: want hook.<name>.<field>, name 1-32 of [a-z0-9_-]", key);
    for (size_t i = 0; i < nl; i++)
        if (!islower((unsigned char)key[i]) && !isdigit((unsigned char)key[i]) && key[i] != '_' &&
            key[i] != '-')
            return fail(err, cap, "config: hook.%s: a hook's name is 1-32 of [a-z0-9_-]", key);
    proto_hook *h = (proto_hook *)proto_hook_find(hs, key, nl);
    if (!h) {
        if (hs->n == PROTO_HOOKS_MAX)
            return fail(err, cap, "config: hook.%s: more than 16 hooks", key);
        h = &hs->h[hs->n++];
        memset(h, 0, sizeof *h);
        memcpy(h->name, key, nl);
    }
    return set_field(h, key, key + nl + 1, value, err, cap);
}

/* Checks every hook and fills its source's presets. Returns 0, or -1 with err. */
int proto_hook_conf_check(proto_hooks *hs, char *err, size_t cap)
{
    for (int i = 0; i < hs->n; i++) {
        proto_hook *h = &hs->h[i];
        if (h->source == PROTO_HOOK_NONE)
            return fail(err, cap, "config: hook.%s.source: missing (hubspot, actionnetwork, listmonk or generic)", h->name);
        if (strlen(h->secret) < 16)
            return fail(err, cap, "config: hook.%s.secret: missing or shorter than 16 characters", h->name);
        if (h->source == PROTO_HOOK_GENERIC) {
            if (!h->campaign[0] && !h->ptr[PROTO_HP_CAMPAIGN][0])
                return fail(err, cap, "config: hook.%s.campaign: missing (or set ptr.campaign)", h->name);
            if (!h->ptr[PROTO_HP_KIND][0] && !h->event[0])
                return fail(err, cap, "config: hook.%s.ptr.kind: missing (or set event)", h->name);
            if (!h->ptr[PROTO_HP_ID][0] && !h->ptr[PROTO_HP_EMAIL][0])
                return fail(err, cap, "config: hook.%s.ptr.id: missing (or set ptr.email)", h->name);
            if (!h->subject)
                h->subject = h->ptr[PROTO_HP_EMAIL][0] ? PROTO_HOOK_SUBJ_EMAIL : PROTO_HOOK_SUBJ_ID;
            if (!h->bearer && !h->header[0])
                put(h->header, sizeof h->header, "X-Signature");
        } else {
            const preset *p = &presets[h->source];
            if (!h->campaign[0])
                return fail(err, cap, "config: hook.%s.campaign: missing", h->name);
            for (int k = 0; k < PROTO_HP_COUNT; k++)
                if (!h->ptr[k][0] && p->ptr[k])
                    put(h->ptr[k], sizeof h->ptr[k], p->ptr[k]);
            if (!h->subject)
                h->subject = p->subject;
            for (int k = 0; k < 8 && p->map[k][0]; k++) {
                int j = 0;
                while (j < h->nmap && strcmp(h->map[j].kind, p->map[k][0]) != 0)
                    j++;
                if (j == h->nmap && h->nmap < PROTO_HOOK_MAPS_MAX) {
                    put(h->map[j].kind, sizeof h->map[j].kind, p->map[k][0]);
                    put(h->map[j].event, sizeof h->map[j].event, p->map[k][1]);
                    h->nmap++;
                }
            }
        }
        if (h->subject == PROTO_HOOK_SUBJ_ID && !h->ptr[PROTO_HP_ID][0])
            return fail(err, cap, "config: hook.%s.ptr.id: missing for subject = id", h->name);
        if (h->subject == PROTO_HOOK_SUBJ_EMAIL && !h->ptr[PROTO_HP_EMAIL][0])
            return fail(err, cap, "config: hook.%s.ptr.email: missing for subject = email", h->name);
    }
    return 0;
}

/* ---------------------------------------------------------------- values */

/* Follows one JSON pointer (p, n bytes) from root. Returns the value, or NULL. */
static const cJSON *ptr_one(const cJSON *root, const char *p, size_t n)
{
    const cJSON *cur = root;
    size_t i = 0;
    while (cur && i < n) {
        char tok[PROTO_HOOK_PTR_MAX + 1];
        size_t t = 0;
        i++;                                    /* the '/' */
        while (i < n && p[i] != '/' && t < PROTO_HOOK_PTR_MAX) {
            if (p[i] == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
                tok[t++] = p[i + 1] == '0' ? '~' : '/';
                i += 2;
            } else {
                tok[t++] = p[i++];
            }
        }
        tok[t] = 0;
        if (cJSON_IsArray(cur)) {
            char *end;
            long ix = strtol(tok, &end, 10);
            cur = t && !*end && ix >= 0 && isdigit((unsigned char)tok[0]) ? cJSON_GetArrayItem(cur, (int)ix) : NULL;
        } else if (cJSON_IsObject(cur)) {
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
        } else {
            cur = NULL;
        }
    }
    return cur;
}

/* Follows a pointer list (alternatives split by '|'): the first that names
 * a string or a number. Returns it, or NULL. */
static const cJSON *ptr_get(const cJSON *root, const char *ptrs)
{
    for (const char *p = ptrs; p && *p;) {
        size_t n = strcspn(p, "|");
        const cJSON *v = ptr_one(root, p, n);
        if (v && ((cJSON_IsString(v) && v->valuestring && *v->valuestring) || cJSON_IsNumber(v)))
            return v;
        p += n + (p[n] == '|');
    }
    return NULL;
}

/* Writes a string or an integral number as text into out (cap bytes).
 * Returns its length, or -1 (absent, another type, too long). */
static long text_of(const cJSON *v, char *out, size_t cap)
{
    if (!v)
        return -1;
    if (cJSON_IsString(v)) {
        size_t n = strlen(v->valuestring);
        if (n >= cap)
            return -1;
        memcpy(out, v->valuestring, n + 1);
        return (long)n;
    }
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || !(fabs(d) < 9007199254740992.0) || d != floor(d))
        return -1;
    int n = snprintf(out, cap, "%lld", (long long)d);
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* Returns days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly n digits at s. Returns their value, or -1. */
static int digits(const char *s, size_t len, size_t at, size_t n)
{
    int v = 0;
    if (at + n > len)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[at + i]))
            return -1;
        v = v * 10 + (s[at + i] - '0');
    }
    return v;
}

/* Parses an ISO 8601 UTC time into ms since the epoch. Returns 0, or -1. */
int proto_hook_iso_ms(const char *s, size_t len, int64_t *out)
{
    int y = digits(s, len, 0, 4), mo = digits(s, len, 5, 2), d = digits(s, len, 8, 2);
    int h = digits(s, len, 11, 2), mi = digits(s, len, 14, 2), se = digits(s, len, 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
        se < 0 || se > 60 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return -1;
    size_t i = 19;
    int64_t ms = 0;
    if (i < len && s[i] == '.') {
        int64_t scale = 100;
        if (++i >= len || !isdigit((unsigned char)s[i]))
            return -1;
        for (; i < len && isdigit((unsigned char)s[i]); i++, scale /= 10)
            ms += (s[i] - '0') * scale;
    }
    int64_t off = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int oh = digits(s, len, i + 1, 2), om = digits(s, len, i + 4, 2);
        if (oh < 0 || om < 0 || oh > 23 || om > 59 || s[i + 3] != ':')
            return -1;
        off = (s[i] == '+' ? 1 : -1) * ((int64_t)oh * 3600 + om * 60);
        i += 6;
    } else {
        return -1;
    }
    if (i != len)
        return -1;
    *out = ((days_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) - off) * 1000 + ms;
    return 0;
}

/* Reads an item's time: a number (seconds, or ms from 1e11 up), digits, or
 * an ISO 8601 string. Returns ms, or 0 if absent or unreadable. */
static int64_t time_of(const cJSON *v)
{
    char buf[64];
    int64_t ms = 0;
    long n = text_of(v, buf, sizeof buf);
    if (n <= 0)
        return 0;
    if (strspn(buf, "0123456789") == (size_t)n) {
        int64_t x = strtoll(buf, NULL, 10);
        return x >= INT64_C(100000000000) ? x : x * 1000;
    }
    return proto_hook_iso_ms(buf, (size_t)n, &ms) == 0 ? ms : 0;
}

/* Reads an amount in major units ("12.50", 12.5, 12) as minor units (×100,
 * rounded). Returns 0, or -1 if it is not a non-negative amount. */
static int amount_of(const cJSON *v, int64_t *out)
{
    double d;
    if (cJSON_IsNumber(v)) {
        d = v->valuedouble;
    } else {
        char *end;
        const char *s = v->valuestring;
        if (!isdigit((unsigned char)*s))
            return -1;
        d = strtod(s, &end);
        if (*end)
            return -1;
    }
    if (!(d >= 0) || d > 9e15)
        return -1;
    *out = (int64_t)llround(d * 100.0);
    return 0;
}

/* Writes the subject of an e-mail address. Returns its length, or -1. */
long proto_hook_subject(const char *email, size_t len, const char *key, char *out, size_t cap)
{
    char addr[PROTO_SUBJECT_MAX + 1];
    while (len && isspace((unsigned char)*email))
        email++, len--;
    while (len && isspace((unsigned char)email[len - 1]))
        len--;
    const char *at = memchr(email, '@', len);
    if (!len || len > PROTO_SUBJECT_MAX || !at || at == email || at == email + len - 1 ||
        memchr(at + 1, '@', len - (size_t)(at - email) - 1))
        return -1;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)email[i];
        if (c <= ' ' || c == 0x7f)
            return -1;
        addr[i] = (char)tolower(c);
    }
    addr[len] = 0;
    if (!key || !*key) {
        if (len >= cap)
            return -1;
        memcpy(out, addr, len + 1);
        return (long)len;
    }
    unsigned char mac[32];
    const void *parts[1] = {addr};
    size_t lens[1] = {len};
    if (cap < 33 || proto_sign_hmac(key, strlen(key), parts, lens, 1, mac) < 0)
        return -1;
    hex(out, mac, 16);
    return 32;
}

/* ---------------------------------------------------------------- items */

/* What one item is being turned into. */
typedef struct {
    const proto_hook *h;
    const char *delivery, *subject_key;
    int64_t now;
    int index;
    const char *why;
} item_ctx;

/* Writes the nonce of an item: "h" and 31 hex digits of SHA-256 over the
 * hook's name and the item's key (the source's id, the delivery id and
 * index, or the item itself). Returns 0, or -1. */
static int nonce_of(const item_ctx *x, const char *key, size_t klen, char out[PROTO_NONCE_MAX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(c, x->h->name, strlen(x->h->name) + 1) == 1 &&
             EVP_DigestUpdate(c, key, klen) == 1 && EVP_DigestFinal_ex(c, md, &mdlen) == 1;
    EVP_MD_CTX_free(c);
    if (!ok || mdlen < 16)
        return -1;
    out[0] = 'h';
    hex(out + 1, md, 16);
    out[32] = 0;        /* "h" and 31 digits, as nonces have always been */
    return 0;
}

/* Sets one hit parameter by its SPEC 2 name. Returns PROTO_OK or the reason. */
static proto_reason set(proto_hit *hit, unsigned *seen, const char *name, const char *v)
{
    return proto_hit_set(hit, seen, name, strlen(name), v, strlen(v));
}

/* Returns the event an item's kind maps to ("ignore" included), or NULL. */
static const char *event_for(const proto_hook *h, const char *kind)
{
    if (!kind)
        return h->event[0] ? h->event : NULL;
    for (int i = 0; i < h->nmap; i++)
        if (strcmp(h->map[i].kind, kind) == 0)
            return h->map[i].event;
    return NULL;
}

/* Fills hit from one item (data: the object the pointers apply to; kind:
 * the item's kind when the shape, not a pointer, says it; outer_key: an
 * idempotency key outside data). Returns PROTO_OK (with *ignored set for a
 * kind mapped to ignore), or the reason with x->why set. */
static proto_reason item_hit(item_ctx *x, const cJSON *item, const cJSON *data, const char *kind,
                             const char *outer_key, proto_hit *hit, int64_t *when, int *ignored)
{
    const proto_hook *h = x->h;
    char buf[PROTO_TO_MAX + 1], kbuf[PROTO_HOOK_KIND_MAX + 1], nonce[PROTO_NONCE_MAX + 1];
    unsigned seen = 0;
    proto_reason r;
    *when = 0;
    *ignored = 0;
    if (!kind && h->ptr[PROTO_HP_KIND][0] && text_of(ptr_get(data, h->ptr[PROTO_HP_KIND]), kbuf, sizeof kbuf) > 0)
        kind = kbuf;
    const char *ev = event_for(h, kind);
    if (!ev) {
        x->why = kind ? "the source's event kind has no mapping (hook.<name>.map.<kind>)"
                      : "the item has no event kind and the hook no event";
        return PROTO_ERR_UNMAPPED;
    }
    if (strcmp(ev, "ignore") == 0) {
        *ignored = 1;
        return PROTO_OK;
    }
    const char *camp = h->campaign;
    if (h->ptr[PROTO_HP_CAMPAIGN][0] && text_of(ptr_get(data, h->ptr[PROTO_HP_CAMPAIGN]), buf, PROTO_CAMPAIGN_MAX + 1) > 0)
        camp = buf;
    if ((r = set(hit, &seen, "c", camp)) != PROTO_OK || (r = set(hit, &seen, "e", ev)) != PROTO_OK) {
        x->why = r == PROTO_ERR_CAMPAIGN ? "the item's campaign is not a campaign id" : "bad event";
        return r;
    }
    long n;
    if (h->subject == PROTO_HOOK_SUBJ_EMAIL) {
        n = text_of(ptr_get(data, h->ptr[PROTO_HP_EMAIL]), buf, sizeof buf);
        if (n > 0 && (n = proto_hook_subject(buf, (size_t)n, x->subject_key, buf, sizeof buf)) < 0) {
            x->why = "the item's e-mail address is not one";
            return PROTO_ERR_SUBJECT;
        }
    } else {
        n = text_of(ptr_get(data, h->ptr[PROTO_HP_ID]), buf, sizeof buf);
    }
    if (n > 0 && (r = set(hit, &seen, "s", buf)) != PROTO_OK) {
        x->why = "the item's subject is not valid (printable, at most 128 bytes)";
        return r;
    }
    if (h->ptr[PROTO_HP_REF][0] && text_of(ptr_get(data, h->ptr[PROTO_HP_REF]), buf, PROTO_REF_MAX + 1) > 0 &&
        proto_hit_valid_id(buf, strlen(buf), PROTO_REF_MAX))
        set(hit, &seen, "ref", buf);   /* a referrer code that is not an id is left out */
    const cJSON *v = h->ptr[PROTO_HP_VALUE][0] ? ptr_get(data, h->ptr[PROTO_HP_VALUE]) : NULL;
    int64_t minor;
    if (v) {
        if (amount_of(v, &minor) < 0) {
            x->why = "the item's amount is not a non-negative number";
            return PROTO_ERR_VALUE;
        }
        hit->value = minor;
    }
    int64_t t = time_of(ptr_get(data, h->ptr[PROTO_HP_TS]));
    if (t > 0 && t < x->now - DAY_MS) {     /* past the nonces' memory: a replay would count again */
        x->why = "the item is more than 24 hours old (replays past the duplicate window are refused)";
        return PROTO_ERR_STALE;
    }
    if (t > 0 && t <= x->now + 60000)
        *when = t;
    /* the nonce: the source's id of the event, else its delivery and place, else the item */
    if (!outer_key && h->ptr[PROTO_HP_KEY][0] && text_of(ptr_get(data, h->ptr[PROTO_HP_KEY]), buf, 256) > 0)
        outer_key = buf;
    int rc;
    if (outer_key) {
        rc = nonce_of(x, outer_key, strlen(outer_key), nonce);
    } else if (x->delivery && *x->delivery) {
        char d[320];
        int dn = snprintf(d, sizeof d, "%.256s#%d", x->delivery, x->index);
        rc = nonce_of(x, d, (size_t)dn, nonce);
    } else {
        char *printed = cJSON_PrintUnformatted(item);
        rc = printed ? nonce_of(x, printed, strlen(printed), nonce) : -1;
        cJSON_free(printed);
    }
    if (rc < 0) {
        x->why = "out of memory";
        return PROTO_ERR_BODY;
    }
    return set(hit, &seen, "n", nonce);
}

/* Turns one array element (or the lone object) into a hit for cb. Returns cb's answer. */
static int one_item(item_ctx *x, const cJSON *item, proto_hook_cb cb, void *arg)
{
    proto_hit hit;
    const cJSON *data = item;
    const char *kind = NULL, *key = NULL;
    int64_t when = 0;
    int ignored = 0;
    proto_hit_init(&hit);
    x->why = NULL;
    if (x->h->source == PROTO_HOOK_ACTIONNETWORK) {
        /* {"osdi:signature": {…}, "idempotency_key": "…"}: the type is the member's name */
        data = NULL;
        for (const cJSON *m = item->child; m; m = m->next) {
            if (cJSON_IsObject(m) && m->string && strchr(m->string, ':') && !data) {
                data = m;
                kind = m->string;
            } else if (m->string && strcmp(m->string, "idempotency_key") == 0 && cJSON_IsString(m) &&
                       *m->valuestring) {
                key = m->valuestring;
            }
        }
        if (!data) {
            x->why = "the item has no osdi:* member";
            return cb(arg, x->index, &hit, PROTO_ERR_UNMAPPED, x->why, 0);
        }
    }
    proto_reason r = item_hit(x, item, data, kind, key, &hit, &when, &ignored);
    if (ignored)
        return cb(arg, x->index, NULL, PROTO_OK, "ignored", 0);
    return cb(arg, x->index, &hit, r, r == PROTO_OK ? NULL : x->why, when);
}

/* Turns a verified body into hits. Returns PROTO_OK, PROTO_ERR_JSON or PROTO_ERR_BATCH. */
proto_reason proto_hook_parse(const proto_hook *h, const char *body, size_t len,
                              const char *delivery, const char *subject_key, int64_t now_ms,
                              proto_hook_cb cb, void *arg)
{
    const char *end = NULL;
    proto_reason rc = PROTO_ERR_JSON;
    item_ctx x = {h, delivery, subject_key, now_ms, 0, NULL};
    if (!body || len == 0 || proto_hit_json_prescan(body, len, HOOK_DEPTH) < 0)
        return PROTO_ERR_JSON;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root || !end || end > body + len)
        goto done;
    for (const char *p = end; p < body + len; p++)
        if (!isspace((unsigned char)*p))
            goto done;
    if (cJSON_IsObject(root)) {
        rc = PROTO_OK;
        one_item(&x, root, cb, arg);
        goto done;
    }
    if (!cJSON_IsArray(root))
        goto done;
    int n = 0;
    for (const cJSON *it = root->child; it; it = it->next, n++)
        if (!cJSON_IsObject(it))
            goto done;
    if (n > PROTO_BATCH_MAX) {
        rc = PROTO_ERR_BATCH;
        goto done;
    }
    rc = PROTO_OK;
    for (const cJSON *it = root->child; it; it = it->next, x.index++)
        if (one_item(&x, it, cb, arg) != 0)
            break;
done:
    cJSON_Delete(root);
    return rc;
}

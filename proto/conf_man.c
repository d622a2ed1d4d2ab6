/* conf_man.c: the configuration keys as man(7) source, written from the one
 * table (conf.c) and the hook fields (hook.c) for actiongap.conf(5); no I/O. */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "conf.h"

/* Writes text escaped for man(7): a backslash as \e, a double quote as
 * \(dq, a dash that starts a word (an option) as \-, and \& before a
 * leading dot or quote; never fails (see b->oom). */
void proto_man_text(proto_buf *b, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char ch = text[i];
        char prev = i ? text[i - 1] : ' ';
        if (i == 0 && (ch == '.' || ch == '\''))
            proto_buf_printf(b, "\\&%c", ch);
        else if (ch == '\\')
            proto_buf_printf(b, "\\e");
        else if (ch == '"')
            proto_buf_printf(b, "\\(dq");
        else if (ch == '-' && (isspace((unsigned char)prev) || strchr("([|-", prev)))
            proto_buf_printf(b, "\\-");
        else
            proto_buf_printf(b, "%c", ch);
    }
}

/* Writes a NUL-terminated string escaped; never fails. */
static void man_str(proto_buf *b, const char *s)
{
    proto_man_text(b, s, strlen(s));
}

/* Writes a key's name with dashes (its flag) or upper-cased (its
 * environment variable); never fails. */
static void man_spelling(proto_buf *b, const char *key, int env)
{
    for (const char *p = key; *p; p++) {
        if (env)
            proto_buf_printf(b, "%c", (char)toupper((unsigned char)*p));
        else
            proto_buf_printf(b, "%s", *p == '_' ? "\\-" : (char[2]){*p, 0});
    }
}

/* Writes one key of the table as a .TP entry; never fails. */
static void man_key(proto_buf *b, const proto_conf_doc *d)
{
    proto_buf_printf(b, ".TP\n.BI \"%s = \" ", d->key);
    if (d->names) {
        proto_buf_printf(b, "\"");
        for (int i = 0; d->names[i]; i++)
            proto_buf_printf(b, "%s%s", i ? " | " : "", d->names[i]);
        proto_buf_printf(b, "\"\n");
    } else {
        proto_buf_printf(b, "\"");
        man_str(b, d->type);
        proto_buf_printf(b, "\"\n");
    }
    man_str(b, d->help);
    proto_buf_printf(b, ".\n.br\n");
    if (d->ranged)
        proto_buf_printf(b, "From %" PRId64 " to %" PRId64 ". ", d->min, d->max);
    if (*d->def) {
        proto_buf_printf(b, "Default: \\fB");
        man_str(b, d->def);
        proto_buf_printf(b, "\\fR. ");
    } else {
        proto_buf_printf(b, "Default: empty. ");
    }
    proto_buf_printf(b, "Flag \\fB\\-\\-");
    man_spelling(b, d->key, 0);
    proto_buf_printf(b, "\\fR, environment \\fBAG_");
    man_spelling(b, d->key, 1);
    proto_buf_printf(b, "\\fR.\n");
}

/* Writes a hook field's key, hook.NAME.<field>, its upper-case parts in
 * italics; never fails. */
static void man_hook_key(proto_buf *b, const char *field)
{
    proto_buf_printf(b, "\\fBhook.\\fINAME\\fB");
    for (const char *p = field; *p;) {
        size_t n = strcspn(p, ".");
        int upper = isupper((unsigned char)*p);
        proto_buf_printf(b, ".%s%.*s\\fB", upper ? "\\fI" : "", (int)n, p);
        p += n + (p[n] == '.');
    }
    proto_buf_printf(b, "\\fR\n");
}

/* Writes every key of the table, then the hook fields, as man(7) .TP
 * entries; never fails (see b->oom). */
void proto_conf_man(proto_buf *b)
{
    proto_conf_doc d;
    for (size_t i = 0; proto_conf_doc_at(i, &d) == 0; i++)
        man_key(b, &d);
    proto_buf_printf(b, ".SS \"Inbound hooks\"\n"
                        "Each hook is a group of keys \\fBhook.\\fINAME\\fB.\\fIFIELD\\fR "
                        "(file or flag, not the environment; at most 16 hooks, "
                        "\\fINAME\\fR 1\\-32 of [a\\-z0\\-9_\\-]); it answers "
                        "\\fBPOST /api/hooks/\\fINAME\\fR on the collector.\n");
    for (const proto_hook_field_doc *f = proto_hook_fields; f->field; f++) {
        proto_buf_printf(b, ".TP\n");
        man_hook_key(b, f->field);
        man_str(b, f->help);
        proto_buf_printf(b, ".\n.br\nFor example: \\fBhook.crm.");
        man_str(b, f->example);
        proto_buf_printf(b, "\\fR\n");
    }
}
